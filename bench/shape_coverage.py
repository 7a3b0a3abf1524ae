"""The shape-inference figures the README quotes:  .venv/bin/python bench/shape_coverage.py [ROOT...]

Loads every graph model under the given folders (default: tests/fixtures and ../shared's two model
folders) on the numpy backend and counts the nodes whose output shapes load-time inference knows
fully, knows up to the sizes the signature leaves open, or does not know; control-flow graphs (run by
the dynamic executor, not inferred) are counted apart."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from dtype_audit import graph_model_dirs  # noqa: E402
from loader import load_graph_model  # noqa: E402


def main(argv: list[str]) -> None:
    roots = [Path(a) for a in argv] or [ROOT / "tests" / "fixtures", ROOT.parent / "shared" / "models",
                                        ROOT.parent / "shared" / "models-dynamic"]
    models = known = partial = unknown = dynamic = 0
    for folder in graph_model_dirs(*[r for r in roots if r.exists()]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load_graph_model(folder, backend="numpy")
        report = model.shape_report
        model.dispose()
        if report is None:
            dynamic += 1
            continue
        models += 1
        known, partial, unknown = known + report.known, partial + report.partial, unknown + report.unknown
        if report.unknown:
            print(f"  {folder.relative_to(folder.parent.parent)}: {report.unknown} node(s) of unknown shape")
    total = known + partial + unknown
    print(f"{models} static graph models, {total} nodes: {known} fully known ({100 * known / total:.1f}%), "
          f"{partial} known up to open input sizes ({100 * partial / total:.1f}%), {unknown} unknown "
          f"({100 * unknown / total:.1f}%); {dynamic} control-flow models not inferred")


if __name__ == "__main__":
    main(sys.argv[1:])
