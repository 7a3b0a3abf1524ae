"""EGL device selection (gpu_backend/egl_devices.py) and the batch runner's file helpers: no Ray needed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gpu_backend.egl_devices import EGLDeviceInfo, choose_egl_device, client_extensions, list_egl_devices
from loader.batch import write_npz_once
from loader.distributed import list_input_files, load_input_file, shader_cache_env
from loader.model_json import TensorInfo

SOFT = EGLDeviceInfo(0, frozenset({"EGL_MESA_device_software", "EGL_EXT_device_drm_render_node"}))


def nv(index: int, cuda: int) -> EGLDeviceInfo:
    return EGLDeviceInfo(index, frozenset({"EGL_NV_device_cuda", "EGL_EXT_device_drm"}), f"/dev/dri/card{index}",
                         None, cuda)


PROBE = """
import moderngl
from gpu_backend.egl_devices import client_extensions, list_egl_devices
exts = client_extensions()
assert "EGL_EXT_device_enumeration" in exts or "EGL_EXT_device_base" in exts, exts
devices = list_egl_devices()
assert devices and [d.index for d in devices] == list(range(len(devices))), devices
last = moderngl.create_standalone_context(backend="egl", device_index=len(devices) - 1)
last.release()
try:
    moderngl.create_standalone_context(backend="egl", device_index=len(devices))
except Exception as exc:
    assert "requested device index" in str(exc), exc
else:
    raise AssertionError("a device index past the last one was accepted")
print("ok", len(devices))
"""


def test_this_machine_lists_the_devices_glcontext_counts():
    # In a child process: a second EGL context made current here would take the test session's
    # shared GL context off this thread, and every later GL test would draw into nothing.
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stdout + done.stderr


def test_cuda_numbers_pick_the_device_whatever_the_egl_order():
    # NVIDIA lists its GPUs in its own order; glvnd puts Mesa's software device among them
    devices = [nv(0, 2), EGLDeviceInfo(1, SOFT.extensions),
               nv(2, 0), nv(3, 1), nv(4, 3)]
    assert choose_egl_device(0, devices)[0] == 2
    assert choose_egl_device(1, devices)[0] == 3
    assert choose_egl_device(3, devices)[0] == 4
    assert choose_egl_device("2", devices)[0] == 0


def test_a_driver_numbering_only_visible_gpus_is_matched_by_position():
    devices = [nv(0, 0), EGLDeviceInfo(1, SOFT.extensions)]
    index, why = choose_egl_device(5, devices, cuda_visible_devices="5")
    assert index == 0 and "CUDA_VISIBLE_DEVICES[0]" in why


def test_without_cuda_numbers_hardware_devices_in_order_software_last_resort():
    drm = [EGLDeviceInfo(0, SOFT.extensions), EGLDeviceInfo(1, frozenset({"EGL_EXT_device_drm"}), "/dev/dri/card0"),
           EGLDeviceInfo(2, frozenset({"EGL_EXT_device_drm"}), "/dev/dri/card1")]
    assert choose_egl_device(0, drm)[0] == 1
    assert choose_egl_device(1, drm)[0] == 2
    assert choose_egl_device(0, [SOFT])[0] == 0


def test_explicit_device_wins(monkeypatch):
    from gpu_backend.egl_devices import device_for_this_process
    monkeypatch.setenv("GPU_BACKEND_EGL_DEVICE", "3")
    assert device_for_this_process([0])[0] == 3
    monkeypatch.delenv("GPU_BACKEND_EGL_DEVICE")
    monkeypatch.delenv("GLCONTEXT_DEVICE_INDEX", raising=False)
    assert device_for_this_process([])[0] == 0
    assert device_for_this_process([0])[0] == 0       # this machine: the software device only


def test_outputs_are_written_once_and_atomically(tmp_path):
    assert write_npz_once(tmp_path, "a", {"y": np.arange(3)})
    assert not write_npz_once(tmp_path, "a", {"y": np.zeros(3)})
    with np.load(tmp_path / "a.npz") as z:
        assert z["y"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]      # no temporary left


def test_input_files(tmp_path):
    inputs = [TensorInfo("image", "image:0", "float32", (-1, 8, 8, 1))]
    np.save(tmp_path / "a.npy", np.ones((8, 8, 1), np.float64))
    np.save(tmp_path / "b.npy", np.ones((1, 8, 8, 1), np.float32))
    np.savez(tmp_path / "c.npz", whatever=np.ones((8, 8, 1), np.float32))
    (tmp_path / "notes.txt").write_text("not an input")
    files = list_input_files(tmp_path)
    assert list(files) == ["a", "b", "c"]
    for p in files.values():
        x = load_input_file(p, inputs)["image"]
        assert x.shape == (8, 8, 1) and x.dtype == np.float32
    np.save(tmp_path / "c.npy", np.ones((8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="share the id 'c'"):
        list_input_files(tmp_path)


def test_shader_cache_env_covers_mesa_and_nvidia(tmp_path):
    env = shader_cache_env(tmp_path)
    assert env["MESA_SHADER_CACHE_DIR"] == str(tmp_path) and env["__GL_SHADER_DISK_CACHE_PATH"] == str(tmp_path)
    assert shader_cache_env(None) == {}


def test_image_inputs(tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="image inputs need Pillow (the [ray] extra)")
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "white.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "black.png")
    gray = load_input_file(tmp_path / "white.png", [TensorInfo("image", "image:0", "float32", (-1, 8, 8, 1))])
    assert gray["image"].shape == (8, 8, 1) and gray["image"].dtype == np.float32 and gray["image"].max() == 1.0
    rgb = load_input_file(tmp_path / "black.png", [TensorInfo("x", "x:0", "float32", (-1, 4, 4, 3))])
    assert rgb["x"].shape == (4, 4, 3) and rgb["x"].max() == 0.0
