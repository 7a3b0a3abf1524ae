"""Facts about element-wise ops shared by the GL kernels and the numpy reference:
which dtypes each op takes and what it returns.  (Data only; no numerics.)"""
from __future__ import annotations

from .dtypes import normalize_dtype
from .errors import AttributeValueError

# op -> (input dtype letters: f=float32 i=int32 b=bool, output rule: None = same as input, or a dtype)
UNARY: dict[str, tuple[str, str | None]] = {
    "Abs": ("fi", None), "Neg": ("fi", None), "Square": ("fi", None), "Sign": ("fi", None),
    "Floor": ("fi", None), "Ceil": ("fi", None), "Round": ("fi", None),
    "Relu": ("fi", None), "Relu6": ("fi", None), "Elu": ("f", None), "Selu": ("f", None),
    "LeakyRelu": ("f", None), "Step": ("f", None), "Sigmoid": ("f", None), "Softplus": ("f", None),
    "Tanh": ("f", None), "Exp": ("f", None), "Expm1": ("f", None), "Log": ("f", None), "Log1p": ("f", None),
    "Sqrt": ("f", None), "Rsqrt": ("f", None), "Reciprocal": ("f", None), "Erf": ("f", None),
    "Sin": ("f", None), "Cos": ("f", None), "Tan": ("f", None), "Asin": ("f", None), "Acos": ("f", None),
    "Atan": ("f", None), "Sinh": ("f", None), "Cosh": ("f", None), "Asinh": ("f", None), "Acosh": ("f", None),
    "Atanh": ("f", None),
    "IsNan": ("f", "bool"), "IsInf": ("f", "bool"), "IsFinite": ("f", "bool"),
    "LogicalNot": ("b", None),
    "ZerosLike": ("fib", None), "OnesLike": ("fib", None),
    "Cast": ("fib", "attr"),
}
DEFAULT_ALPHA = {"LeakyRelu": 0.2, "Step": 0.0}

# op -> (operand dtypes, output rule)
BINARY: dict[str, tuple[str, str | None]] = {
    "Add": ("fi", None), "Sub": ("fi", None), "Multiply": ("fi", None), "RealDiv": ("fi", None),
    "FloorDiv": ("fi", None), "FloorMod": ("fi", None), "Mod": ("fi", None), "TruncateMod": ("fi", None),
    "Pow": ("fi", None),
    "Maximum": ("fi", None), "Minimum": ("fi", None), "SquaredDifference": ("fi", None),
    "Atan2": ("f", None), "DivNoNan": ("fi", None), "Prelu": ("f", None),
    "Equal": ("fib", "bool"), "NotEqual": ("fib", "bool"), "Greater": ("fi", "bool"),
    "GreaterEqual": ("fi", "bool"), "Less": ("fi", "bool"), "LessEqual": ("fi", "bool"),
    "LogicalAnd": ("b", "bool"), "LogicalOr": ("b", "bool"), "BitwiseAnd": ("i", None),
}
BINARY_SECTION = {"Mod": "FloorMod"}


def unary_out_dtype(op: str, in_dtype: str, attrs: dict) -> str:
    rule = UNARY[op][1]
    if rule is None:
        return in_dtype
    if rule == "attr":
        if "dtype" not in attrs:
            raise AttributeValueError("Cast needs a 'dtype' attribute")
        return normalize_dtype(attrs["dtype"])
    return rule


def binary_out_dtype(op: str, in_dtype: str) -> str:
    rule = BINARY[op][1]
    return in_dtype if rule is None else rule
