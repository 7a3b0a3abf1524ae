"""Why the packed layout is "last dimension in RGBA" (C4): raw-GL probes of the candidates.

    python bench/layout_probe.py

Runs the same work with hand-written shaders over three texture packings and prints medians:
  * MatMul 512^3: C4 (texel = 4 consecutive columns) vs 2x2 blocks (TF.js's packing) vs unpacked;
  * depthwise 3x3 conv on 1x64x64x32 NHWC: C4 (texel = 4 channels of a pixel) vs unpacked;
  * per-channel bias + ReLU6 on 1x64x64x32: C4 vs 2x2 blocks of the [HW, C] matrix.
Timings are draw + glFinish, after one warm-up draw, median of 7.
"""
from __future__ import annotations

import statistics
import time

import moderngl
import numpy as np

VS = "#version 330\nin vec2 pos; void main() { gl_Position = vec4(pos, 0.0, 1.0); }"


class Probe:
    def __init__(self) -> None:
        self.ctx = moderngl.create_standalone_context(backend="egl", require=330)
        self.quad = self.ctx.buffer(np.array([-1, -1, 1, -1, -1, 1, 1, 1], "f4").tobytes())

    def tex(self, data: np.ndarray, comps: int) -> moderngl.Texture:
        h, w = data.shape[0], data.shape[1]
        t = self.ctx.texture((w, h), comps, data=np.ascontiguousarray(data, "f4").tobytes(), dtype="f4")
        t.filter = (moderngl.NEAREST, moderngl.NEAREST)
        return t

    def time(self, fs: str, inputs: dict[str, moderngl.Texture], out: moderngl.Texture, **uniforms: int) -> float:
        prog = self.ctx.program(vertex_shader=VS, fragment_shader=fs)
        vao = self.ctx.vertex_array(prog, [(self.quad, "2f", "pos")])
        fbo = self.ctx.framebuffer(color_attachments=[out])
        for unit, (name, t) in enumerate(inputs.items()):
            t.use(unit)
            prog[name].value = unit
        for k, v in uniforms.items():
            prog[k].value = v
        fbo.use()
        vao.render(moderngl.TRIANGLE_STRIP)
        self.ctx.finish()
        samples = []
        for _ in range(7):
            t0 = time.perf_counter()
            vao.render(moderngl.TRIANGLE_STRIP)
            self.ctx.finish()
            samples.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(samples)


def main() -> None:
    p = Probe()
    rng = np.random.default_rng(0)
    n = 512
    a, b = rng.standard_normal((n, n)).astype("f4"), rng.standard_normal((n, n)).astype("f4")
    c4 = p.time("""#version 330
        uniform sampler2D A; uniform sampler2D B; uniform int K4; out vec4 o;
        void main() { ivec2 q = ivec2(gl_FragCoord.xy); vec4 acc = vec4(0);
          for (int k = 0; k < K4; ++k) { vec4 x = texelFetch(A, ivec2(k, q.y), 0); int r = 4 * k;
            acc += x.x * texelFetch(B, ivec2(q.x, r), 0) + x.y * texelFetch(B, ivec2(q.x, r + 1), 0)
                 + x.z * texelFetch(B, ivec2(q.x, r + 2), 0) + x.w * texelFetch(B, ivec2(q.x, r + 3), 0); }
          o = acc; }""", {"A": p.tex(a.reshape(n, n // 4, 4), 4), "B": p.tex(b.reshape(n, n // 4, 4), 4)},
                p.ctx.texture((n // 4, n), 4, dtype="f4"), K4=n // 4)

    def blocks(x: np.ndarray) -> np.ndarray:
        return x.reshape(n // 2, 2, n // 2, 2).transpose(0, 2, 1, 3).reshape(n // 2, n // 2, 4)
    two = p.time("""#version 330
        uniform sampler2D A; uniform sampler2D B; uniform int K2; out vec4 o;
        void main() { ivec2 q = ivec2(gl_FragCoord.xy); vec4 acc = vec4(0);
          for (int k = 0; k < K2; ++k) { vec4 x = texelFetch(A, ivec2(k, q.y), 0); vec4 y = texelFetch(B, ivec2(q.x, k), 0);
            acc += x.xxzz * y.xyxy + x.yyww * y.zwzw; }
          o = acc; }""", {"A": p.tex(blocks(a), 4), "B": p.tex(blocks(b), 4)},
                 p.ctx.texture((n // 2, n // 2), 4, dtype="f4"), K2=n // 2)
    unp = p.time("""#version 330
        uniform sampler2D A; uniform sampler2D B; uniform int K; out vec4 o;
        void main() { ivec2 q = ivec2(gl_FragCoord.xy); float acc = 0.0;
          for (int k = 0; k < K; ++k) acc += texelFetch(A, ivec2(k, q.y), 0).x * texelFetch(B, ivec2(q.x, k), 0).x;
          o = vec4(acc); }""", {"A": p.tex(a[..., None], 1), "B": p.tex(b[..., None], 1)},
                 p.ctx.texture((n, n), 1, dtype="f4"), K=n)
    print(f"MatMul {n}^3 (ms): C4 {c4:.1f} | 2x2 blocks {two:.1f} | unpacked {unp:.1f}")

    h = w = 64
    ch = 32
    img = rng.standard_normal((h, w, ch)).astype("f4")
    wts = rng.standard_normal((9, ch)).astype("f4")
    dw_c4 = p.time("""#version 330
        uniform sampler2D X; uniform sampler2D W; uniform int H; uniform int Wd; uniform int C4; out vec4 o;
        void main() { ivec2 q = ivec2(gl_FragCoord.xy); int px = q.x / C4, c = q.x % C4; vec4 acc = vec4(0);
          for (int dy = -1; dy <= 1; ++dy) for (int dx = -1; dx <= 1; ++dx) {
            int y = q.y + dy, x = px + dx;
            if (y < 0 || y >= H || x < 0 || x >= Wd) continue;
            acc += texelFetch(X, ivec2(x * C4 + c, y), 0) * texelFetch(W, ivec2(c, (dy + 1) * 3 + dx + 1), 0); }
          o = acc; }""", {"X": p.tex(img.reshape(h, w * ch // 4, 4), 4), "W": p.tex(wts.reshape(9, ch // 4, 4), 4)},
                   p.ctx.texture((w * ch // 4, h), 4, dtype="f4"), H=h, Wd=w, C4=ch // 4)
    dw_un = p.time("""#version 330
        uniform sampler2D X; uniform sampler2D W; uniform int H; uniform int Wd; uniform int C; out vec4 o;
        void main() { ivec2 q = ivec2(gl_FragCoord.xy); int px = q.x / C, c = q.x % C; float acc = 0.0;
          for (int dy = -1; dy <= 1; ++dy) for (int dx = -1; dx <= 1; ++dx) {
            int y = q.y + dy, x = px + dx;
            if (y < 0 || y >= H || x < 0 || x >= Wd) continue;
            acc += texelFetch(X, ivec2(x * C + c, y), 0).x * texelFetch(W, ivec2(c, (dy + 1) * 3 + dx + 1), 0).x; }
          o = vec4(acc); }""", {"X": p.tex(img.reshape(h, w * ch, 1), 1), "W": p.tex(wts.reshape(9, ch, 1), 1)},
                   p.ctx.texture((w * ch, h), 1, dtype="f4"), H=h, Wd=w, C=ch)
    print(f"Depthwise 3x3 on 1x{h}x{w}x{ch} (ms): C4 {dw_c4:.2f} | unpacked {dw_un:.2f}")

    bias = rng.standard_normal(ch).astype("f4")
    m = img.reshape(h * w, ch)
    b_c4 = p.time("""#version 330
        uniform sampler2D X; uniform sampler2D B; uniform int C4; out vec4 o;
        void main() { ivec2 q = ivec2(gl_FragCoord.xy);
          o = clamp(texelFetch(X, q, 0) + texelFetch(B, ivec2(q.x % C4, 0), 0), 0.0, 6.0); }""",
                  {"X": p.tex(img.reshape(h, w * ch // 4, 4), 4), "B": p.tex(bias.reshape(1, ch // 4, 4), 4)},
                  p.ctx.texture((w * ch // 4, h), 4, dtype="f4"), C4=ch // 4)
    b_22 = p.time("""#version 330
        uniform sampler2D X; uniform sampler2D B; out vec4 o;
        void main() { ivec2 q = ivec2(gl_FragCoord.xy); vec4 bb = texelFetch(B, ivec2(q.x, 0), 0);
          o = clamp(texelFetch(X, q, 0) + bb.xyxy, 0.0, 6.0); }""",
                  {"X": p.tex(m.reshape(h * w // 2, 2, ch // 2, 2).transpose(0, 2, 1, 3).reshape(h * w // 2, ch // 2, 4), 4),
                   "B": p.tex(np.concatenate([bias.reshape(ch // 2, 2), np.zeros((ch // 2, 2), "f4")], 1).reshape(1, ch // 2, 4), 4)},
                  p.ctx.texture((ch // 2, h * w // 2), 4, dtype="f4"))
    print(f"Bias + ReLU6 on 1x{h}x{w}x{ch} (ms): C4 {b_c4:.3f} | 2x2 blocks {b_22:.3f}")
    print("renderer:", p.ctx.info["GL_RENDERER"])


if __name__ == "__main__":
    main()
