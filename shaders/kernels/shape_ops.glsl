// Block rearrangements (NHWC DepthToSpace / SpaceToDepth, SpaceToBatchND / BatchToSpaceND) as
// index maps: each section defines map_coords() for remap.glsl's texel or elem body.  Sizes
// along the last dim are in the style's units: the texel style is only used when the mapping
// moves whole texels of the packed last dim (depth a multiple of 4, or the last dim untouched).
// Every divisor is a block size or a size of a non-empty tensor; max(.., 1) keeps a bad
// uniform from trapping anyway.  Divisions use header.glsl's udiv (all operands are >= 0).

//@section depth_to_space
// out[n, h, w, c] = X[n, h / bs, w / bs, ((h % bs) * bs + w % bs) * cu + c]; cu = output depth.
uniform int bs;
uniform int cu;
bool map_coords(int c[OUT_R], out int x[X_R]) {
    int b = max(bs, 1);
    int h = udiv(c[1], b), w = udiv(c[2], b);
    x[0] = c[0];
    x[1] = h;
    x[2] = w;
    x[3] = ((c[1] - h * b) * b + (c[2] - w * b)) * cu + c[3];
    return true;
}

//@section space_to_depth
// out[n, h, w, q * cu + ci] = X[n, h * bs + q / bs, w * bs + q % bs, ci]; cu = input depth.
uniform int bs;
uniform int cu;
bool map_coords(int c[OUT_R], out int x[X_R]) {
    int b = max(bs, 1);
    int q = udiv(c[3], max(cu, 1));
    int qh = udiv(q, b);
    x[0] = c[0];
    x[1] = c[1] * b + qh;
    x[2] = c[2] * b + (q - qh * b);
    x[3] = c[3] - q * cu;
    return true;
}

//@section space_to_batch
// Output batch index = offset * nb + n, with the block offset (o_1 .. o_m) row-major; spatial
// dim j reads padded position c[j] * blk[j] + o_j, i.e. input position that minus lo[j] (zero
// outside the input).  Dims that are not spatial have blk 1 and lo 0; lim is the input shape.
uniform int nb;
uniform int blk[X_R];
uniform int lo[X_R];
uniform int lim[X_R];
bool map_coords(int c[OUT_R], out int x[X_R]) {
    int n = max(nb, 1);
    int off = udiv(c[0], n);
    x[0] = c[0] - off * n;
    for (int j = X_R - 1; j >= 1; --j) {
        int b = max(blk[j], 1);
        int q = udiv(off, b);
        int o = off - q * b;
        off = q;
        int v = c[j] * b + o - lo[j];
        if (v < 0 || v >= lim[j]) return false;
        x[j] = v;
    }
    return true;
}

//@section batch_to_space
// The inverse: spatial dim j of the (uncropped) output, f = c[j] + lo[j], comes from block
// offset f % blk[j] at position f / blk[j]; the input batch is offset * nb + n.
uniform int nb;
uniform int blk[X_R];
uniform int lo[X_R];
bool map_coords(int c[OUT_R], out int x[X_R]) {
    int off = 0;
    for (int j = 1; j < X_R; ++j) {
        int b = max(blk[j], 1);
        int f = c[j] + lo[j];
        int q = udiv(f, b);
        x[j] = q;
        off = off * b + (f - q * b);
    }
    x[0] = off * nb + c[0];
    return true;
}
