"""Which EGL device a headless context lands on, for hosts with several GPUs.

What moderngl/glcontext expose (checked in glcontext 3.x, `glcontext/egl.cpp`): a standalone EGL context
(`moderngl.create_standalone_context(backend="egl", device_index=N)`, or the `GLCONTEXT_DEVICE_INDEX`
environment variable) calls `eglQueryDevicesEXT` (EGL_EXT_device_enumeration) and opens
`eglGetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT, devices[N])` (EGL_EXT_platform_device); an index past the
end fails with "requested device index N, but found M devices".  That is all: glcontext says nothing about
*which* GPU device N is, and the EGL order is not the CUDA/nvidia-smi order (libglvnd lists the devices of
every vendor library, NVIDIA's and Mesa's software device included, and NVIDIA's EGL enumerates every GPU
whatever CUDA_VISIBLE_DEVICES says).

What is done here where it does not: `list_egl_devices()` makes the same `eglQueryDevicesEXT` call through
ctypes on the same libEGL (so the same order as glcontext sees in this process) and asks each device, through
EGL_EXT_device_query, for its extensions, its DRM node (EGL_EXT_device_drm: `/dev/dri/cardN`) and, on
NVIDIA, its CUDA device number (EGL_NV_device_cuda: EGL_CUDA_DEVICE_NV).  `choose_egl_device(gpu_id)` then
maps a GPU id as Ray or CUDA_VISIBLE_DEVICES give it to the EGL index whose CUDA device matches, and falls back
to the gpu_id-th hardware (non-software) device where no device reports a CUDA number.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass, field

EGL_EXTENSIONS = 0x3055
EGL_VENDOR = 0x3053
EGL_DRM_DEVICE_FILE_EXT = 0x3233
EGL_DRM_RENDER_NODE_FILE_EXT = 0x3377
EGL_CUDA_DEVICE_NV = 0x323A


@dataclass(frozen=True)
class EGLDeviceInfo:
    index: int                          # what glcontext's device_index means
    extensions: frozenset[str] = field(default_factory=frozenset)
    drm_file: str | None = None         # /dev/dri/cardN (EGL_EXT_device_drm)
    render_node: str | None = None      # /dev/dri/renderDN (EGL_EXT_device_drm_render_node)
    cuda_device: int | None = None      # EGL_CUDA_DEVICE_NV (NVIDIA only)

    @property
    def software(self) -> bool:
        """Mesa's software device (llvmpipe/softpipe), present on every Mesa install."""
        return "EGL_MESA_device_software" in self.extensions

    def describe(self) -> str:
        what = ("software (Mesa)" if self.software else
                f"CUDA device {self.cuda_device}" if self.cuda_device is not None else "hardware")
        node = f", {self.drm_file}" if self.drm_file else ""
        return f"EGL device {self.index}: {what}{node}"


class EGLDeviceQueryError(RuntimeError):
    pass


def _libegl(libegl: str | None) -> ctypes.CDLL:
    name = libegl or ctypes.util.find_library("EGL")
    if not name:
        raise EGLDeviceQueryError("libEGL was not found (Debian/Ubuntu: apt-get install libegl1 libegl-mesa0)")
    return ctypes.CDLL(name)


def client_extensions(libegl: str | None = None) -> frozenset[str]:
    """EGL client extensions (eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS)): EGL_EXT_device_base or
    EGL_EXT_device_enumeration + EGL_EXT_platform_device are what device selection needs."""
    lib = _libegl(libegl)
    lib.eglQueryString.restype = ctypes.c_char_p
    lib.eglQueryString.argtypes = [ctypes.c_void_p, ctypes.c_int]
    raw = lib.eglQueryString(None, EGL_EXTENSIONS)
    return frozenset((raw or b"").decode().split())


def list_egl_devices(libegl: str | None = None) -> list[EGLDeviceInfo]:
    """Every EGL device, in the order glcontext's device_index counts them."""
    lib = _libegl(libegl)
    lib.eglGetProcAddress.restype = ctypes.c_void_p
    lib.eglGetProcAddress.argtypes = [ctypes.c_char_p]

    def proc(name: str, restype, *argtypes):
        addr = lib.eglGetProcAddress(name.encode())
        if not addr:
            return None
        return ctypes.CFUNCTYPE(restype, *argtypes)(addr)

    query_devices = proc("eglQueryDevicesEXT", ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                         ctypes.POINTER(ctypes.c_int))
    if query_devices is None:
        raise EGLDeviceQueryError("this libEGL has no eglQueryDevicesEXT (EGL_EXT_device_enumeration): "
                                  "no device can be chosen, glcontext would fail the same way")
    query_string = proc("eglQueryDeviceStringEXT", ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int)
    query_attrib = proc("eglQueryDeviceAttribEXT", ctypes.c_uint, ctypes.c_void_p, ctypes.c_int,
                        ctypes.POINTER(ctypes.c_ssize_t))
    n = ctypes.c_int(0)
    if not query_devices(0, None, ctypes.byref(n)):
        raise EGLDeviceQueryError("eglQueryDevicesEXT failed")
    devices = (ctypes.c_void_p * max(n.value, 1))()
    if not query_devices(n.value, devices, ctypes.byref(n)):
        raise EGLDeviceQueryError("eglQueryDevicesEXT failed")

    out = []
    for i in range(n.value):
        dev = devices[i]

        def string(name: int) -> str | None:
            if query_string is None:
                return None
            raw = query_string(dev, name)
            return raw.decode() if raw else None

        exts = frozenset((string(EGL_EXTENSIONS) or "").split())
        drm = string(EGL_DRM_DEVICE_FILE_EXT) if "EGL_EXT_device_drm" in exts else None
        render = string(EGL_DRM_RENDER_NODE_FILE_EXT) if "EGL_EXT_device_drm_render_node" in exts else None
        cuda = None
        if query_attrib is not None and "EGL_NV_device_cuda" in exts:
            value = ctypes.c_ssize_t(-1)
            if query_attrib(dev, EGL_CUDA_DEVICE_NV, ctypes.byref(value)):
                cuda = int(value.value)
        out.append(EGLDeviceInfo(i, exts, drm, render, cuda))
    return out


def choose_egl_device(gpu_id: int | str, devices: list[EGLDeviceInfo],
                      cuda_visible_devices: str | None = None) -> tuple[int, str]:
    """The EGL device index for a GPU id (Ray's `ray.get_gpu_ids()` entry: a physical index, which Ray also
    puts in CUDA_VISIBLE_DEVICES).  Returns (index, how it was chosen).

    1. Devices reporting EGL_CUDA_DEVICE_NV: the one whose CUDA number is the GPU id.  If the driver
       numbers only the CUDA_VISIBLE_DEVICES GPUs (as many NVIDIA EGL devices as visible GPUs), the id's
       position in that list is matched instead.
    2. Otherwise the gpu_id-th hardware device in EGL order (DRM devices; Mesa's software device skipped).
    3. No hardware device at all (llvmpipe only): index 0, the software device; every worker shares it.
    """
    gid = int(gpu_id)
    visible = [v.strip() for v in (cuda_visible_devices or "").split(",") if v.strip()]
    cuda = [d for d in devices if d.cuda_device is not None]
    if cuda:
        if visible and len(cuda) == len(visible) and str(gid) in visible:
            local = visible.index(str(gid))
            for d in cuda:
                if d.cuda_device == local:
                    return d.index, f"EGL_CUDA_DEVICE_NV {local} (GPU {gid} is CUDA_VISIBLE_DEVICES[{local}])"
        for d in cuda:
            if d.cuda_device == gid:
                return d.index, f"EGL_CUDA_DEVICE_NV {gid}"
    hardware = [d for d in devices if not d.software]
    if hardware:
        d = hardware[gid % len(hardware)]
        why = f"hardware EGL device #{gid % len(hardware)} of {len(hardware)} (no CUDA numbers reported)"
        return d.index, why
    return 0, "no hardware EGL device: the software device, shared"


def device_for_this_process(gpu_ids: list | None = None, libegl: str | None = None) -> tuple[int, str]:
    """The EGL device index for this process: GPU_BACKEND_EGL_DEVICE or GLCONTEXT_DEVICE_INDEX if set
    (explicit), else the first of `gpu_ids` (e.g. ray.get_gpu_ids()) through choose_egl_device, else 0."""
    for var in ("GPU_BACKEND_EGL_DEVICE", "GLCONTEXT_DEVICE_INDEX"):
        if os.environ.get(var, "").strip():
            return int(os.environ[var]), f"{var}={os.environ[var]}"
    if not gpu_ids:
        return 0, "no GPU assigned: EGL device 0"
    try:
        devices = list_egl_devices(libegl)
    except (EGLDeviceQueryError, OSError) as exc:
        return 0, f"EGL devices could not be listed ({exc}): EGL device 0"
    return choose_egl_device(gpu_ids[0], devices, os.environ.get("CUDA_VISIBLE_DEVICES"))


__all__ = ["EGLDeviceInfo", "EGLDeviceQueryError", "list_egl_devices", "client_extensions", "choose_egl_device",
           "device_for_this_process"]
