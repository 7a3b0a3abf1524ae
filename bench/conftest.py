"""Benchmark fixtures: one GL backend per layout and the numpy backend, shared by the whole run,
so every figure of a table is measured in the same process, minutes apart at most."""
from __future__ import annotations

import pytest

from gpu_backend import GLBackend, NumpyBackend


@pytest.fixture(scope="session")
def backends():
    gl, glu = GLBackend(), GLBackend(layout="unpacked")
    yield {"gl-packed": gl, "gl-unpacked": glu, "numpy": NumpyBackend()}
    gl.close()
    glu.close()
