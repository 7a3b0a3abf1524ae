"""The Backend API contract: memory accounting, program cache, errors, threads, context creation."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from gpu_backend import (ContextCreationError, ContextThreadError, DisposedTensorError, ForeignTensorError, GLBackend,
                         NumpyBackend, ShapeError, TextureTooLargeError, UnknownKernelError, UnsupportedDTypeError)
from conftest import ROOT, check_kernel, random_floats, random_ints


def test_context_reports_capabilities(gl):
    info = gl.info
    assert info.kind == "egl"
    assert info.max_texture_size >= 4096
    assert info.float_render and info.int_render
    assert info.renderer and info.version_code >= 330
    d = info.as_dict()
    assert {"renderer", "version", "max_texture_size", "float_render"} <= set(d)


def test_round_trip_exact_for_every_dtype(any_gl):
    rng = np.random.default_rng(0)
    for shape in [(), (1,), (5,), (3, 7), (2, 3, 5, 6), (1, 33, 17, 3)]:
        for arr in (np.asarray(random_floats(rng, shape)), np.asarray(random_ints(rng, shape)),
                    np.asarray(rng.random(shape) > 0.5)):
            h = any_gl.upload(arr)
            got = any_gl.read(h)
            assert got.dtype == arr.dtype and got.shape == arr.shape
            np.testing.assert_array_equal(got, arr)
            any_gl.dispose(h)


def test_int32_beyond_float_precision_is_exact(gl):
    x = np.array([2**24 + 1, 2**31 - 1, -(2**31), 16777217, -16777219], np.int32)
    (out,) = check_kernel(gl, "Add", [x, np.array([1], np.int32)])
    assert out[0] == 2**24 + 2 and out[1] == -(2**31)          # wraps like TF


def test_upload_converts_only_safe_dtypes(gl):
    h = gl.upload(np.arange(6, dtype=np.int64).reshape(2, 3))
    assert h.dtype == "int32"
    h2 = gl.upload(np.linspace(0, 1, 5))                         # float64 -> float32
    assert h2.dtype == "float32"
    with pytest.raises(UnsupportedDTypeError, match="outside the int32 range"):
        gl.upload(np.array([2**40], np.int64))
    hc = gl.upload(np.array([1 + 2j]))                           # complex128 -> complex64 (float pairs)
    assert hc.dtype == "complex64" and hc.shape == (1,) and gl.read(hc).tolist() == [1 + 2j]
    gl.dispose(hc)
    with pytest.raises(UnsupportedDTypeError, match="strings"):
        gl.upload(np.array(["a", "b"]))
    gl.dispose(h)
    gl.dispose(h2)


def test_errors_are_specific(gl):
    a, b = gl.upload(np.ones((2, 3), np.float32)), gl.upload(np.ones((4, 5), np.float32))
    with pytest.raises(ShapeError, match=r"\[2, 3\] and \[4, 5\] cannot be broadcast"):
        gl.run("Add", [a, b])
    with pytest.raises(ShapeError, match="inner dimensions differ"):
        gl.run("MatMul", [a, a])
    with pytest.raises(UnknownKernelError, match="did you mean"):
        gl.run("Addd", [a, a])
    with pytest.raises(UnsupportedDTypeError, match="Exp does not take int32"):
        gl.run("Exp", [gl.upload(np.ones(3, np.int32))])
    gl.dispose(a)
    with pytest.raises(DisposedTensorError, match="disposed"):
        gl.read(a)
    with pytest.raises(DisposedTensorError):
        gl.run("Relu", [a])
    with pytest.raises(DisposedTensorError):
        gl.dispose(a)
    with pytest.raises(ForeignTensorError, match="belongs to backend 'numpy'"):
        gl.run("Relu", [NumpyBackend().upload(np.ones(2, np.float32))])
    gl.dispose(b)


def test_tensor_too_large_for_a_texture():
    small = GLBackend(max_texture_size=64)
    try:
        with pytest.raises(TextureTooLargeError, match=r"tensor of shape \[100, 200\].*GL_MAX_TEXTURE_SIZE=64"):
            small.upload(np.zeros((100, 200), np.float32))
    finally:
        small.close()


def test_flat_layout_when_no_split_fits():
    """With a tiny texture limit tensors fall back to the flat layout; every kernel must still be right."""
    b = GLBackend(max_texture_size=48)
    try:
        rng = np.random.default_rng(1)
        x = random_floats(rng, (70, 70))           # 70 x 18 texels: no x/y split fits under 48
        h = b.upload(x)
        assert b.tensor(h).view.mode == "F"
        check_kernel(b, "Exp", [x], rtol=2e-6)
        check_kernel(b, "Add", [x, random_floats(rng, (70,))])
        check_kernel(b, "MatMul", [x, random_floats(rng, (70, 9))], rtol=1e-4, atol=1e-5)
        check_kernel(b, "MatMul", [random_floats(rng, (9, 70)), x], {"transpose_b": True}, rtol=1e-4, atol=1e-5)
        check_kernel(b, "Sum", [x], {"axis": [0]}, rtol=1e-5, atol=1e-5)
        check_kernel(b, "Max", [x], {"axis": [1]})
        check_kernel(b, "Softmax", [x], rtol=2e-5)
        check_kernel(b, "Transpose", [x], {"perm": [1, 0]})
        check_kernel(b, "Reshape", [x], {"shape": [35, 140]})
        b.dispose(h)
    finally:
        b.close()


def test_one_program_serves_many_shapes(gl):
    """Shapes are uniforms: the same kernel at another shape of the same rank reuses the program."""
    rng = np.random.default_rng(2)
    check_kernel(gl, "Tanh", [random_floats(rng, (3, 5, 7))])
    before = gl.memory()
    for shape in [(2, 9, 4), (11, 1, 13), (1, 64, 3)]:
        check_kernel(gl, "Tanh", [random_floats(rng, shape)])
    after = gl.memory()
    assert after["program_cache_misses"] == before["program_cache_misses"]
    assert after["program_cache_hits"] == before["program_cache_hits"] + 3
    check_kernel(gl, "MatMul", [random_floats(rng, (5, 6)), random_floats(rng, (6, 7))], rtol=1e-4, atol=1e-5)
    mid = gl.memory()["program_cache_misses"]
    check_kernel(gl, "MatMul", [random_floats(rng, (50, 16)), random_floats(rng, (16, 3))], rtol=1e-4, atol=1e-5)
    assert gl.memory()["program_cache_misses"] == mid


def test_ten_thousand_round_trips_leak_nothing(gl):
    x = np.random.default_rng(3).random((17, 9)).astype(np.float32)
    start = gl.memory()
    for _ in range(10_000):
        h = gl.upload(x)
        (o,) = gl.run("Relu", [h])
        gl.read(o)
        gl.dispose(h)
        gl.dispose(o)
    end = gl.memory()
    assert end["live_tensors"] == start["live_tensors"]
    assert end["live_textures"] == start["live_textures"]
    assert end["live_bytes"] == start["live_bytes"]
    assert end["texture_allocations"] - start["texture_allocations"] <= 2   # the pool serves the rest


def test_pool_is_bounded():
    b = GLBackend(pool_limit_bytes=64 * 1024)
    try:
        for n in range(1, 40):                                   # 39 distinct sizes, each 4-16 KiB
            h = b.upload(np.zeros((n, 64), np.float32))
            b.dispose(h)
        m = b.memory()
        assert m["pooled_bytes"] <= 64 * 1024
        assert m["textures_deleted"] > 0
        assert m["live_textures"] == 0
        b.trim()
        assert b.memory()["pooled_bytes"] == 0
    finally:
        b.close()


def test_memory_counters_follow_handles(gl):
    m0 = gl.memory()
    h = gl.upload(np.zeros((8, 8), np.float32))
    m1 = gl.memory()
    assert m1["live_tensors"] == m0["live_tensors"] + 1
    tex_w, tex_h = gl.tensor(h).storage.texture.size
    assert m1["live_bytes"] == m0["live_bytes"] + tex_w * tex_h * 16       # RGBA32F texels of its texture
    assert tex_w * tex_h >= 8 * 2                                            # 8 rows of 2 texels hold the data
    assert m1["peak_bytes"] >= m1["live_bytes"]
    gl.dispose(h)
    assert gl.memory()["live_bytes"] == m0["live_bytes"]


def test_other_threads_are_refused(gl):
    h = gl.upload(np.ones(3, np.float32))
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            gl.run("Relu", [h])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], ContextThreadError)
    assert "thread" in str(errors[0])
    np.testing.assert_array_equal(gl.read(h), np.ones(3))        # the owner still works
    gl.dispose(h)


def test_a_backend_per_thread_works():
    results: dict[int, np.ndarray] = {}

    def worker(i: int) -> None:
        b = GLBackend()
        try:
            (o,) = b.run("Multiply", [b.upload(np.full(4, i, np.float32)), b.upload(np.full(4, 2, np.float32))])
            results[i] = b.read(o)
        finally:
            b.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {i: list(v) for i, v in results.items()} == {0: [0.0] * 4, 1: [2.0] * 4}


def test_missing_egl_library_says_what_to_install():
    with pytest.raises(ContextCreationError, match="apt-get install libegl1"):
        GLBackend(libegl="/nonexistent/libEGL.so.1")


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)


def test_glfw_without_display_says_what_to_do():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = _python("""
        from gpu_backend import GLBackend, ContextCreationError
        try:
            GLBackend("glfw")
        except ContextCreationError as e:
            print("ERR", e)
    """, env)
    assert "ERR" in r.stdout and "xvfb" in r.stdout.lower(), r.stdout + r.stderr


@pytest.mark.xvfb
@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)")
def test_glfw_window_context_under_xvfb():
    display = f":{90 + os.getpid() % 100}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "64x64x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        env = dict(os.environ, DISPLAY=display)
        r = _python("""
            import numpy as np
            from gpu_backend import GLBackend
            b = GLBackend("glfw")
            (o,) = b.run("MatMul", [b.upload(np.eye(3, dtype=np.float32)), b.upload(np.full((3, 2), 2, np.float32))])
            print("KIND", b.info.kind, "SUM", float(b.read(o).sum()))
            b.close()
        """, env)
        assert "KIND glfw SUM 12.0" in r.stdout, r.stdout + r.stderr
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def test_two_backends_interleaved_on_one_thread(gl):
    """Creating and closing another context must not leave this backend drawing into nothing."""
    other = GLBackend()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for b in (gl, other, gl, other):
        (o,) = b.run("Neg", [b.upload(x)])
        np.testing.assert_array_equal(b.read(o), -x)
    other.close()
    (o,) = gl.run("Neg", [gl.upload(x)])
    np.testing.assert_array_equal(gl.read(o), -x)


def test_fast_compile_is_chosen_before_the_first_context(gl):
    from gpu_backend.context import set_fast_compile
    with pytest.raises(RuntimeError, match="before the first GLBackend"):
        set_fast_compile(True)
    code = textwrap.dedent("""
        import os
        from gpu_backend.context import set_fast_compile
        os.environ["GALLIVM_PERF"] = "no_quad_lod"
        set_fast_compile(True)
        assert os.environ["GALLIVM_PERF"] == "no_quad_lod,nopt", os.environ["GALLIVM_PERF"]
        set_fast_compile(False)
        assert os.environ["GALLIVM_PERF"] == "no_quad_lod"
        set_fast_compile(True)
        import numpy as np
        from gpu_backend import GLBackend
        b = GLBackend()
        (y,) = b.run("Relu", [b.upload(np.array([-1.0, 2.0], np.float32))])
        assert b.read(y).tolist() == [0.0, 2.0]
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
