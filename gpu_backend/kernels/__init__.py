"""GL kernels, one small module per op family; importing this package registers them all."""
from . import identity  # noqa: F401
from . import elementwise  # noqa: F401
