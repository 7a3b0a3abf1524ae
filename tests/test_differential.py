"""Randomized differential test against TensorFlow's raw ops (tests/fixtures/differential.npz).

The fixture is recorded by tests/fixtures/make_differential.py (TF 2.19 on CPU): random shapes of rank
0..6 with size-0 and odd dims, broadcasting, and random valid attribute values, each run through the
TF raw op in a one-node graph whose NodeDef is stored as TF built it.  Here every case becomes a
one-node model.json (Placeholders for the data inputs, Consts for what the mapper reads on the host),
loaded on the numpy reference (every case) and on GL (a per-op sample, see GL_CASES_PER_OP; the
report runs them all), and compared with TF's outputs: same dtype (TF's int64 is int32 here), ints
and bools exact, floats within a tolerance scaled by the output's magnitude.  A case TF refused must
be refused here too (at load or at run).

A case that does not match is either fixed or listed in KNOWN_FAILURES with its reason; a listed case
that starts passing fails the test too, so the table stays true.  The coverage figures (ops, op x
attribute combinations, cases, passes per backend, known failures) come from
    PYTHONPATH=. python bench/differential_report.py
Run the test alone with
    PYTHONPATH=. python -m pytest -q -p no:cacheprovider tests/test_differential.py
"""
from __future__ import annotations

import json
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "differential.npz"

# (case, backend) -> why it fails; backend is "numpy" or "gl".  Counted and reported, never skipped.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}

# ops whose later outputs are TF's own scratch values, not results a graph can consume:
# FusedBatchNorm* (inference) return batch statistics and reserve spaces whose contents TF leaves implementation-defined.
COMPARED_OUTPUTS: dict[str, int] = {"FusedBatchNorm": 1, "FusedBatchNormV2": 1, "FusedBatchNormV3": 1}

def _unordered_top_k(case: "DiffCase", outs: list[np.ndarray]) -> list[np.ndarray]:
    """TopKV2 with sorted=false returns the k largest in an unspecified order (TF's CPU kernel gives
    them in neither input nor sorted order): put values and indices in sorted order before comparing."""
    if case.node.get("attr", {}).get("sorted", {}).get("b", True):
        return outs
    values, indices = outs[0], outs[1].astype(np.int64)
    order = np.lexsort((indices, -values.astype(np.float64)), axis=-1)
    return [np.take_along_axis(values, order, -1), np.take_along_axis(outs[1], order, -1)]


# op -> canonical form of both sides' outputs where TF leaves an order unspecified
CANONICAL = {"TopKV2": _unordered_top_k}

# Both backends were within 7e-7 of TF relative to |x| + 0.1 * magnitude on every case when these
# were set; they leave about 6x headroom, far tighter than a GL-vs-CPU comparison usually allows.
RTOL = 4e-6
ATOL = 4e-7          # times max(1, the largest finite |output|) of the case
# op -> factor on both tolerances.  ImageProjectiveTransformV3 maps every output pixel through a
# float32 projective transform before interpolating, and GL and TF round those coordinates apart by
# about 1 ulp: 2.2e-6 off on one pixel of one case (ImageProjectiveTransformV3_004) at the default.
LOOSE: dict[str, float] = {"ImageProjectiveTransformV3": 10.0}


@dataclass(frozen=True)
class DiffCase:
    name: str
    op: str
    node: dict[str, Any]
    const: tuple[int, ...]
    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...] | None     # None: TF refused the case
    error: str | None

    def combination(self) -> str:
        """The (op, attribute values) pair this case exercises: every attr of the NodeDef, type attrs
        included (a Sum over int32 and one over float32 are different combinations)."""
        return json.dumps([self.op, self.node.get("attr", {})], sort_keys=True)

    def combination_with_params(self) -> str:
        """The same, plus the values of the constant inputs that act as attributes in TF (a Sum's axes,
        a Transpose's perm, a StridedSlice's begin/end/strides, a Pad's paddings)."""
        params = [self.inputs[k].tolist() for k in self.const]
        return json.dumps([self.op, self.node.get("attr", {}), params], sort_keys=True)


def load_cases(path: Path = FIXTURE) -> list[DiffCase]:
    with np.load(path) as z:
        keys = set(z.files)
        names = sorted({k.split("/")[0] for k in keys})
        cases = []
        for name in names:
            meta = json.loads(str(z[f"{name}/node"]))
            ins = tuple(z[f"{name}/in{k}"] for k in range(len(keys)) if f"{name}/in{k}" in keys)
            error = str(z[f"{name}/error"]) if f"{name}/error" in keys else None
            outs = None if error else tuple(z[f"{name}/out{k}"] for k in range(64) if f"{name}/out{k}" in keys)
            cases.append(DiffCase(name, meta["node"]["op"], meta["node"], tuple(meta["const"]), ins, outs, error))
    return cases


def _dtype_name(a: np.ndarray) -> str:
    return {"f": "float32", "i": "int32", "b": "bool"}[a.dtype.kind]


def build_model(case: DiffCase, backend: Any) -> Any:
    """The one-node model.json of a case, loaded on `backend` (not strict: host fallbacks are allowed)."""
    import model_builder as mb
    from loader import load_graph_model
    from loader.sources import MemorySource

    nodes, weights, sig_in = [], {}, {}
    for k, x in enumerate(case.inputs):
        name = f"in{k}"
        dt = _dtype_name(x)
        if k in case.const:
            nodes.append(mb.const(name, dt))
            weights[name] = x.astype(dt)
        else:
            nodes.append(mb.placeholder(name, list(x.shape), dt))
            sig_in[name] = (f"{name}:0", list(x.shape), dt)
    nodes.append(case.node)
    if case.outputs is None:
        sig_out = {"out0": ("node:0", [], "float32")}
    else:
        outs = case.outputs[:COMPARED_OUTPUTS.get(case.op, len(case.outputs))]
        sig_out = {f"out{k}": (f"node:{k}", list(o.shape), _dtype_name(o)) for k, o in enumerate(outs)}
    doc, files = mb.model_json(nodes, weights, mb.signature(sig_in, sig_out))
    return load_graph_model(MemorySource(doc, files, case.name), backend=backend, strict=False)


# case name -> where its node ran on the last GL run ("device" or "host" for ops without a GL kernel)
PLACEMENT: dict[str, str] = {}


def run_case(case: DiffCase, backend: Any) -> list[np.ndarray]:
    with warnings.catch_warnings():   # the "no gl kernel yet, runs on the numpy fallback" notice
        warnings.simplefilter("ignore", UserWarning)
        model = build_model(case, backend)
    try:
        plan = model.executor.plans.get("node")
        if backend != "numpy":
            PLACEMENT[case.name] = plan.kind if plan is not None else "folded"
        feeds = {f"in{k}": x for k, x in enumerate(case.inputs) if k not in case.const}
        got = model.predict(feeds)
        return [got[f"node:{k}"] for k in range(len(got))]
    finally:
        model.dispose()


def compare(got: np.ndarray, want: np.ndarray, op: str) -> str | None:
    """None when `got` matches TF's `want`, else what differs."""
    want = want.astype(np.int32) if want.dtype == np.int64 else want
    got = np.asarray(got)
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != TF's {list(want.shape)}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != TF's {want.dtype}"
    if want.dtype.kind != "f":
        bad = got != want
        if bad.any():
            i = np.argwhere(bad)[0]
            return f"{int(bad.sum())}/{bad.size} differ, first at {i.tolist()}: {got[tuple(i)]} != {want[tuple(i)]}"
        return None
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    if (nan_g != nan_w).any():
        i = np.argwhere(nan_g != nan_w)[0]
        return f"NaN placement differs, first at {i.tolist()}: {got[tuple(i)]} vs TF's {want[tuple(i)]}"
    fin = np.isfinite(want)
    inf = ~fin & ~nan_w
    if (got[inf] != want[inf]).any():
        return "infinities differ"
    mag = max(1.0, float(np.abs(want[fin]).max())) if fin.any() else 1.0
    err = np.abs(got[fin].astype(np.float64) - want[fin])
    tol = LOOSE.get(op, 1.0) * (ATOL * mag + RTOL * np.abs(want[fin]))
    if (err > tol).any():
        j = int(np.argmax(err - tol))
        return (f"{int((err > tol).sum())}/{err.size} beyond tolerance, worst {got[fin][j]!r} vs TF's "
                f"{want[fin][j]!r} (|err| {err[j]:.3g})")
    return None


def check_case(case: DiffCase, backend: Any) -> str | None:
    """None when the backend agrees with TF on the case, else a one-line reason."""
    if case.outputs is None:    # TF refused: this runtime must refuse too, at load or at run
        try:
            run_case(case, backend)
        except Exception:
            return None
        return f"TF refuses ({case.error[:120]}) but this runtime ran it"
    try:
        got = run_case(case, backend)
    except Exception as e:
        return f"raised {type(e).__name__}: {' '.join(str(e).split())[:200]}"
    n = COMPARED_OUTPUTS.get(case.op, len(case.outputs))
    if len(got) < n:
        return f"{len(got)} outputs, TF has {len(case.outputs)}"
    want = list(case.outputs)
    if case.op in CANONICAL:
        got, want = CANONICAL[case.op](case, got), CANONICAL[case.op](case, want)
    for k in range(n):
        why = compare(got[k], want[k], case.op)
        if why:
            return f"output {k}: {why}"
    return None


CASES = load_cases()
BY_OP: dict[str, list[DiffCase]] = defaultdict(list)
for _c in CASES:
    BY_OP[_c.op].append(_c)

# GL compiles one shader program per distinct structure (op, rank, dtypes, broadcast pattern), and
# llvmpipe's first draw of a program costs ~0.2-1 s of JIT on a cold shader cache: all ~1270 cases
# compile ~700 programs (minutes cold, ~10 s once Mesa's disk cache holds them).  So the test runs at
# most GL_CASES_PER_OP cases of each op on GL: first one per distinct attribute combination, then the
# rest in fixture order.  DIFFERENTIAL_GL_CASES=all (or a number) widens it; the report command runs
# every case on GL.  The numpy reference always runs every case.
GL_CASES_PER_OP: int | None = (None if os.environ.get("DIFFERENTIAL_GL_CASES", "3") == "all"
                               else int(os.environ.get("DIFFERENTIAL_GL_CASES", "3")))


def gl_cases(op: str) -> list[DiffCase]:
    chosen: list[DiffCase] = []
    seen: set[str] = set()
    for c in BY_OP[op]:
        if c.combination() not in seen:
            seen.add(c.combination())
            chosen.append(c)
    names = {c.name for c in chosen}
    chosen += [c for c in BY_OP[op] if c.name not in names]
    return chosen if GL_CASES_PER_OP is None else chosen[:GL_CASES_PER_OP]


def check_op(op: str, backend: Any, label: str) -> tuple[dict[str, str], list[str], list[str]]:
    """(failures by case, unexpected failures, known failures that now pass) of one op on one backend."""
    cases = BY_OP[op] if label == "numpy" else gl_cases(op)
    failures = {c.name: why for c in cases if (why := check_case(c, backend))}
    names = {c.name for c in cases}
    known = {case for (case, b) in KNOWN_FAILURES if b == label and case in names}
    unexpected = [f"{c}: {why}" for c, why in failures.items() if c not in known]
    stale = sorted(known - set(failures))
    return failures, unexpected, stale


@pytest.mark.parametrize("op", sorted(BY_OP))
def test_numpy_matches_tensorflow(op):
    _, unexpected, stale = check_op(op, "numpy", "numpy")
    assert not unexpected, f"{op} on numpy:\n" + "\n".join(unexpected)
    assert not stale, f"{op} on numpy: known failures now pass, remove them: {stale}"


@pytest.mark.parametrize("op", sorted(BY_OP))
def test_gl_matches_tensorflow(gl, op):
    _, unexpected, stale = check_op(op, gl, "gl")
    assert not unexpected, f"{op} on GL:\n" + "\n".join(unexpected)
    assert not stale, f"{op} on GL: known failures now pass, remove them: {stale}"


def test_fixture_covers_what_it_claims():
    """The fixture is not a handful of cases: many ops, most cases valid, random ranks 0..6."""
    ranks = {x.ndim for c in CASES for x in c.inputs}
    assert len(BY_OP) >= 100 and len(CASES) >= 800
    assert sum(c.outputs is None for c in CASES) <= 2 * len(BY_OP)
    assert ranks >= set(range(7))
    assert any(0 in x.shape for c in CASES for x in c.inputs)


def test_compare_catches_a_corrupted_expectation():
    """The comparison can fail: a changed float, a changed int and a changed dtype are all caught."""
    f = next(c for c in CASES if c.op == "Tanh" and c.outputs and c.outputs[0].size > 1)
    want = f.outputs[0].copy()
    got = run_case(f, "numpy")[0]
    assert compare(got, want, f.op) is None
    want.flat[-1] += 0.01
    assert compare(got, want, f.op)
    i = next(c for c in CASES if c.op == "FloorDiv" and c.outputs and c.outputs[0].dtype == np.int32
             and c.outputs[0].size)
    want_i = i.outputs[0].copy()
    want_i.flat[0] += 1
    assert compare(run_case(i, "numpy")[0], want_i, i.op)
    assert compare(got.astype(np.int32), f.outputs[0].astype(np.int32).astype(np.int64), f.op) is None
    assert compare(got, f.outputs[0].astype(np.int32), f.op)
