"""What the driver's first-draw compile costs: a minimal program, then each program a model needs.

    MESA_SHADER_CACHE_DISABLE=true python bench/jit_probe.py ../shared/models/resnet_small

Run it with the driver's disk cache disabled (as above) to see compile costs rather than cache hits.
On llvmpipe every program pays a fixed cost (the whole fragment pipeline is generated: interpolation,
tile loads and stores) plus the cost of its own code, which is why the loader works to need fewer
programs (README, "First inference vs warm").
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MINIMAL = """#version 330
uniform sampler2D X;
out vec4 result;
void main() { result = max(texelFetch(X, ivec2(gl_FragCoord.xy), 0), vec4(0.0)); }
"""


def minimal_program_ms(ctx) -> float:
    import moderngl
    from gpu_backend.programs import VERTEX_SHADER
    quad = ctx.buffer(np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4").tobytes())
    target = ctx.texture((5, 3), 4, dtype="f4")
    source = ctx.texture((5, 3), 4, dtype="f4")
    fbo = ctx.framebuffer([target])
    prog = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=MINIMAL)
    vao = ctx.vertex_array(prog, [(quad, "2f", "pos")])
    fbo.use()
    source.use(0)
    ctx.viewport = (0, 0, 1, 1)
    t = time.perf_counter()
    vao.render(moderngl.TRIANGLE_STRIP)
    ctx.finish()
    ms = (time.perf_counter() - t) * 1e3
    for obj in (vao, prog, fbo, source, target, quad):
        obj.release()
    return ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="model folder or model.json")
    args = ap.parse_args()
    from gpu_backend import GLBackend
    from loader import load_graph_model
    backend = GLBackend()
    print(f"driver: {backend.info.renderer}; disk cache "
          f"{'disabled' if os.environ.get('MESA_SHADER_CACHE_DISABLE') else 'enabled (compiles may be cache hits)'}")
    # a throw-away first draw: the first one in a process also initialises the JIT
    minimal_program_ms(backend._gl.ctx)
    print(f"minimal program (one fetch, one max): {minimal_program_ms(backend._gl.ctx):.1f} ms at its first draw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_graph_model(args.model, backend=backend)
    model.warmup()
    programs = sorted(backend.runner.programs.programs(), key=lambda p: -(p.first_draw_ms or 0.0))
    print(f"{len(programs)} programs for {args.model}:")
    for p in programs:
        print(f"  {p.first_draw_ms or 0.0:7.1f} ms first draw, {p.compile_ms:5.1f} ms compile+link  {p.spec.describe()}")
    total = sum(p.first_draw_ms or 0.0 for p in programs)
    print(f"  {total:7.1f} ms in all")
    model.dispose()
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
