// One input of a program, rendered once per input by gpu_backend/shader.py.
// $X: the input's name; $R: rank of the coordinates it is read with; $SAMPLER,
// $VEC, $SCALAR: its GLSL types; $SPLAT: ".xxxx" when its packed last dim is broadcast.

//@section decl
uniform $SAMPLER $X;
uniform int ${X}_shape[$R];         // logical shape as read (broadcast dims keep the input's size)

//@section pos_L
uniform ivec2 ${X}_str[$R];         // per dim (x, y) texel strides; 0 for broadcast dims
uniform ivec2 ${X}_off;
ivec2 ${X}_pos(int c[$R]) {
    ivec2 p = ${X}_off;
    for (int i = 0; i < $R; ++i) p += c[i] * ${X}_str[i];
    return p;
}
// Walking along one dimension without recomputing positions: p = X_advance(p, X_delta(dim)).
ivec2 ${X}_delta(int dim) { return ${X}_str[dim]; }
ivec2 ${X}_advance(ivec2 p, ivec2 d) { return p + d; }

//@section pos_F
uniform int ${X}_fstr[$R];          // per dim flat texel strides
uniform int ${X}_foff;
uniform int ${X}_w;                 // texture width
uniform float ${X}_wrcp;            // 1 / width
ivec2 ${X}_pos(int c[$R]) {
    int t = ${X}_foff;
    for (int i = 0; i < $R; ++i) t += c[i] * ${X}_fstr[i];
    int y = udiv(t, ${X}_w, ${X}_wrcp);
    return ivec2(t - y * ${X}_w, y);
}
ivec2 ${X}_delta(int dim) { return ivec2(${X}_fstr[dim] % ${X}_w, ${X}_fstr[dim] / ${X}_w); }
ivec2 ${X}_advance(ivec2 p, ivec2 d) {
    p += d;
    if (p.x >= ${X}_w) { p.x -= ${X}_w; p.y += 1; }
    return p;
}

//@section buffer
// A constant operand in a buffer texture (texels in the order the kernel walks them).
uniform $BSAMPLER $X;

//@section pos_frag
// Same layout as the output: the texel under this fragment.
ivec2 ${X}_pos(int c[$R]) { return frag_pos; }

//@section texel
// The texel at texel coordinates c (packed: c[last] counts groups of 4).
$VEC ${X}_texel(int c[$R]) { return texelFetch($X, ${X}_pos(c), 0)$SPLAT; }
$VEC ${X}_texel_at(ivec2 p) { return texelFetch($X, p, 0)$SPLAT; }

//@section elem_packed
// The value at element coordinates c.
$SCALAR ${X}_elem(int c[$R]) {
    int last = c[$R - 1];
    c[$R - 1] = last / 4;
    return texelFetch($X, ${X}_pos(c), 0)[$LANE];
}

//@section elem_unpacked
$SCALAR ${X}_elem(int c[$R]) { return texelFetch($X, ${X}_pos(c), 0).x; }
