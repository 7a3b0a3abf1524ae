"""Output dtypes of every op, from its attributes and its inputs' dtypes: one rule per op.

The loader runs these rules over the whole graph at load (before anything executes) and compares
the result with the dtypes the graph itself declares; the executor and both backends must then
return exactly these dtypes.  A rule registered here is the single statement of an op's output
dtypes: op mappings, GL kernels and the numpy reference are checked against it, never the other
way round.

A rule is ``rule(node, in_dtypes) -> list[str]``: ``in_dtypes`` are the dtypes of ``node.inputs``
in order (control inputs excluded), the result has one dtype per output.  Dtype names are the
backend's ("float32", "int32", "bool", and the host-only ones such as "string", "complex64",
"resource" for table/TensorArray handles).
"""
from __future__ import annotations

from collections.abc import Callable

from .graph import Node

DtypeRule = Callable[[Node, list[str]], list[str]]

OUT_DTYPES: dict[str, DtypeRule] = {}


def out_dtypes(*ops: str) -> Callable[[DtypeRule], DtypeRule]:
    """Register the output-dtype rule of one or more ops (each op at most once)."""
    def deco(fn: DtypeRule) -> DtypeRule:
        for op in ops:
            if op in OUT_DTYPES:
                raise RuntimeError(f"output-dtype rule for {op!r} registered twice")
            OUT_DTYPES[op] = fn
        return fn
    return deco


def same_as_input(i: int = 0, n: int = 1) -> DtypeRule:
    """n outputs with the dtype of input i."""
    return lambda node, ins: [ins[i]] * n


def fixed(*dtypes: str) -> DtypeRule:
    """Outputs of fixed dtypes, whatever the inputs."""
    return lambda node, ins: list(dtypes)


# -- matmul family
out_dtypes("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "_FusedMatMul")(same_as_input(0))
