"""Coverage and pass counts of the TF differential test (tests/test_differential.py); the README quotes them.

    PYTHONPATH=. python bench/differential_report.py          # both backends (GL: headless EGL)
    PYTHONPATH=. python bench/differential_report.py --numpy  # the reference only
    PYTHONPATH=. python bench/differential_report.py --gl-cases 3   # GL on the test's per-op sample
    PYTHONPATH=. python bench/differential_report.py --layout unpacked   # GL's other texture layout

It replays tests/fixtures/differential.npz with the test's own code (same comparison, same
KNOWN_FAILURES table), but on GL it runs every case by default where the test samples a few per op and prints: ops covered, op x attribute combinations
(distinct (op, NodeDef attribute values) pairs; type attributes count, so Sum over int32 and over float32
are two), cases (and how many TF refused; this runtime must refuse those too), passes per backend, GL
cases whose op has no GL kernel and ran on the host fallback, and known failures by op.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import test_differential as td  # noqa: E402
from loader.op_mapping import OPS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--numpy", action="store_true", help="run the numpy reference only")
    ap.add_argument("--layout", default="packed", choices=["packed", "unpacked"], help="GL texture layout")
    ap.add_argument("--gl-cases", default="all", help="GL cases per op: 'all' (default) or a number")
    args = ap.parse_args()
    td.GL_CASES_PER_OP = None if args.gl_cases == "all" else int(args.gl_cases)

    cases = td.CASES
    valid = [c for c in cases if c.outputs is not None]
    ops = sorted(td.BY_OP)
    combos = {c.combination() for c in valid}
    tried = {c.combination() for c in cases}
    print(f"fixture: {td.FIXTURE.relative_to(ROOT)}")
    print(f"ops covered: {len(ops)} (of {len(OPS)} mapped op names)")
    print(f"op x attribute combinations: {len(tried)} tried, {len(combos)} with TF outputs")
    print(f"  counting attribute-like constant inputs too (axes, perms, paddings, begin/end...): "
          f"{len({c.combination_with_params() for c in cases})} tried, "
          f"{len({c.combination_with_params() for c in valid})} with TF outputs")
    print(f"cases: {len(cases)} ({len(valid)} valid, {len(cases) - len(valid)} refused by TF)")
    ranks = Counter(x.ndim for c in cases for k, x in enumerate(c.inputs) if k not in c.const)
    print(f"input ranks seen: {dict(sorted(ranks.items()))}; cases with a size-0 input: "
          f"{sum(any(0 in x.shape for x in c.inputs) for c in cases)}")

    backends: list[tuple[str, object]] = [("numpy", "numpy")]
    if not args.numpy:
        from gpu_backend import GLBackend
        backends.append(("gl", GLBackend(layout=args.layout)))
    for label, be in backends:
        ran = passed = 0
        ran_combos: set[str] = set()
        unexpected: list[str] = []
        known_by_op: Counter[str] = Counter()
        for op in ops:
            selected = td.BY_OP[op] if label == "numpy" else td.gl_cases(op)
            failures, bad, stale = td.check_op(op, be, label)
            ran += len(selected)
            ran_combos |= {c.combination() for c in selected}
            passed += len(selected) - len(failures)
            unexpected += bad + [f"{c}: listed as a known failure but passes" for c in stale]
            for c in failures:
                if (c, label) in td.KNOWN_FAILURES:
                    known_by_op[op] += 1
        title = f"gl, {args.layout} layout" if label == "gl" else label
        print(f"\n[{title}] passed {passed}/{ran} cases, {len(ran_combos)} op x attribute combinations"
              + (f" (at most {td.GL_CASES_PER_OP} per op; {len(cases)} in the fixture)"
                 if label == "gl" and td.GL_CASES_PER_OP is not None else ""))
        if label == "gl":
            host = sorted({c.rsplit('_', 1)[0] for c, k in td.PLACEMENT.items() if k != "device"})
            print(f"  ops that ran on the host fallback (no GL kernel): {len(host)}: {', '.join(host)}")
        print(f"  known failures: {sum(known_by_op.values())}"
              + "".join(f"\n    {op}: {n}" for op, n in sorted(known_by_op.items())))
        for (case, b), why in sorted(td.KNOWN_FAILURES.items()):
            if b == label:
                print(f"    {case}: {why}")
        if unexpected:
            print(f"  UNEXPECTED ({len(unexpected)}):" + "".join(f"\n    {u}" for u in unexpected))
    not_covered = sorted(set(OPS) - set(ops))
    print(f"\nmapped ops without differential cases ({len(not_covered)}): {', '.join(not_covered)}")


if __name__ == "__main__":
    main()
