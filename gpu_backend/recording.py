"""Record the GL commands of one inference and replay them for the next ones.

A static graph run twice at the same input shapes issues the same draws, with the same programs,
uniforms and textures, in the same order: only the input values differ.  Planning each node again
(kernel selection, layouts, uniform packing, texture-pool traffic) costs about 0.1 ms of Python per
draw, a fifth of mobilenet_v2's warm time on llvmpipe.  So the first run at given shapes is recorded:
every upload, draw and readback, with the textures it touched.  Those textures are then taken out of
the pool for the recording alone, and later runs replay the commands: the new inputs are written into
the recorded input textures, the draws are issued again, and the recorded outputs are read.

A run can be replayed only if nothing in it depended on tensor values: any readback other than
the outputs (a fallback op, a kernel reading a scalar, a data-dependent shape) makes the recording
invalid, and the caller simply keeps running normally.  Uploads that are not model inputs (small
constants a kernel builds from shapes) are replayed with their recorded data.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .dtypes import to_backend_array
from .layout import View
from .profiling import DrawEvent, TransferEvent
from .programs import set_uniforms as _set_uniforms
from .textures import Storage

if TYPE_CHECKING:
    from .programs import CompiledProgram
    from .profiling import Profiler
    from .runner import ProgramRunner


@dataclass
class UploadCmd:
    storage: Storage
    view: View
    dtype: str
    origin: Any                    # the array the caller passed (matched against the feeds)
    data: np.ndarray               # its backend form (replayed when it is not a feed)
    node: tuple[str, ...] | None
    feed: str | None = None


@dataclass
class DrawCmd:
    prog: "CompiledProgram"
    storage: Storage
    viewport: tuple[int, int, int, int]
    textures: tuple[tuple[int, Any], ...]
    buffers: tuple[tuple[int, Any], ...]
    values: Mapping[str, Any]
    node: tuple[str, ...] | None


@dataclass
class ReadCmd:
    storage: Storage
    view: View
    dtype: str
    node: tuple[str, ...] | None


OUTPUTS = ("outputs", "Identity", "read", "graph")   # the label of the final output reads


@dataclass
class Tape:
    """What a run did, as it did it.  The executor sets `node` before each node (for profiles) and
    calls outputs() before it reads the outputs: a read before that depended on tensor values."""

    commands: list[Any] = field(default_factory=list)
    node: tuple[str, ...] | None = None
    paused: int = 0
    invalid: str | None = None      # set by the caller when the run did something a replay cannot redo

    def outputs(self) -> None:
        self.node = OUTPUTS


class Recording:
    """A replayable inference: commands, the textures they own, and which uploads are inputs."""

    def __init__(self, runner: "ProgramRunner", commands: list[Any], owned: list[Storage]) -> None:
        self.runner = runner
        self.commands = commands
        self.owned = owned
        self.feeds = [c.feed for c in commands if isinstance(c, UploadCmd) and c.feed is not None]
        self.draws = sum(1 for c in commands if isinstance(c, DrawCmd))
        self.nbytes = sum(s.nbytes for s in owned)

    def replay(self, feeds: Mapping[str, np.ndarray], profiler: "Profiler | None" = None) -> list[np.ndarray]:
        """Run the recorded commands with new input values; returns the outputs in fetch order."""
        if self.runner is None:
            raise RuntimeError("this recording was released")
        runner = self.runner
        ctx = runner.ctx
        outputs: list[np.ndarray] = []
        node_ev = None
        current: tuple[str, ...] | None = None
        for cmd in self.commands:
            if profiler is not None and cmd.node != current:
                if node_ev is not None:
                    profiler.end_node(node_ev)
                current = cmd.node
                node_ev = profiler.begin_node(*current) if current is not None else None
            t0 = time.perf_counter()
            if type(cmd) is DrawCmd:
                cmd.storage.fbo.use()
                ctx.viewport = cmd.viewport
                for unit, texture in cmd.textures:
                    texture.use(unit)
                for unit, buffer in cmd.buffers:
                    buffer.bind(unit)
                _set_uniforms(cmd.prog, cmd.values)
                t1 = time.perf_counter()
                cmd.prog.vao.render(_TRIANGLE_STRIP)
                runner.draws += 1
                if profiler is not None:
                    ctx.finish()
                    t2 = time.perf_counter()
                    profiler.draw(DrawEvent(cmd.prog.spec.label, cmd.prog.spec.describe(), (t0 - profiler.t0) * 1e3,
                                            gpu_ms=(t2 - t1) * 1e3, out_bytes=cmd.storage.nbytes))
            elif type(cmd) is UploadCmd:
                data = to_backend_array(feeds[cmd.feed], cmd.feed) if cmd.feed is not None else cmd.data
                if data.shape != cmd.data.shape or data.dtype != cmd.data.dtype:
                    raise ValueError(f"replay: input {cmd.feed!r} is {list(data.shape)} {data.dtype}, the recording "
                                     f"was made for {list(cmd.data.shape)} {cmd.data.dtype}")
                runner.write_storage(cmd.storage, cmd.view, cmd.dtype, data)
                if profiler is not None:
                    ctx.finish()
                    profiler.transfer(TransferEvent("upload", data.nbytes, (time.perf_counter() - t0) * 1e3,
                                                    (t0 - profiler.t0) * 1e3, "replay"))
            else:
                if profiler is not None:
                    ctx.finish()
                    t0 = time.perf_counter()
                out = runner.read_storage(cmd.storage, cmd.view, cmd.dtype)
                outputs.append(out)
                if profiler is not None:
                    profiler.transfer(TransferEvent("readback", out.nbytes, (time.perf_counter() - t0) * 1e3,
                                                    (t0 - profiler.t0) * 1e3, str(list(out.shape))))
        if node_ev is not None and profiler is not None:
            profiler.end_node(node_ev)
        return outputs

    def release(self) -> None:
        """Give the recording's textures back to the pool."""
        if self.runner is None:
            return
        for storage in self.owned:
            self.runner.pool.release(storage)
        self.owned = []
        self.commands = []
        self.runner = None  # type: ignore[assignment]


def finish_recording(runner: "ProgramRunner", tape: Tape, feeds: Mapping[str, np.ndarray],
                     n_outputs: int) -> tuple[Recording | None, str]:
    """Turn a finished run's tape into a Recording, or (None, why not)."""
    if tape.invalid:
        return None, tape.invalid
    by_id = {id(a): name for name, a in feeds.items()}
    reads = 0
    for cmd in tape.commands:
        if isinstance(cmd, UploadCmd):
            name = by_id.get(id(cmd.origin))
            if name is not None and feeds[name] is cmd.origin:
                cmd.feed = name
        elif isinstance(cmd, ReadCmd):
            if cmd.node != OUTPUTS:
                return None, (f"node {cmd.node[0] if cmd.node else '?'!r} read a tensor back during the run: "
                              "the run depends on tensor values (a fallback op or a data-dependent shape)")
            reads += 1
    if reads != n_outputs:
        return None, (f"{n_outputs - reads} of the {n_outputs} outputs are host values (computed from shapes "
                      "on the CPU), which a replay does not reproduce")
    if not any(isinstance(c, DrawCmd) for c in tape.commands):
        return None, "the run drew nothing"
    seen: dict[int, Storage] = {}
    for cmd in tape.commands:
        # every texture the run wrote; what it only read is a weight or was written earlier in the run
        if not isinstance(cmd, ReadCmd):
            seen.setdefault(id(cmd.storage), cmd.storage)
    owned: list[Storage] = []
    for storage in seen.values():
        if storage.refs > 0:
            continue                 # owned elsewhere and alive: a weight or a prepared copy of one
        if not runner.pool.claim(storage):
            for s in owned:
                runner.pool.release(s)
            return None, "a texture the run used was deleted from the pool before it could be kept"
        owned.append(storage)
    for cmd in tape.commands:
        if isinstance(cmd, DrawCmd):
            cmd.values = {k: _uniform_bytes(v) for k, v in cmd.values.items() if k in cmd.prog.uniforms}
    return Recording(runner, tape.commands, owned), ""


def _uniform_bytes(value: Any) -> Any:
    """Lists and arrays as the bytes set_uniforms would write, converted once instead of per replay."""
    if isinstance(value, (list, tuple)):
        value = np.asarray(value, dtype="i4" if all(isinstance(v, (int, np.integer)) for v in value) else "f4")
    if isinstance(value, np.ndarray):
        return value.tobytes()
    return value


_TRIANGLE_STRIP = 5    # moderngl.TRIANGLE_STRIP
