"""numpy reference kernels with TensorFlow's semantics; importing this package registers them all."""
from . import identity  # noqa: F401
from . import elementwise  # noqa: F401
