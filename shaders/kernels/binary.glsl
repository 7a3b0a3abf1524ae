// Element-wise binary ops with numpy broadcasting: inputs A and B are read at the
// output coordinates (broadcast dims have stride 0; a broadcast packed last dim is splat).
// A_INT is 1 for int32/bool operands (both operands share a dtype).
#if A_INT
#define ABV ivec4
#else
#define ABV vec4
#endif
OUT_VEC binary_op(ABV a, ABV b);
OUT_VEC compute(int c[OUT_R]) { return binary_op(A_texel(c), B_texel(c)); }

#if !A_INT
// NaN where either operand is NaN (GLSL's min/max/comparisons leave NaN undefined)
vec4 nan2(vec4 r, vec4 a, vec4 b) { return mix(r, vec4(NAN), or4(isnan(a), isnan(b))); }
#endif

//@section Add
ABV binary_op(ABV a, ABV b) { return a + b; }
//@section Sub
ABV binary_op(ABV a, ABV b) { return a - b; }
//@section Multiply
ABV binary_op(ABV a, ABV b) { return a * b; }
//@section RealDiv
#if A_INT
ivec4 binary_op(ivec4 a, ivec4 b) {   // C++ integer division (toward zero); x / 0 gives 0
    bvec4 bad = or4(equal(b, ivec4(0)), equal(b, ivec4(-1)));
    ivec4 q = a / select4(bad, ivec4(1), b);
    q = select4(equal(b, ivec4(-1)), -a, q);
    return select4(equal(b, ivec4(0)), ivec4(0), q);
}
#else
vec4 binary_op(vec4 a, vec4 b) { return a / b; }
#endif
//@section FloorDiv
#if A_INT
ivec4 binary_op(ivec4 a, ivec4 b) { return int_floordiv(a, b); }
#else
vec4 binary_op(vec4 a, vec4 b) { return floor(a / b); }
#endif
//@section FloorMod
#if A_INT
ivec4 binary_op(ivec4 a, ivec4 b) { return int_floormod(a, b); }
#else
vec4 binary_op(vec4 a, vec4 b) { return tf_floormod(a, b); }
#endif
//@section TruncateMod
// TF's Mod op (C fmod / %): the result takes the sign of a; x % 0 gives 0 for ints (TF raises)
#if A_INT
ivec4 binary_op(ivec4 a, ivec4 b) {
    bvec4 bad = or4(equal(b, ivec4(0)), equal(b, ivec4(-1)));
    ivec4 q = a / select4(bad, ivec4(1), b);
    return select4(bad, ivec4(0), a - q * b);
}
#else
vec4 binary_op(vec4 a, vec4 b) { return MAP4_2(tf_fmod1, a, b); }
#endif
//@section Pow
#if A_INT
ivec4 binary_op(ivec4 a, ivec4 b) { return int_pow(a, b); }
#else
vec4 binary_op(vec4 a, vec4 b) { return tf_pow(a, b); }
#endif
//@section Maximum
#if A_INT
ivec4 binary_op(ivec4 a, ivec4 b) { return max(a, b); }
#else
vec4 binary_op(vec4 a, vec4 b) { return nan2(max(a, b), a, b); }
#endif
//@section Minimum
#if A_INT
ivec4 binary_op(ivec4 a, ivec4 b) { return min(a, b); }
#else
vec4 binary_op(vec4 a, vec4 b) { return nan2(min(a, b), a, b); }
#endif
//@section SquaredDifference
ABV binary_op(ABV a, ABV b) { ABV d = a - b; return d * d; }
//@section Atan2
vec4 binary_op(vec4 a, vec4 b) { return tf_atan2(a, b); }
//@section DivNoNan
#if A_INT
ivec4 binary_op(ivec4 a, ivec4 b) {
    bvec4 bad = or4(equal(b, ivec4(0)), equal(b, ivec4(-1)));
    ivec4 q = a / select4(bad, ivec4(1), b);
    q = select4(equal(b, ivec4(-1)), -a, q);
    return select4(equal(b, ivec4(0)), ivec4(0), q);
}
#else
vec4 binary_op(vec4 a, vec4 b) { return mix(a / b, vec4(0.0), equal(b, vec4(0.0))); }
#endif
//@section Prelu
vec4 binary_op(vec4 a, vec4 b) { return mix(a, a * b, lessThan(a, vec4(0.0))); }
//@section Equal
ivec4 binary_op(ABV a, ABV b) { return ivec4(equal(a, b)); }
//@section NotEqual
ivec4 binary_op(ABV a, ABV b) { return ivec4(notEqual(a, b)); }
//@section Greater
ivec4 binary_op(ABV a, ABV b) { return ivec4(greaterThan(a, b)); }
//@section GreaterEqual
ivec4 binary_op(ABV a, ABV b) { return ivec4(greaterThanEqual(a, b)); }
//@section Less
ivec4 binary_op(ABV a, ABV b) { return ivec4(lessThan(a, b)); }
//@section LessEqual
ivec4 binary_op(ABV a, ABV b) { return ivec4(lessThanEqual(a, b)); }
//@section LogicalAnd
ivec4 binary_op(ivec4 a, ivec4 b) { return ivec4(notEqual(a, ivec4(0))) & ivec4(notEqual(b, ivec4(0))); }
//@section LogicalOr
ivec4 binary_op(ivec4 a, ivec4 b) { return ivec4(notEqual(a, ivec4(0))) | ivec4(notEqual(b, ivec4(0))); }
//@section BitwiseAnd
ivec4 binary_op(ivec4 a, ivec4 b) { return a & b; }
