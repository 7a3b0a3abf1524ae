"""Seeded fuzzing of the loader and executor (tests/fuzz_models.py): every mutated model either runs or
fails with a project exception, within a time bound.  FUZZ_CASES=20000 for a longer run."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from fuzz_models import run_case

CASES = int(os.environ.get("FUZZ_CASES", "2500"))


def test_mutated_models_give_only_project_errors(tmp_path: Path) -> None:
    counts: Counter[str] = Counter()
    problems = []
    for seed in range(CASES):
        outcome = run_case(seed, tmp_path, time_limit_s=20.0)
        counts[outcome.kind] += 1
        if outcome.kind in ("leak", "hang"):
            problems.append(f"case {seed} [{outcome.what}] {outcome.kind}: {outcome.detail}")
    assert counts["error"] > CASES // 2 and counts["ok"] > 0, counts      # the mutations do bite, and not all
    assert not problems, f"{counts}\n" + "\n\n".join(problems[:10])
