"""Profiling one inference: where every millisecond goes, node by node.

While a Profiler is attached to a GLBackend (``backend.profiler = Profiler()``), every draw is
synchronous (glFinish after it) and timed, and the executor reports node boundaries.  Categories:

  compile_link   GLSL compile + link of programs new to the cache
  driver_jit     the driver's first-draw compile (llvmpipe and most drivers generate machine code at
                 the first draw, not at link); paid by a 1x1 priming draw so it is measured alone
  gpu            draw execution (wall time around draw + glFinish; llvmpipe's GL_TIME_ELAPSED misses
                 its raster threads, so wall time is the honest measure)
  texture_alloc  creating textures and framebuffers the pool could not reuse
  upload         numpy -> texture (texImage), including weights uploaded during the run
  readback       texture -> numpy (read back of outputs, and of small tensors the host needs)
  host           numpy kernels (fallback ops and small host-side shape arithmetic)
  dispatch       the rest of each node's time: Python work of the executor, kernel and runner
  outside        time of the run outside any node (input checks, scheduling, output conversion)

They add up to the run's wall time by construction *of measurement*: each is timed where it
happens, and ``unattributed_ms`` (wall minus their sum) is reported so a test can check it is small.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

CATEGORIES = ("compile_link", "driver_jit", "gpu", "texture_alloc", "upload", "readback", "host", "dispatch",
              "outside")


@dataclass
class DrawEvent:
    label: str
    program: str
    start_ms: float
    compile_ms: float = 0.0
    jit_ms: float = 0.0
    gpu_ms: float = 0.0
    alloc_ms: float = 0.0
    new_textures: int = 0
    out_bytes: int = 0
    cache_hit: bool = True


@dataclass
class TransferEvent:
    kind: str            # upload | readback
    nbytes: int
    ms: float
    start_ms: float
    what: str = ""


@dataclass
class NodeEvent:
    name: str
    op: str
    kernel: str
    placement: str
    start_ms: float
    ms: float = 0.0
    host_ms: float = 0.0
    draws: list[DrawEvent] = field(default_factory=list)
    transfers: list[TransferEvent] = field(default_factory=list)

    def measured_ms(self) -> float:
        return (self.host_ms + sum(d.compile_ms + d.jit_ms + d.gpu_ms + d.alloc_ms for d in self.draws)
                + sum(t.ms for t in self.transfers))


class Profiler:
    """Collects events; GLBackend, ProgramRunner and the executor call the hooks."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.nodes: list[NodeEvent] = []
        self.loose_draws: list[DrawEvent] = []          # draws outside any node (e.g. outputs' relayout)
        self.loose_transfers: list[TransferEvent] = []
        self.current: NodeEvent | None = None
        self.wall_ms = 0.0
        self.meta: dict[str, Any] = {}

    def now_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1e3

    # -- hooks -----------------------------------------------------------------------------
    def begin_node(self, name: str, op: str, kernel: str, placement: str) -> NodeEvent:
        ev = NodeEvent(name, op, kernel, placement, self.now_ms())
        self.current = ev
        return ev

    def end_node(self, ev: NodeEvent) -> None:
        ev.ms = self.now_ms() - ev.start_ms
        self.nodes.append(ev)
        self.current = None

    def draw(self, ev: DrawEvent) -> None:
        (self.current.draws if self.current is not None else self.loose_draws).append(ev)

    def transfer(self, ev: TransferEvent) -> None:
        (self.current.transfers if self.current is not None else self.loose_transfers).append(ev)

    def host(self, ms: float) -> None:
        if self.current is not None:
            self.current.host_ms += ms

    # -- results ---------------------------------------------------------------------------
    def categories(self) -> dict[str, float]:
        cat = dict.fromkeys(CATEGORIES, 0.0)
        draws = [d for n in self.nodes for d in n.draws] + self.loose_draws
        transfers = [t for n in self.nodes for t in n.transfers] + self.loose_transfers
        for d in draws:
            cat["compile_link"] += d.compile_ms
            cat["driver_jit"] += d.jit_ms
            cat["gpu"] += d.gpu_ms
            cat["texture_alloc"] += d.alloc_ms
        for t in transfers:
            cat[t.kind] += t.ms
        for n in self.nodes:
            cat["host"] += n.host_ms
            cat["dispatch"] += max(n.ms - n.measured_ms(), 0.0)
        in_nodes = sum(n.ms for n in self.nodes)
        loose = sum(d.compile_ms + d.jit_ms + d.gpu_ms + d.alloc_ms for d in self.loose_draws) + sum(
            t.ms for t in self.loose_transfers)
        cat["outside"] = max(self.wall_ms - in_nodes - loose, 0.0)
        return {k: round(v, 4) for k, v in cat.items()}

    def unattributed_ms(self) -> float:
        return self.wall_ms - sum(self.categories().values())

    def summary(self) -> dict[str, Any]:
        draws = [d for n in self.nodes for d in n.draws] + self.loose_draws
        transfers = [t for n in self.nodes for t in n.transfers] + self.loose_transfers
        by_kernel: dict[str, dict[str, float]] = {}
        for n in self.nodes:
            k = by_kernel.setdefault(n.kernel or n.op, {"nodes": 0, "ms": 0.0, "gpu_ms": 0.0})
            k["nodes"] += 1
            k["ms"] += n.ms
            k["gpu_ms"] += sum(d.gpu_ms for d in n.draws)
        placements = Counter(n.placement for n in self.nodes)
        return {
            "wall_ms": round(self.wall_ms, 4),
            "categories_ms": self.categories(),
            "unattributed_ms": round(self.unattributed_ms(), 4),
            "nodes": len(self.nodes),
            "placements": dict(placements),
            "draws": len(draws),
            "programs_compiled": sum(1 for d in draws if not d.cache_hit),
            "first_draws": sum(1 for d in draws if d.jit_ms > 0),
            "textures_created": sum(d.new_textures for d in draws),
            "uploads": {"count": sum(1 for t in transfers if t.kind == "upload"),
                        "bytes": sum(t.nbytes for t in transfers if t.kind == "upload")},
            "readbacks": {"count": sum(1 for t in transfers if t.kind == "readback"),
                          "bytes": sum(t.nbytes for t in transfers if t.kind == "readback")},
            "by_kernel": {k: {kk: round(vv, 4) if isinstance(vv, float) else vv for kk, vv in v.items()}
                          for k, v in sorted(by_kernel.items(), key=lambda kv: -kv[1]["ms"])},
            **self.meta,
        }

    def nodes_as_dicts(self) -> list[dict[str, Any]]:
        return [asdict(n) for n in self.nodes]

    def chrome_trace(self, pid: int = 1, label: str = "inference") -> dict[str, Any]:
        """Trace Event Format (opens in Perfetto / chrome://tracing): one slice per node on the
        'nodes' track and one per category on the 'work' track, in microseconds."""
        events: list[dict[str, Any]] = [
            {"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": label}},
            {"name": "thread_name", "ph": "M", "pid": pid, "tid": 1, "args": {"name": "nodes"}},
            {"name": "thread_name", "ph": "M", "pid": pid, "tid": 2, "args": {"name": "work"}},
        ]

        def slice_(name: str, cat: str, start_ms: float, dur_ms: float, tid: int, args: dict | None = None) -> None:
            events.append({"name": name, "cat": cat, "ph": "X", "pid": pid, "tid": tid,
                           "ts": round(start_ms * 1e3, 3), "dur": round(max(dur_ms, 0.0) * 1e3, 3),
                           "args": args or {}})

        for n in self.nodes:
            slice_(n.name, n.placement, n.start_ms, n.ms, 1, {"op": n.op, "kernel": n.kernel})
            t = n.start_ms
            for d in n.draws:
                t = d.start_ms
                for cat, ms in (("compile_link", d.compile_ms), ("texture_alloc", d.alloc_ms),
                                ("driver_jit", d.jit_ms), ("gpu", d.gpu_ms)):
                    if ms > 0:
                        slice_(f"{d.label} {cat}", cat, t, ms, 2, {"program": d.program})
                        t += ms
            for tr in n.transfers:
                slice_(f"{tr.kind} {tr.what}".strip(), tr.kind, tr.start_ms, tr.ms, 2, {"bytes": tr.nbytes})
            if n.host_ms > 0:
                slice_(f"{n.op} (numpy)", "host", n.start_ms + n.ms - n.host_ms, n.host_ms, 2)
        for tr in self.loose_transfers:
            slice_(f"{tr.kind} {tr.what}".strip(), tr.kind, tr.start_ms, tr.ms, 2, {"bytes": tr.nbytes})
        return {"traceEvents": events, "displayTimeUnit": "ms"}

    def write_trace(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.chrome_trace(), f)
