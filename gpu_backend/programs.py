"""Program cache: compile each ProgramSpec once, count what it costs.

Every draw covers the output texture with one full-screen quad; the fragment
shader does the work.  The cache is keyed by the spec (structure, never
shapes), and it records hits, misses and compile+link time, plus the first
draw of each program, where drivers such as llvmpipe really compile.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

import moderngl
import numpy as np

from .buffers import set_sampler_units
from .errors import ShaderCompileError
from .shader import ProgramSpec, build_source, glsl_file

# Sampler slots given a canonical state before buffer textures are used: more than the inputs of any
# kernel that reads buffer textures (conv, depthwise, matmul: at most 5).
SETTLED_SLOTS = 8

VERTEX_SHADER = """#version 330
in vec2 pos;
void main() { gl_Position = vec4(pos, 0.0, 1.0); }
"""


@dataclass
class CompiledProgram:
    spec: ProgramSpec
    program: moderngl.Program
    vao: moderngl.VertexArray
    uniforms: dict[str, Any]
    units: dict[str, int]
    compile_ms: float
    source: str = field(repr=False)
    draws: int = 0
    first_draw_ms: float | None = None
    last_uniforms: dict[str, Any] = field(default_factory=dict, repr=False)


class ProgramCache:
    def __init__(self, ctx: moderngl.Context, raw_gl: Any = None) -> None:
        self.ctx = ctx
        self.raw_gl = raw_gl
        self._quad = ctx.buffer(np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4").tobytes())
        self._programs: dict[ProgramSpec, CompiledProgram] = {}
        self.hits = 0
        self.misses = 0
        self.compile_ms = 0.0
        self.first_draw_ms = 0.0

    def get(self, spec: ProgramSpec) -> CompiledProgram:
        return self.lookup(spec)[0]

    def lookup(self, spec: ProgramSpec) -> tuple[CompiledProgram, bool]:
        """(program, compiled now?) with one cache probe."""
        prog = self._programs.get(spec)
        if prog is not None:
            self.hits += 1
            return prog, False
        self.misses += 1
        prog = self._compile(spec)
        self._programs[spec] = prog
        return prog, True

    def __contains__(self, spec: ProgramSpec) -> bool:
        return spec in self._programs

    def _compile(self, spec: ProgramSpec) -> CompiledProgram:
        source = build_source(spec)
        t0 = time.perf_counter()
        try:
            program = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=source)
        except Exception as exc:
            numbered = "\n".join(f"{i + 1:4d}  {line}" for i, line in enumerate(source.splitlines()))
            raise ShaderCompileError(
                f"the GL driver rejected the program for {spec.describe()}: {exc}\n--- source ---\n{numbered}") from exc
        vao = self.ctx.vertex_array(program, [(self._quad, "2f", "pos")])
        ms = (time.perf_counter() - t0) * 1e3
        self.compile_ms += ms
        uniforms = {name: program[name] for name in program if isinstance(program[name], moderngl.Uniform)}
        units: dict[str, int] = {}
        buffer_units: dict[str, int] = {}
        for unit, inp in enumerate(spec.inputs):
            if inp.mode == "buffer":
                buffer_units[inp.name] = unit
                uniforms.pop(inp.name, None)
            elif inp.name in uniforms:
                uniforms[inp.name].value = unit
                units[inp.name] = unit
        if buffer_units:
            set_sampler_units(self.raw_gl, program, buffer_units)
            units.update(buffer_units)
        return CompiledProgram(spec, program, vao, uniforms, units, ms, source)

    def settle_sampler_slots(self, texture: moderngl.Texture, fbo: moderngl.Framebuffer) -> float:
        """Give the first SETTLED_SLOTS sampler slots the tensor textures' sampler state; returns the ms spent.

        A buffer texture sets no sampler state, and llvmpipe includes the state a slot last held in
        its shader-variant key, so a program reading weights from buffer textures was JIT-compiled
        again (40-200 ms) whenever the program drawn before it left other state in those slots:
        a second predict() paid 300 ms of compiles and the driver's disk cache never settled.  One
        draw that samples a tensor-like texture in every slot makes that state the same for all
        draws that follow (every tensor texture has the same sampler state)."""
        t0 = time.perf_counter()
        program = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=glsl_file("lib/sampler_slots.glsl"))
        vao = self.ctx.vertex_array(program, [(self._quad, "2f", "pos")])
        for unit in range(SETTLED_SLOTS):
            program[f"S{unit}"].value = unit
            texture.use(unit)
        fbo.use()
        self.ctx.viewport = (0, 0, 1, 1)
        vao.render(moderngl.TRIANGLE_STRIP)
        self.ctx.finish()
        vao.release()
        program.release()
        return (time.perf_counter() - t0) * 1e3

    def programs(self) -> list[CompiledProgram]:
        return list(self._programs.values())

    def stats(self) -> dict[str, Any]:
        return {
            "programs": len(self._programs),
            "program_cache_hits": self.hits,
            "program_cache_misses": self.misses,
            "compile_link_ms": round(self.compile_ms, 3),
            "first_draw_ms": round(self.first_draw_ms, 3),
        }

    def close(self) -> None:
        for prog in self._programs.values():
            prog.vao.release()
            prog.program.release()
        self._programs.clear()
        self._quad.release()


def set_uniforms(prog: CompiledProgram, values: Mapping[str, Any]) -> None:
    """Write the program's uniforms; each is written only when its bytes changed since the last draw."""
    uniforms = prog.uniforms
    last = prog.last_uniforms
    for name, value in values.items():
        u = uniforms.get(name)
        if u is None:
            continue  # optimised away by the GLSL compiler, or not used by this variant
        if isinstance(value, (list, tuple)):
            value = np.asarray(value, dtype="i4" if all(isinstance(v, (int, np.integer)) for v in value) else "f4")
        if isinstance(value, np.ndarray):
            value = value.tobytes()
        if isinstance(value, bytes):
            # the compiler may drop an array's unused trailing elements: write only what it kept
            n = u.array_length * u.dimension * 4
            data = value[:n] if len(value) > n else value
            if last.get(name) != data:
                u.write(data)
                last[name] = data
        elif last.get(name) != value:
            u.value = value
            last[name] = value
