"""GL kernels, one small module per op family; importing this package registers them all."""
from . import identity  # noqa: F401
from . import elementwise  # noqa: F401
from . import combine  # noqa: F401
from . import matmul  # noqa: F401
from . import reduce  # noqa: F401
from . import softmax  # noqa: F401
from . import transpose  # noqa: F401
from . import conv  # noqa: F401
from . import pool  # noqa: F401
from . import image  # noqa: F401
from . import norm  # noqa: F401
from . import conv_transpose  # noqa: F401
from . import scan  # noqa: F401
from . import sort  # noqa: F401
from . import misc  # noqa: F401
