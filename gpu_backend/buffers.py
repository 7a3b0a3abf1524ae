"""Buffer textures (GL_TEXTURE_BUFFER, GLSL samplerBuffer) for constant operands such as weights.

llvmpipe fetches a texel from a buffer texture about twice as fast as from a 2D texture (no 2D
addressing, no sampler state to consult), and in a convolution most fetches read the filter.  A
constant tensor used as a filter is copied once into a buffer texture in the order the kernel walks
it.  moderngl has no API for buffer textures, so this module calls the few GL entry points it needs
through the context's proc-address loader; they are core since OpenGL 3.1.
"""
from __future__ import annotations

import ctypes
from typing import Any

import moderngl
import numpy as np

GL_TEXTURE0 = 0x84C0
GL_TEXTURE_BUFFER = 0x8C2A
GL_RGBA32F = 0x8814
GL_RGBA32I = 0x8D82

# Units are numbered per program in input order, 2D and buffer samplers alike, with no gaps: llvmpipe
# keys its shader variants on the texture state of every unit up to the highest one a program reads,
# so a gap (say buffers from unit 16) would let stale textures left on the units between by other
# programs force a fresh JIT (40-200 ms) whenever their sizes or formats change.  New buffer textures
# are bound on a scratch unit while they are filled; that binding is harmless afterwards, since a
# unit's buffer binding is only read by a program that declares a samplerBuffer there.
SCRATCH_UNIT = 15        # GL 3.3 guarantees 16 fragment texture units


class GLFunctions:
    """The raw GL functions buffer textures need, resolved for the current context."""

    def __init__(self, kind: str) -> None:
        if kind == "glfw":
            import glfw

            def address(name: str) -> int:
                return glfw.get_proc_address(name)
        else:
            egl = ctypes.CDLL("libEGL.so.1")
            egl.eglGetProcAddress.restype = ctypes.c_void_p
            egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]

            def address(name: str) -> int:
                return egl.eglGetProcAddress(name.encode())

        def fn(name: str, restype: Any, *args: Any) -> Any:
            ptr = address(name)
            if not ptr:
                raise RuntimeError(f"the GL driver has no {name}")
            return ctypes.CFUNCTYPE(restype, *args)(ptr)

        u = ctypes.c_uint
        self.gen_textures = fn("glGenTextures", None, ctypes.c_int, ctypes.POINTER(u))
        self.delete_textures = fn("glDeleteTextures", None, ctypes.c_int, ctypes.POINTER(u))
        self.bind_texture = fn("glBindTexture", None, u, u)
        self.active_texture = fn("glActiveTexture", None, u)
        self.tex_buffer = fn("glTexBuffer", None, u, u, u)
        self.use_program = fn("glUseProgram", None, u)
        self.uniform1i = fn("glUniform1i", None, ctypes.c_int, ctypes.c_int)
        self.get_uniform_location = fn("glGetUniformLocation", ctypes.c_int, u, ctypes.c_char_p)


def stable_texel_count(n: int) -> int:
    """The texel count a buffer texture of n texels is padded to, so all get one shader variant.

    llvmpipe (Mesa 22-24) keys fragment-shader variants on two properties of a buffer view that it
    reads through the texture fields: whether the buffer's byte size is a power of two, and whether
    bits 8-15 of that size are zero (the union with `last_level`).  Weights of every size would
    otherwise give up to four JIT compiles (about 100 ms each) per program.  Padding 16-byte texels
    to a count whose byte size is not a power of two and has a non-zero bit in 8-15 costs at most
    16 texels."""
    n = max(n, 17)
    while (n >> 4) & 0xFF == 0 or n & (n - 1) == 0:
        n += 1
    return n


class BufferTexture:
    """A GL buffer holding RGBA texels, viewed as a buffer texture."""

    def __init__(self, ctx: moderngl.Context, gl: GLFunctions, texels: np.ndarray) -> None:
        assert texels.ndim == 2 and texels.shape[1] == 4
        self.gl = gl
        self.texels = texels.shape[0]
        padded = stable_texel_count(self.texels)
        if padded != self.texels:
            texels = np.concatenate([texels, np.zeros((padded - self.texels, 4), texels.dtype)])
        self.nbytes = texels.nbytes
        fmt = GL_RGBA32I if texels.dtype.kind == "i" else GL_RGBA32F
        self.buffer = ctx.buffer(np.ascontiguousarray(texels).tobytes())
        name = ctypes.c_uint(0)
        gl.gen_textures(1, ctypes.byref(name))
        self.name = name.value
        gl.active_texture(GL_TEXTURE0 + SCRATCH_UNIT)
        gl.bind_texture(GL_TEXTURE_BUFFER, self.name)
        gl.tex_buffer(GL_TEXTURE_BUFFER, fmt, self.buffer.glo)

    def bind(self, unit: int) -> None:
        self.gl.active_texture(GL_TEXTURE0 + unit)
        self.gl.bind_texture(GL_TEXTURE_BUFFER, self.name)

    def release(self) -> None:
        if self.name:
            name = ctypes.c_uint(self.name)
            self.gl.delete_textures(1, ctypes.byref(name))
            self.name = 0
            self.buffer.release()


def set_sampler_units(gl: GLFunctions, program: moderngl.Program, units: dict[str, int]) -> None:
    """Point samplerBuffer uniforms at their units (moderngl cannot set samplerBuffer uniforms)."""
    gl.use_program(program.glo)
    for name, unit in units.items():
        loc = gl.get_uniform_location(program.glo, name.encode())
        if loc >= 0:
            gl.uniform1i(loc, unit)
