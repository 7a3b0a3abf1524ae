"""Shader assembly: a program's structure in, complete GLSL source out.

A program is described by a ``ProgramSpec``: the kernel's GLSL file (and
section), whether it computes whole texels or single elements, and for each
input and the output only *structural* facts (dtype, rank, packing, layout
mode, broadcast splat).  Shapes, strides and offsets are uniforms, so the spec
is the program-cache key and one compiled program serves every shape of the
same structure.

The source is concatenated in a fixed order, each part readable GLSL from the
``shaders`` package:

    #version + #defines  |  lib/header.glsl  |  lib/output.glsl (rendered)
    |  lib/input.glsl (rendered per input)  |  library files  |  kernel file
    |  lib/main.glsl (texel or element main)

Templates use ``$NAME`` placeholders (``string.Template``); files are split
into ``//@section NAME`` blocks so only the needed code is emitted.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

GLSL_VERSION = "#version 330"
_SECTION = re.compile(r"^//@section\s+(\S+)\s*$", re.M)


@lru_cache(maxsize=None)
def glsl_file(path: str) -> str:
    """Text of a file in the shaders package, e.g. 'kernels/binary.glsl'."""
    res = resources.files("shaders").joinpath(path)
    try:
        return res.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"GLSL source shaders/{path} is missing from the installed package") from None


@lru_cache(maxsize=None)
def glsl_sections(path: str) -> dict[str, str]:
    """The ``//@section`` blocks of a file; text before the first marker is the '' section."""
    text = glsl_file(path)
    parts = _SECTION.split(text)
    sections = {"": parts[0]}
    for i in range(1, len(parts), 2):
        sections[parts[i]] = parts[i + 1]
    return sections


def glsl_section(path: str, section: str | None) -> str:
    if section is None:
        return glsl_file(path)
    sections = glsl_sections(path)
    if section not in sections:
        raise KeyError(f"shaders/{path} has no section {section!r} (has: {sorted(k for k in sections if k)})")
    return sections[section]


def render(path: str, section: str, **params: object) -> str:
    return string.Template(glsl_section(path, section)).substitute({k: str(v) for k, v in params.items()})


def glsl_types(dtype: str) -> tuple[str, str, str]:
    """(sampler, vector, scalar) GLSL types holding a dtype."""
    if dtype == "float32":
        return "sampler2D", "vec4", "float"
    return "isampler2D", "ivec4", "int"


@dataclass(frozen=True)
class InputSpec:
    """Structure of one input.  mode: 'L', 'F', 'frag' (same layout as the output) or 'buffer'
    (a constant operand in a buffer texture)."""

    name: str
    dtype: str
    rank: int
    packed: bool
    mode: str
    splat: bool = False
    elem: bool = False  # emit an element accessor X_elem(c)


@dataclass(frozen=True)
class OutputSpec:
    dtype: str
    rank: int
    packed: bool
    mode: str


@dataclass(frozen=True)
class ProgramSpec:
    """Everything that determines a program's source; the program-cache key."""

    kernel: str                                   # file under shaders/kernels, e.g. 'binary.glsl'
    section: str | None
    style: str                                    # 'texel' (compute) or 'element' (value)
    inputs: tuple[InputSpec, ...]
    output: OutputSpec
    defines: tuple[tuple[str, str], ...] = ()
    libs: tuple[tuple[str, str | None], ...] = ()  # extra (file, section) sources before the kernel
    label: str = field(default="", compare=False)  # for profiles and error messages only

    def __hash__(self) -> int:
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.kernel, self.section, self.style, self.inputs, self.output, self.defines, self.libs))
            object.__setattr__(self, "_hash", h)
        return h

    def describe(self) -> str:
        ins = ",".join(f"{i.name}:{i.dtype[0]}{i.rank}{'p' if i.packed else 'u'}{i.mode}{'s' if i.splat else ''}"
                       for i in self.inputs)
        o = self.output
        return (f"{self.kernel}{':' + self.section if self.section else ''}[{ins}->"
                f"{o.dtype[0]}{o.rank}{'p' if o.packed else 'u'}{o.mode}]")


def build_source(spec: ProgramSpec) -> str:
    out = spec.output
    _, out_vec, out_scalar = glsl_types(out.dtype)
    parts = [GLSL_VERSION,
             f"#define OUT_R {out.rank}",
             f"#define OUT_PACKED {int(out.packed)}",
             f"#define OUT_INT {int(out.dtype != 'float32')}",
             f"#define OUT_VEC {out_vec}",
             f"#define OUT_SCALAR {out_scalar}"]
    parts += [f"#define {k} {v}" for k, v in spec.defines]
    parts.append(glsl_file("lib/header.glsl"))
    parts.append(render("lib/output.glsl", "decl", VEC=out_vec, R=out.rank))
    parts.append(render("lib/output.glsl", "coords_F" if out.mode == "F" else "coords_L", R=out.rank))
    for inp in spec.inputs:
        sampler, vec, scalar = glsl_types(inp.dtype)
        params = dict(X=inp.name, R=inp.rank, SAMPLER=sampler, VEC=vec, SCALAR=scalar,
                      SPLAT=".xxxx" if inp.splat else "",
                      LANE="0" if inp.splat else "last % 4")
        parts.append(f"#define {inp.name}_R {inp.rank}")
        parts.append(f"#define {inp.name}_INT {int(inp.dtype != 'float32')}")
        parts.append(f"#define {inp.name}_PACKED {int(inp.packed)}")
        if inp.mode == "buffer":
            parts.append(render("lib/input.glsl", "buffer", X=inp.name,
                                BSAMPLER="samplerBuffer" if inp.dtype == "float32" else "isamplerBuffer"))
            continue
        parts.append(render("lib/input.glsl", "decl", **params))
        parts.append(render("lib/input.glsl", {"L": "pos_L", "F": "pos_F", "frag": "pos_frag"}[inp.mode], **params))
        parts.append(render("lib/input.glsl", "texel", **params))
        if inp.elem:
            parts.append(render("lib/input.glsl", "elem_packed" if inp.packed else "elem_unpacked", **params))
    for path, section in spec.libs:
        parts.append(glsl_section(path, section))
    parts.append(glsl_section("kernels/" + spec.kernel, "") if spec.section else "")
    parts.append(glsl_section("kernels/" + spec.kernel, spec.section))
    parts.append(render("lib/main.glsl", spec.style, VEC=out_vec))
    return "\n".join(parts)
