// Output of a program, rendered once per program by gpu_backend/shader.py.
// $VEC: vec4 or ivec4; $R: rank of the output's texel coordinates.

//@section decl
layout(location = 0) out $VEC result;
uniform int out_shape[$R];          // logical shape (the last entry counts values, not texels)
uniform ivec3 out_dec[$R];          // per dim: (0 = x / 1 = y / 2 = flat, stride, size in texels)
uniform vec2 out_rcp[$R];           // per dim: (1 / stride, 1 / size)

//@section coords_L
// Texel coordinates of this fragment; false for fragments past the tensor's end.
bool out_coords(out int c[$R]) {
    for (int i = 0; i < $R; ++i) {
        int v = out_dec[i].x == 0 ? frag_pos.x : frag_pos.y;
        int q = udiv(v, out_dec[i].y, out_rcp[i].x);
        c[i] = q - udiv(q, out_dec[i].z, out_rcp[i].y) * out_dec[i].z;
    }
    return true;
}

//@section coords_F
uniform int out_w;                  // texture width: flat texel t is at (t % out_w, t / out_w)
uniform int out_n;                  // texels in the tensor
bool out_coords(out int c[$R]) {
    int t = frag_pos.y * out_w + frag_pos.x;
    for (int i = 0; i < $R; ++i) {
        int q = udiv(t, out_dec[i].y, out_rcp[i].x);
        c[i] = q - udiv(q, out_dec[i].z, out_rcp[i].y) * out_dec[i].z;
    }
    return t < out_n;
}
