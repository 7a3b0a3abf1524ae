"""The op-coverage figures the README quotes:  .venv/bin/python bench/op_coverage.py

Mapped op types, GL kernels, host kernels, graph-level ops, and how many of the TF.js converter's ops
(its op_list, recorded in loader/data/op_defs.json) load here, with the ones that do not."""
from __future__ import annotations

import gpu_backend.kernels  # noqa: F401  (registers the GL kernels)
import gpu_backend.reference  # noqa: F401  (registers the numpy and host kernels)
from gpu_backend.registry import GL_KERNELS, HOST_KERNELS
from loader.declared_types import converter_ops
from loader.dynamic import DYNAMIC_GRAPH_OPS
from loader.executor import GRAPH_OPS
from loader.op_mapping import OPS


def main() -> None:
    graph_ops = GRAPH_OPS | DYNAMIC_GRAPH_OPS
    ops = set(converter_ops())
    missing = sorted(ops - set(OPS) - graph_ops)
    print(f"mapped op types: {len(OPS)}; GL kernels: {len(GL_KERNELS.names())}; host kernels: "
          f"{len(HOST_KERNELS.names())}; graph-level ops: {len(graph_ops)}")
    print(f"converter ops: {len(ops) - len(missing)} of {len(ops)} load; not supported: {', '.join(missing) or 'none'}")


if __name__ == "__main__":
    main()
