// Image resampling, NHWC, one output texel (4 channels; 1 when unpacked) per fragment.
// X: the images [N, H, W, C] (a rank-3 image is read through a [1, H, W, C] view), float32 or
// int32 (read as float32 for interpolation, like TF).  Sample positions are computed in float32
// with the reference's operation order (gpu_backend/reference/image.py): nearest picks and the
// crop "inside the image" test are discontinuous, so they must round exactly as TF does.
// Sizes come in as kernel uniforms, not X_shape/out_shape: the driver drops unused trailing array
// elements and a partially used shape array would no longer match its upload.
// Nothing here relies on fused multiply-add: desktop GLSL 3.30 on Mesa keeps a * b + c as two
// roundings (tests/test_gl_image_norm.py checks the picks against the reference on many sizes).

// The texel of image n at row y, column x, channel group g, as float32.
vec4 pixel(int n, int y, int x, int g) {
    int q[4] = int[4](n, y, x, g);
    return vec4(X_texel(q));
}

// TF's bilinear formula, term for term, so Inf/NaN neighbours give TF's NaNs:
// top + (bottom - top) * wy with top = tl + (tr - tl) * wx.  No mix(): a lowered flrp may reorder it.
vec4 lerp2(vec4 tl, vec4 tr, vec4 bl, vec4 br, float wy, float wx) {
    vec4 top = tl + (tr - tl) * wx;
    vec4 bottom = bl + (br - bl) * wx;
    return top + (bottom - top) * wy;
}

// C's roundf for p >= 0: floor(p) + 1 when the fraction is >= 0.5 (p - floor(p) is exact).
float round_half_away(float p) {
    float f = floor(p);
    return p - f >= 0.5 ? f + 1.0 : f;
}

uniform ivec2 in_hw;        // input height, width

//@section resize_bilinear
uniform vec2 scale;         // (y, x): in / out, or (in - 1) / (out - 1) with align_corners; float32 from the host
uniform int half_pixel;     // 1: half_pixel_centers, 0: legacy / align_corners (the scale differs)

// Source rows (lo, hi) and the weight of hi for output index i along an axis of n input pixels.
void bilinear_axis(int i, float s, int n, out int lo, out int hi, out float w) {
    float p = half_pixel != 0 ? (float(i) + 0.5) * s - 0.5 : float(i) * s;
    float f = floor(p);
    lo = clamp(int(f), 0, n - 1);
    hi = max(min(int(ceil(p)), n - 1), 0);
    w = p - f;
}

vec4 compute(int c[OUT_R]) {
    int y0, y1, x0, x1;
    float wy, wx;
    bilinear_axis(c[1], scale.x, in_hw.x, y0, y1, wy);
    bilinear_axis(c[2], scale.y, in_hw.y, x0, x1, wx);
    int n = c[0], g = c[3];
    return lerp2(pixel(n, y0, x0, g), pixel(n, y0, x1, g), pixel(n, y1, x0, g), pixel(n, y1, x1, g), wy, wx);
}

//@section resize_nearest
uniform vec2 scale;         // as resize_bilinear
uniform int mode;           // 0 legacy: floor(i * s); 1 align_corners: round(i * s); 2 half_pixel: floor((i + .5) * s)

int nearest_axis(int i, float s, int n) {
    float fi = float(i);
    float idx;
    if (mode == 2) idx = floor((fi + 0.5) * s);
    else if (mode == 1) idx = round_half_away(fi * s);
    else idx = floor(fi * s);
    return clamp(int(idx), 0, n - 1);
}

OUT_VEC compute(int c[OUT_R]) {
    int q[4] = int[4](c[0], nearest_axis(c[1], scale.x, in_hw.x), nearest_axis(c[2], scale.y, in_hw.y), c[3]);
    return X_texel(q);      // the output has the input's dtype: ints are copied exactly
}

//@section crop_and_resize
// Boxes: [num_boxes * 4] (the [num_boxes, 4] boxes flattened, a view: a rank-2 read at constant
// columns lets the driver drop the column stride uniform), normalised (y1, x1, y2, x2), y1 > y2
// flips; BoxInd: [num_boxes] image index.
// The output is [num_boxes, crop_h, crop_w, C] float32.
uniform int method;         // 0 bilinear, 1 nearest
uniform float fill;         // extrapolation_value (float32)
uniform int batch;          // images in X
uniform ivec2 crop;         // crop height, width

// Sample position along one axis of one box (a1 -> a2 over n pixels, crop samples), as TF computes it.
float crop_pos(float a1, float a2, int n, int crop, int i) {
    float extent = float(n - 1);
    if (crop > 1) {
        float step = (a2 - a1) * extent / float(crop - 1);
        return a1 * extent + float(i) * step;
    }
    // TF evaluates 0.5 * (a1 + a2) * (n - 1) in double and stores a float: (a1 + a2) is a float sum,
    // halving it is exact and the product of two floats is exact in double, so one float rounding matches
    return (0.5 * (a1 + a2)) * extent;
}

vec4 compute(int c[OUT_R]) {
    int b = c[0];
    int bq[1] = int[1](4 * b);
    float y1 = float(Boxes_elem(bq)); bq[0] += 1;
    float x1 = float(Boxes_elem(bq)); bq[0] += 1;
    float y2 = float(Boxes_elem(bq)); bq[0] += 1;
    float x2 = float(Boxes_elem(bq));
    int iq[1] = int[1](b);
    int n = BoxInd_elem(iq);
    int height = in_hw.x, width = in_hw.y;
    if (n < 0 || n >= batch) return vec4(NAN);    // an invalid box index (the reference raises)
    float py = crop_pos(y1, y2, height, crop.x, c[1]);
    float px = crop_pos(x1, x2, width, crop.y, c[2]);
    // NaN positions (non-finite boxes) fail these tests too and extrapolate
    bool inside = py >= 0.0 && py <= float(height - 1) && px >= 0.0 && px <= float(width - 1);
    if (!inside) return vec4(fill);
    int g = c[3];
    if (method == 1) return pixel(n, int(round_half_away(py)), int(round_half_away(px)), g);
    float fy = floor(py), fx = floor(px);
    int y0 = int(fy), x0 = int(fx);
    int yh = int(ceil(py)), xh = int(ceil(px));
    return lerp2(pixel(n, y0, x0, g), pixel(n, y0, xh, g), pixel(n, yh, x0, g), pixel(n, yh, xh, g),
                 py - fy, px - fx);
}
