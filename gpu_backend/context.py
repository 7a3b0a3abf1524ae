"""Creating the OpenGL context a GLBackend runs on, and reporting what it can do.

Headless EGL is the default because benchmark and CI machines have no display;
a hidden GLFW window is the desktop path.  Context creation failures are turned
into errors that say which system package is missing, because moderngl's own
messages ("eglGetDisplay failed") do not tell a user what to install.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import moderngl

from .errors import ContextCreationError, ContextThreadError

MIN_GL_VERSION = 330

# Set once this process has created a GL context: the driver has then read its settings (below).
_driver_started = threading.Event()

# Which GLContext is current on each thread.  Creating or releasing another context (a second
# GLBackend, a tool's own moderngl context) changes the thread's current context behind our back;
# activate() re-binds ours before any GL call.
_current = threading.local()

_EGL_HELP = (
    "A headless context needs libEGL and a GL driver. On Debian/Ubuntu: "
    "`apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri` (Mesa, software rendering via llvmpipe "
    "when there is no GPU); on Fedora: `dnf install mesa-libEGL mesa-dri-drivers`; with an NVIDIA GPU the "
    "NVIDIA driver provides libEGL_nvidia. Where a display exists, GLBackend(context='glfw') is an alternative.")
_GLFW_HELP = (
    "A GLFW window context needs a display. Set DISPLAY (X11) or WAYLAND_DISPLAY, or run under a virtual "
    "display: `apt-get install xvfb` then `xvfb-run python ...`. Without a display use the headless default "
    "GLBackend() (EGL).")


@dataclass(frozen=True)
class ContextInfo:
    """What the driver offers, reported once at creation."""

    kind: str
    renderer: str
    vendor: str
    version: str
    version_code: int
    glsl_version: str
    max_texture_size: int
    max_texture_units: int
    max_draw_buffers: int
    float_render: bool
    int_render: bool
    timer_query: bool
    parallel_shader_compile: bool
    program_binary: bool
    software: bool
    extensions: frozenset[str] = field(repr=False, default=frozenset())

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("extensions")
        return d


class GLContext:
    """Owns one moderngl context and the thread it is bound to."""

    def __init__(self, kind: str = "egl", *, device_index: int = 0, libegl: str | None = None,
                 libgl: str | None = None, context: moderngl.Context | None = None) -> None:
        self.kind = kind
        self._glfw_window: Any = None
        if context is not None:
            self.kind = "external"
            self.ctx = context
        elif kind == "egl":
            self.ctx = self._create_egl(device_index, libegl, libgl)
        elif kind == "glfw":
            self.ctx = self._create_glfw()
        elif kind == "auto":
            try:
                self.kind = "egl"
                self.ctx = self._create_egl(device_index, libegl, libgl)
            except ContextCreationError as egl_error:
                try:
                    self.kind = "glfw"
                    self.ctx = self._create_glfw()
                except ContextCreationError as glfw_error:
                    raise ContextCreationError(f"{egl_error}\n{glfw_error}") from None
        else:
            raise ValueError(f"context kind {kind!r} is not one of 'egl', 'glfw', 'auto'")
        self.owner_thread = threading.get_ident()
        _driver_started.set()
        _current.ctx = self
        if self.ctx.version_code < MIN_GL_VERSION:
            version = self.ctx.info.get("GL_VERSION", "?")
            self.release()
            raise ContextCreationError(
                f"OpenGL 3.3 core or newer is needed, the driver offers {version}. "
                "Update the GL driver (Mesa: `apt-get install libgl1-mesa-dri`).")
        self.info = self._probe()

    # -- creation --------------------------------------------------------------------
    @staticmethod
    def _create_egl(device_index: int, libegl: str | None, libgl: str | None) -> moderngl.Context:
        kwargs: dict[str, Any] = {"backend": "egl", "require": MIN_GL_VERSION}
        if device_index:
            kwargs["device_index"] = device_index
        if libegl:
            kwargs["libegl"] = libegl
        if libgl:
            kwargs["libgl"] = libgl
        try:
            return moderngl.create_standalone_context(**kwargs)
        except Exception as exc:  # moderngl/glcontext raise bare Exceptions with terse texts
            raise ContextCreationError(f"Could not create a headless OpenGL context through EGL ({exc}). {_EGL_HELP}") from exc

    def _create_glfw(self) -> moderngl.Context:
        try:
            import glfw
        except Exception as exc:  # pragma: no cover - glfw is a declared dependency
            raise ContextCreationError(f"the glfw package could not be imported ({exc}): `pip install glfw`") from exc
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # glfw reports init errors as warnings; we raise instead
            ok = glfw.init()
        if not ok:
            display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            why = "no DISPLAY or WAYLAND_DISPLAY is set" if not display else f"the display {display!r} could not be opened"
            raise ContextCreationError(f"GLFW could not initialise: {why}. {_GLFW_HELP}")
        glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, glfw.TRUE)
        window = glfw.create_window(1, 1, "gpu_backend", None, None)
        if not window:
            raise ContextCreationError(
                "GLFW opened the display but could not create an OpenGL 3.3 core window context; "
                "the display's GL driver is missing or too old (Mesa: `apt-get install libgl1-mesa-dri libglx-mesa0`).")
        glfw.make_context_current(window)
        self._glfw_window = window
        try:
            return moderngl.create_context(require=MIN_GL_VERSION)
        except Exception as exc:
            glfw.destroy_window(window)
            self._glfw_window = None
            raise ContextCreationError(f"moderngl could not use the GLFW window's context ({exc}).") from exc

    # -- capabilities ----------------------------------------------------------------
    def _renderable(self, dtype: str) -> bool:
        try:
            tex = self.ctx.texture((1, 1), 4, dtype=dtype)
            try:
                fbo = self.ctx.framebuffer(color_attachments=[tex])
                fbo.release()
                return True
            finally:
                tex.release()
        except Exception:
            return False

    def _probe(self) -> ContextInfo:
        info = self.ctx.info
        ext = frozenset(self.ctx.extensions)
        renderer = str(info.get("GL_RENDERER", "?"))
        version_code = self.ctx.version_code
        return ContextInfo(
            kind=self.kind,
            renderer=renderer,
            vendor=str(info.get("GL_VENDOR", "?")),
            version=str(info.get("GL_VERSION", "?")),
            version_code=version_code,
            glsl_version=str(info.get("GL_SHADING_LANGUAGE_VERSION", "?")),
            max_texture_size=int(info.get("GL_MAX_TEXTURE_SIZE", 4096)),
            max_texture_units=int(info.get("GL_MAX_TEXTURE_IMAGE_UNITS", 16)),
            max_draw_buffers=int(info.get("GL_MAX_DRAW_BUFFERS", 1)),
            float_render=self._renderable("f4"),
            int_render=self._renderable("i4"),
            timer_query=version_code >= 330 or "GL_ARB_timer_query" in ext,
            parallel_shader_compile="GL_KHR_parallel_shader_compile" in ext or "GL_ARB_parallel_shader_compile" in ext,
            program_binary=version_code >= 410 or "GL_ARB_get_program_binary" in ext,
            software=any(s in renderer.lower() for s in ("llvmpipe", "softpipe", "swiftshader", "software")),
            extensions=ext,
        )

    # -- ownership -------------------------------------------------------------------
    def activate(self) -> None:
        """Make this context current on the calling (owner) thread if another one is."""
        if getattr(_current, "ctx", None) is not self:
            if self._glfw_window is not None:
                import glfw
                glfw.make_context_current(self._glfw_window)
            else:
                self.ctx.__enter__()   # binds it; the previous context is not restored on purpose
            _current.ctx = self

    def check_thread(self) -> None:
        if threading.get_ident() != self.owner_thread:
            raise ContextThreadError(
                "this GLBackend's OpenGL context belongs to the thread that created it "
                f"(thread id {self.owner_thread}); GL contexts cannot be shared between threads safely. "
                "Create one GLBackend per thread, or call it only from its own thread.")

    def release(self) -> None:
        if getattr(_current, "ctx", None) is self:
            _current.ctx = None
        if self.ctx is not None and self.kind != "external":
            try:
                self.ctx.release()
            except Exception:
                pass
        if self._glfw_window is not None:
            import glfw
            glfw.destroy_window(self._glfw_window)
            self._glfw_window = None
        self.ctx = None  # type: ignore[assignment]


def set_fast_compile(enabled: bool = True) -> None:
    """Ask Mesa's llvmpipe to skip LLVM's optimisation passes (GALLIVM_PERF=nopt).

    On a CPU-only machine most of a first inference is llvmpipe compiling each program to machine
    code at its first draw; without the optimisation passes that takes about half as long, and the
    code it makes runs 10-20% slower (README, "First inference vs warm").  Worth it for short-lived
    processes that run a model a few times, not for services.  The driver reads the setting once
    per process, when the first context is created, so call this before creating any GLBackend;
    it has no effect on other drivers."""
    if _driver_started.is_set():
        raise RuntimeError("set_fast_compile() must be called before the first GLBackend of the process is "
                           "created: llvmpipe reads GALLIVM_PERF once, when it starts")
    flags = [f for f in os.environ.get("GALLIVM_PERF", "").split(",") if f and f != "nopt"]
    if enabled:
        flags.append("nopt")
    if flags:
        os.environ["GALLIVM_PERF"] = ",".join(flags)
    else:
        os.environ.pop("GALLIVM_PERF", None)
