// Output of a program, rendered once per program by gpu_backend/shader.py.
// $VEC: vec4 or ivec4; $R: rank of the output's texel coordinates.

//@section decl
layout(location = 0) out $VEC result;
uniform int out_shape[$R];          // logical shape (the last entry counts values, not texels)
uniform ivec3 out_dec[$R];          // per dim: (0 = x / 1 = y / 2 = flat, stride, size in texels)
uniform vec2 out_rcp[$R];           // per dim: (1 / stride, 1 / size)

//@section coords_L
// Texel coordinates of this fragment; false for fragments past the tensor's end.  Each axis is a
// mixed-radix number of the dims on it; peel them off innermost first: one division per dim.
bool out_coords(out int c[$R]) {
    int qx = frag_pos.x;
    int qy = frag_pos.y;
    for (int i = $R - 1; i >= 0; --i) {
        bool on_x = out_dec[i].x == 0;
        int q = on_x ? qx : qy;
        int d = udiv(q, out_dec[i].z, out_rcp[i].y);
        c[i] = q - d * out_dec[i].z;
        if (on_x) qx = d; else qy = d;
    }
    return true;
}

//@section coords_F
uniform int out_w;                  // row pitch: flat texel t is at (t % out_w, t / out_w)
uniform int out_n;                  // texels in the tensor
bool out_coords(out int c[$R]) {
    int t = frag_pos.y * out_w + frag_pos.x;
    int q = t;
    for (int i = $R - 1; i >= 0; --i) {
        int d = udiv(q, out_dec[i].z, out_rcp[i].y);
        c[i] = q - d * out_dec[i].z;
        q = d;
    }
    return t < out_n;
}
