"""Imports every lowering module, so each registers its layer classes (one module per family)."""
from . import (lower_activation_layers, lower_attention, lower_conv, lower_core, lower_norm,  # noqa: F401
               lower_ops, lower_pool, lower_recurrent, lower_shape, lower_spatial)
