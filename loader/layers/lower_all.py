"""Imports every lowering module, so each registers its layer classes (one module per family)."""
from . import lower_conv, lower_core  # noqa: F401
