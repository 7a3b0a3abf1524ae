// Tensors made from uniforms alone (no input textures): Range, Fill, LinSpace.
// Float values follow TF's float32 arithmetic: start + float32(i) * step, the product rounded
// before the sum.  Compilers may contract that into one fused multiply-add (one rounding, a
// different result); laundering the product through its bits (xor with a uniform that is
// always 0) makes it opaque, so it is rounded on its own.
uniform int nofuse;
float rounded(float v) { return intBitsToFloat(floatBitsToInt(v) ^ nofuse); }

//@section range
uniform float fstart;
uniform float fstep;
uniform int istart;
uniform int istep;
OUT_SCALAR value(int c[OUT_R]) {
#if OUT_INT
    return istart + istep * c[0];       // the host checked that no value leaves int32
#else
    return fstart + rounded(float(c[0]) * fstep);
#endif
}

//@section fill
uniform float fval;
uniform int ival;
OUT_VEC compute(int c[OUT_R]) {
#if OUT_INT
    return ivec4(ival);
#else
    return vec4(fval);
#endif
}

//@section linspace
// num values from start to stop: start + i * step, the last one exactly stop (TF's kernel);
// a single value is start.
uniform float fstart;
uniform float fstop;
uniform float fstep;
uniform int num;
float value(int c[OUT_R]) {
    if (c[0] == num - 1 && num > 1) return fstop;
    return fstart + rounded(float(c[0]) * fstep);
}
