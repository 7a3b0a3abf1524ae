"""What a GL kernel sees: tensors as texture views, and a way to run a program.

Kernels describe a program (GLSL file, inputs and how they are read, output
shape and dtype, extra uniforms); the runner turns that into a ProgramSpec,
fetches the compiled program from the cache, allocates the output from the
texture pool, binds textures and uniforms and draws.  Every draw goes through
``ProgramRunner.run``, which is also where profiling hooks in.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import moderngl
import numpy as np

from .dtypes import numpy_dtype
from .layout import View, broadcast_view, plan_layout, reshape_view
from .profiling import DrawEvent, Profiler
from .programs import ProgramCache, set_uniforms as _set_uniforms
from .recording import DrawCmd, ReadCmd, Tape, UploadCmd
from .shader import InputSpec, OutputSpec, ProgramSpec
from .textures import Storage, TexturePool


@dataclass
class GLTensor:
    """A tensor on the GL backend: a view over a pooled texture (None when empty)."""

    storage: Storage | None
    view: View
    dtype: str
    constant: bool = False    # a model weight: never changes, so kernels may prepare it once
    host: np.ndarray | None = field(default=None, repr=False)   # a constant's values, kept from its upload

    @property
    def shape(self) -> tuple[int, ...]:
        return self.view.shape

    @property
    def rank(self) -> int:
        return len(self.view.shape)

    @property
    def size(self) -> int:
        return math.prod(self.view.shape)


@dataclass(frozen=True)
class Arg:
    """How a kernel reads one input.

    access 'own': coordinates in the input's own (texel) index space;
    'bcast': output coordinates, numpy-broadcast onto the input.
    elem: also generate the element accessor ``X_elem(c)``.
    """

    tensor: GLTensor
    access: str = "own"
    elem: bool = False
    view: View | None = None  # an explicit view of tensor's texture (overrides access)
    buffer: Any = None        # a BufferTexture to read instead of the tensor's texture


@dataclass
class DrawRecord:
    """One draw, for profiling."""

    label: str
    spec: ProgramSpec
    out_bytes: int
    compiled_now: bool
    first_draw: bool
    wall_ms: float = 0.0
    gpu_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ProgramRunner:
    def __init__(self, ctx: moderngl.Context, max_texture_size: int, packed: bool,
                 pool_limit_bytes: int, raw_gl: Any = None) -> None:
        self.ctx = ctx
        self.max_texture_size = max_texture_size
        self.packed = packed
        self.raw_gl = raw_gl
        self.programs = ProgramCache(ctx, raw_gl)
        self.pool = TexturePool(ctx, pool_limit_bytes)
        self.draws = 0
        self.on_draw: Callable[[DrawRecord], None] | None = None
        self.profiler: Profiler | None = None
        # tensors derived from another tensor (e.g. a filter relaid out for a kernel), kept while the
        # source texture lives: weights are prepared once per model, not once per call
        self._derived: dict[tuple[int, Any], tuple[Storage, GLTensor]] = {}
        self._sampler_slots_settled = False    # see ProgramCache.settle_sampler_slots
        self.tape: Tape | None = None           # set while a run is recorded (recording.py)
        self._zeros: Any = None                 # see zero_buffer()
        self._zeros_old: list[Any] = []

    # -- allocation and views --------------------------------------------------------
    def alloc(self, shape: Sequence[int], dtype: str, packed: bool | None = None, name: str = "output") -> GLTensor:
        packed = self.packed if packed is None else packed
        view = plan_layout(shape, packed, self.max_texture_size, name, dtype)
        if math.prod(shape) == 0:
            return GLTensor(None, view, dtype)
        storage = self.pool.acquire(view.width, view.height, dtype, packed)
        return GLTensor(storage, view, dtype)

    def share(self, t: GLTensor, view: View, dtype: str | None = None) -> GLTensor:
        """Another view of t's texture (a new reference to the same storage)."""
        if t.storage is not None:
            t.storage.refs += 1
        return GLTensor(t.storage, view, dtype or t.dtype, t.constant)

    def release(self, t: GLTensor) -> None:
        storage = t.storage
        if storage is not None:
            if storage.refs == 1 and self._derived:
                self._evict_derived(storage)
            self.pool.release(storage)
            t.storage = None

    def derived(self, t: GLTensor, key: Any, make: Callable[[], GLTensor]) -> GLTensor:
        """`make()` computed once per source texture and view; owned by the cache (do not release it)."""
        if t.storage is None:
            return make()
        k = (id(t.storage), (t.view, key))
        hit = self._derived.get(k)
        if hit is not None and hit[0] is t.storage:
            return hit[1]
        value = self._untaped(make) if t.constant else make()
        self._derived[k] = (t.storage, value)
        return value

    def _untaped(self, make: Callable[[], Any]) -> Any:
        """Work done once per weight (a relaid-out copy) is not part of a recorded run."""
        tape = self.tape
        if tape is None:
            return make()
        tape.paused += 1
        try:
            return make()
        finally:
            tape.paused -= 1

    def buffer_texture(self, t: GLTensor, key: Any, texels: Callable[[np.ndarray], np.ndarray]) -> Any:
        """A buffer texture of `texels(values of t)` ([n, 4] float32/int32), made once per constant
        tensor; None when buffer textures are unavailable here."""
        if self.raw_gl is None or not t.constant:
            return None
        from .buffers import BufferTexture
        if not self._sampler_slots_settled:
            self._sampler_slots_settled = True
            scratch = self.alloc((3, 4), "float32", packed=True, name="sampler slots")
            assert scratch.storage is not None
            scratch.storage.fbo = scratch.storage.fbo or self.ctx.framebuffer(color_attachments=[scratch.storage.texture])
            self.programs.first_draw_ms += self.programs.settle_sampler_slots(scratch.storage.texture, scratch.storage.fbo)
            self.release(scratch)
        values = (lambda: t.host) if t.host is not None and t.host.shape == t.shape else (lambda: self.read(t))
        return self.derived(t, ("buffer", key), lambda: BufferTexture(self.ctx, self.raw_gl, texels(values())))

    def zero_buffer(self, texels: int) -> Any:
        """A buffer texture of at least `texels` zero texels (shared; never released before close,
        since recorded runs may refer to it); None when buffer textures are unavailable."""
        if self.raw_gl is None:
            return None
        if self._zeros is None or self._zeros.texels < texels:
            from .buffers import BufferTexture
            if self._zeros is not None:
                self._zeros_old.append(self._zeros)
            self._zeros = BufferTexture(self.ctx, self.raw_gl, np.zeros((max(texels, 1024), 4), np.float32))
        return self._zeros

    def _evict_derived(self, storage: Storage) -> None:
        for k in [k for k, (src, _) in self._derived.items() if src is storage]:
            _, value = self._derived.pop(k)
            self._release_derived(value)

    def _release_derived(self, value: Any) -> None:
        if isinstance(value, GLTensor):
            self.release(value)
        else:
            value.release()

    def reshape(self, t: GLTensor, shape: Sequence[int]) -> GLTensor:
        """Same values under a new shape: a view when the layout allows, else a copy."""
        shape = tuple(int(d) for d in shape)
        if t.storage is None:
            return GLTensor(None, plan_layout(shape, t.view.packed, self.max_texture_size), t.dtype)
        view = reshape_view(t.view, shape, self.max_texture_size)
        if view is not None:
            return self.share(t, view)
        return self.run("copy.glsl", "reshape", "element", {"X": Arg(t, elem=True)}, shape, t.dtype,
                        uniforms={"X_rowstr": _row_major(t.shape), "out_rowstr": _row_major(shape)},
                        packed=t.view.packed, label="Reshape(copy)")

    def relayout(self, t: GLTensor, packed: bool) -> GLTensor:
        """Copy into the standard layout with the given packing (or dense view for readback)."""
        return self.run("copy.glsl", "same_shape", "element", {"X": Arg(t, elem=True)}, t.shape, t.dtype,
                        packed=packed, label="Relayout")

    # -- upload / readback -----------------------------------------------------------
    def upload(self, array: np.ndarray, packed: bool | None = None, name: str = "tensor",
               origin: Any = None) -> GLTensor:
        """A new tensor holding `array`; `origin` is the caller's own array (a recording matches
        model inputs by it)."""
        dtype = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32", np.dtype(np.bool_): "bool"}[array.dtype]
        t = self.alloc(array.shape, dtype, packed, name)
        if t.storage is None:
            return t
        self.write_storage(t.storage, t.view, dtype, array)
        tape = self.tape
        if tape is not None and not tape.paused:
            tape.commands.append(UploadCmd(t.storage, t.view, dtype, array if origin is None else origin, array,
                                           tape.node))
        return t

    def write_storage(self, storage: Storage, view: View, dtype: str, array: np.ndarray) -> None:
        """Write `array` (the view's shape) into a texture laid out as `view` (a dense standard view)."""
        data = array.reshape(array.shape if array.ndim else (1,))
        if dtype == "bool":
            data = data.astype(np.int8)
        if view.packed:
            c = data.shape[-1]
            pad = (-c) % 4
            if pad:
                data = np.concatenate([data, np.zeros(data.shape[:-1] + (pad,), data.dtype)], axis=-1)
        comps = 4 if view.packed else 1
        flat = data.reshape(-1)
        pitch, rows = view.extent()
        used = pitch * rows * comps
        if flat.size != used:
            flat = np.concatenate([flat, np.zeros(used - flat.size, flat.dtype)])
        # unused columns (the power-of-two guard) are skipped
        storage.texture.write(flat.tobytes(), viewport=(0, 0, pitch, rows))

    def read(self, t: GLTensor) -> np.ndarray:
        npd = numpy_dtype(t.dtype)
        if t.storage is None:
            return np.zeros(t.shape, npd)
        if not t.view.is_dense():
            tmp = self.relayout(t, t.view.packed)
            try:
                return self.read(tmp)
            finally:
                self.release(tmp)
        tape = self.tape
        if tape is not None and not tape.paused:
            tape.commands.append(ReadCmd(t.storage, t.view, t.dtype, tape.node))
        return self.read_storage(t.storage, t.view, t.dtype)

    def read_storage(self, storage: Storage, view: View, dtype: str) -> np.ndarray:
        """The values of a dense view of a texture, as numpy."""
        npd = numpy_dtype(dtype)
        raw_dtype = np.int8 if dtype == "bool" else npd
        comps = 4 if view.packed else 1
        pitch, rows = view.extent()
        tw, th = storage.texture.size
        raw = np.frombuffer(storage.texture.read(), dtype=raw_dtype)
        if pitch != tw:              # drop the unused columns (the power-of-two guard)
            raw = raw.reshape(th, tw, comps)[:rows, :pitch].reshape(-1)
        raw = raw[: view.texels * comps]
        if view.packed:
            full = view.shape if view.shape else (1,)
            raw = raw.reshape(view.tshape[:-1] + (view.tshape[-1] * 4,))[..., : full[-1]]
        out = np.array(raw.reshape(view.shape), dtype=npd, copy=True)
        return out

    # -- running programs ------------------------------------------------------------
    def elementwise(self, kernel: str, section: str | None, inputs: Mapping[str, GLTensor],
                    out_shape: Sequence[int], out_dtype: str, defines: Sequence[tuple[str, str]] = (),
                    uniforms: Mapping[str, Any] | None = None, libs: Sequence[tuple[str, str | None]] = (),
                    label: str = "") -> GLTensor:
        """A texel program whose inputs are all read broadcast at the output coordinates."""
        return self.run(kernel, section, "texel", {k: Arg(v, "bcast") for k, v in inputs.items()}, out_shape,
                        out_dtype, defines=defines, uniforms=uniforms, libs=libs, label=label)

    def run(self, kernel: str, section: str | None, style: str, inputs: Mapping[str, Arg | GLTensor],
            out_shape: Sequence[int], out_dtype: str, *, uniforms: Mapping[str, Any] | None = None,
            defines: Sequence[tuple[str, str]] = (), libs: Sequence[tuple[str, str | None]] = (),
            packed: bool | None = None, label: str = "") -> GLTensor:
        t_alloc = time.perf_counter()
        allocations = self.pool.allocations
        out = self.alloc(tuple(out_shape), out_dtype, packed)
        if out.storage is None:
            return out
        alloc = ((time.perf_counter() - t_alloc) * 1e3, self.pool.allocations - allocations)
        ov = out.view
        out_rank = ov.rank
        specs: list[InputSpec] = []
        values: dict[str, Any] = {}
        textures: list[tuple[str, Storage]] = []
        buffers: list[tuple[str, Any]] = []
        for name, arg in inputs.items():
            if isinstance(arg, GLTensor):
                arg = Arg(arg)
            t = arg.tensor
            if arg.buffer is not None:
                specs.append(InputSpec(name, t.dtype, 1, True, "buffer"))
                buffers.append((name, arg.buffer))
                continue
            if t.storage is None:
                raise ValueError(f"{label or kernel}: input {name} is empty; empty inputs are handled before kernels run")
            if arg.view is not None:
                view = arg.view
            elif arg.access == "bcast":
                view = broadcast_view(t.view, out.shape)
            else:
                view = t.view
            mode = view.mode
            # 'frag': read at the fragment's own position; only for inputs read point-wise at the
            # output coordinates ('bcast') with exactly the output's layout
            if (arg.view is None and arg.access == "bcast" and not view.splat and view.packed == ov.packed and view.mode == ov.mode and view.tshape == ov.tshape
                    and view.strides == ov.strides and view.offset == ov.offset and view.width == ov.width
                    and view.pitch == ov.pitch):
                mode = "frag"
            specs.append(InputSpec(name, t.dtype, view.rank, view.packed, mode, view.splat, arg.elem))
            textures.append((name, t.storage))
            _input_uniforms(values, name, view, t.view, mode, "own" if arg.view is not None else arg.access)
        _output_uniforms(values, ov)
        if uniforms:
            values.update(uniforms)
        spec = ProgramSpec(kernel, section, style, tuple(specs), OutputSpec(out_dtype, out_rank, ov.packed, ov.mode),
                           tuple(defines), tuple(libs), label=label or kernel)
        self.draw(spec, out, textures, values, alloc, buffers)
        return out

    def draw(self, spec: ProgramSpec, out: GLTensor, textures: Sequence[tuple[str, Storage]],
             values: Mapping[str, Any], alloc: tuple[float, int] = (0.0, 0),
             buffers: Sequence[tuple[str, Any]] = ()) -> None:
        prof = self.profiler
        t0 = time.perf_counter()
        prog, compiled_now = self.programs.lookup(spec)
        t1 = time.perf_counter()
        storage = out.storage
        assert storage is not None
        alloc_ms = alloc[0]
        if storage.fbo is None:
            storage.fbo = self.ctx.framebuffer(color_attachments=[storage.texture])
            alloc_ms += (time.perf_counter() - t1) * 1e3
        storage.fbo.use()
        ew, eh = out.view.extent()
        # shade only the texels the tensor uses; always set: moderngl keeps a viewport per framebuffer,
        # and a pooled texture's framebuffer may remember another tensor's
        self.ctx.viewport = (0, 0, ew, eh)
        units = prog.units
        for name, st in textures:
            unit = units.get(name)
            if unit is not None:  # None: the sampler was optimised away
                st.texture.use(unit)
        for name, bt in buffers:
            unit = units.get(name)
            if unit is not None:
                bt.bind(unit)
        tape = self.tape
        if tape is not None and not tape.paused:
            tape.commands.append(DrawCmd(
                prog, storage, (0, 0, ew, eh),
                tuple((units[n], st.texture) for n, st in textures if units.get(n) is not None),
                tuple((units[n], bt) for n, bt in buffers if units.get(n) is not None),
                dict(values), tape.node))
        _set_uniforms(prog, values)
        jit_ms = 0.0
        if prog.draws == 0:
            # llvmpipe and most drivers generate machine code at the first draw, not at link: pay it
            # on a 1x1 viewport, alone, so it is measured (and never mixed into a kernel's time)
            tj = time.perf_counter()
            self.ctx.viewport = (0, 0, 1, 1)
            prog.vao.render(moderngl.TRIANGLE_STRIP)
            self.ctx.finish()
            self.ctx.viewport = (0, 0, ew, eh)
            jit_ms = (time.perf_counter() - tj) * 1e3
            prog.first_draw_ms = jit_ms
            self.programs.first_draw_ms += jit_ms
        t2 = time.perf_counter()
        prog.vao.render(moderngl.TRIANGLE_STRIP)
        prog.draws += 1
        self.draws += 1
        if prof is not None:
            self.ctx.finish()
            t3 = time.perf_counter()
            prof.draw(DrawEvent(spec.label, spec.describe(), (t0 - prof.t0) * 1e3,
                                compile_ms=(t1 - t0) * 1e3 if compiled_now else 0.0, jit_ms=jit_ms,
                                gpu_ms=(t3 - t2) * 1e3, alloc_ms=alloc_ms, new_textures=alloc[1],
                                out_bytes=storage.nbytes, cache_hit=not compiled_now))
        if self.on_draw is not None:
            record = DrawRecord(spec.label, spec, storage.nbytes, compiled_now, jit_ms > 0)
            record.wall_ms = (time.perf_counter() - t0) * 1e3
            self.on_draw(record)

    def close(self) -> None:
        for buf in self._zeros_old + ([self._zeros] if self._zeros is not None else []):
            buf.release()
        for _, value in list(self._derived.values()):
            self._release_derived(value)
        self._derived.clear()
        self.programs.close()
        self.pool.close()


def _row_major(shape: Sequence[int]) -> list[int]:
    out = []
    acc = 1
    for d in reversed(tuple(shape) or (1,)):
        out.append(acc)
        acc *= d
    return list(reversed(out))


def _input_uniforms(values: dict[str, Any], name: str, view: View, own: View, mode: str, access: str) -> None:
    values.update(_input_uniform_items(name, view, own.shape, mode, access))


@lru_cache(maxsize=8192)
def _input_uniform_items(name: str, view: View, own_shape: tuple[int, ...], mode: str,
                         access: str) -> tuple[tuple[str, Any], ...]:
    """The uniforms describing how input `name` is read, serialised once per (view, access)."""
    shape = view.shape if view.shape else (1,)
    if access == "bcast":
        # broadcast dims report the input's own size (1); missing leading dims are 1
        own_shape = own_shape if own_shape else (1,)
        shape = (1,) * (len(shape) - len(own_shape)) + tuple(own_shape)
    items: list[tuple[str, Any]] = [(f"{name}_shape", np.asarray(shape, dtype="i4").tobytes())]
    if mode == "L":
        items.append((f"{name}_str", np.asarray(view.strides, dtype="i4").tobytes()))
        items.append((f"{name}_off", np.asarray(view.offset, dtype="i4").tobytes()))
    elif mode == "F":
        items.append((f"{name}_fstr", np.asarray([s for s, _ in view.strides], dtype="i4").tobytes()))
        items += [(f"{name}_foff", int(view.offset[0])), (f"{name}_w", int(view.pitch)),
                  (f"{name}_wrcp", 1.0 / view.pitch)]
    return tuple(items)


@lru_cache(maxsize=4096)
def _output_uniform_items(view: View) -> tuple[tuple[str, Any], ...]:
    shape = view.shape if view.shape else (1,)
    dec = []
    for (sx, sy), size in zip(view.strides, view.tshape):
        if view.mode == "F":
            dec.append((2, sx, size))
        elif sx:
            dec.append((0, sx, size))
        else:
            dec.append((1, sy, size))
    items: list[tuple[str, Any]] = [
        ("out_shape", np.asarray(shape, dtype="i4").tobytes()),
        ("out_dec", np.asarray(dec, dtype="i4").tobytes()),
        ("out_rcp", np.asarray([(1.0 / s, 1.0 / n) for _, s, n in dec], dtype="f4").tobytes())]
    if view.mode == "F":
        items += [("out_w", int(view.pitch)), ("out_n", int(view.texels))]
    return tuple(items)


def _output_uniforms(values: dict[str, Any], view: View) -> None:
    values.update(_output_uniform_items(view))
