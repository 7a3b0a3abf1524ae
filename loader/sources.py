"""Where model files come from: a folder, a file:// URL, an http(s):// URL, or anything a user plugs in.

A source answers two questions, "the bytes of model.json" and "the bytes of this weight file named in
the manifest", and is responsible for refusing weight paths that escape the model's folder or URL
base.  That is the whole interface (TF.js's IOHandler, reduced to what a graph model needs), so a
user can serve models from a zip file, an object store or memory by implementing it.
"""
from __future__ import annotations

import http.client
import os
import posixpath
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import ModelLoadError, UnsafePathError, WeightsError

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_BYTES = 2 << 30  # 2 GiB per file


@runtime_checkable
class ModelSource(Protocol):
    """The loader's view of a model's storage."""

    description: str

    def read_model_json(self) -> bytes:
        """The bytes of model.json."""

    def read_weight_file(self, path: str) -> bytes:
        """The bytes of a weight file, `path` exactly as written in weightsManifest[*].paths."""


MAX_PATH_CHARS = 1024        # a weight path, as written in the manifest
MAX_NAME_BYTES = 255         # one component (the usual filesystem limit)


def check_weight_path(path: str, where: str) -> None:
    """A weight path must be a plain relative file path inside the model's folder (or URL base)."""
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"{where}: weight path {path!r} is not a non-empty string")
    shown = repr(path) if len(path) <= 80 else repr(path[:60]) + f"... ({len(path)} characters)"
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise UnsafePathError(f"{where}: weight path {shown} contains a backslash or a control character; refused")
    parts = path.split("/")
    if path.startswith("/") or ".." in parts or (parts and ":" in parts[0]) or path.startswith("~"):
        raise UnsafePathError(f"{where}: weight path {shown} leaves the model's folder; refused "
                              "(weight paths must be relative and stay inside the model's directory)")
    if len(path) > MAX_PATH_CHARS or any(len(p.encode("utf-8", "replace")) > MAX_NAME_BYTES for p in parts):
        raise UnsafePathError(f"{where}: weight path {shown} is too long (at most {MAX_PATH_CHARS} characters, "
                              f"{MAX_NAME_BYTES} bytes per name); refused")
    if parts[-1] in ("", ".") or any(p == "" for p in parts[:-1]):
        raise UnsafePathError(f"{where}: weight path {shown} names a folder, not a file; refused")


_check_relative = check_weight_path


class FileSource:
    """model.json on the local filesystem; weights resolved inside its folder."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        if p.is_dir():
            p = p / "model.json"
        self.model_json = p
        self.root = p.parent.resolve()
        self.description = str(p)

    def read_model_json(self) -> bytes:
        try:
            return self.model_json.read_bytes()
        except FileNotFoundError:
            raise ModelLoadError(f"model.json not found: {self.model_json}") from None
        except IsADirectoryError:
            raise ModelLoadError(f"{self.model_json} is a directory, not a model.json file") from None
        except OSError as exc:
            raise ModelLoadError(f"{self.model_json} could not be read ({exc.strerror or exc})") from None

    def read_weight_file(self, path: str) -> bytes:
        _check_relative(path, self.description)
        full = (self.root / path).resolve()
        if full != self.root and self.root not in full.parents:
            raise UnsafePathError(f"{self.description}: weight path {path!r} resolves to {full}, outside {self.root}; refused")
        try:
            return full.read_bytes()
        except FileNotFoundError:
            raise WeightsError(f"weight shard {path!r} listed in {self.description} is missing (looked for {full})") from None
        except IsADirectoryError:
            raise WeightsError(f"weight shard {path!r} listed in {self.description} is a directory ({full})") from None
        except OSError as exc:
            raise WeightsError(f"weight shard {path!r} listed in {self.description} could not be read "
                               f"({exc.strerror or exc})") from None


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to the same scheme and host: a model server must not send the loader to
    another machine (or from https down to http)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            raise UnsafePathError(f"{req.full_url} redirects to {newurl}, another scheme or host; refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects())


class HttpSource:
    """model.json over http(s); weight paths resolved against the model URL, with timeouts and a size cap."""

    def __init__(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S, max_bytes: int = DEFAULT_MAX_BYTES,
                 headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.headers = dict(headers or {})
        parsed = urllib.parse.urlsplit(url)
        self.base = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, posixpath.dirname(parsed.path) + "/", "", ""))
        self.description = url

    def _get(self, url: str, what: str) -> bytes:
        req = urllib.request.Request(url, headers=self.headers)
        deadline = time.monotonic() + 4 * self.timeout_s      # a server dripping bytes cannot stall us forever
        try:
            with _OPENER.open(req, timeout=self.timeout_s) as resp:
                length = resp.headers.get("Content-Length")
                if length is not None and int(length) > self.max_bytes:
                    raise ModelLoadError(f"{what} at {url} is {int(length)} bytes, over the {self.max_bytes}-byte cap "
                                         "(HttpSource(max_bytes=...) raises it)")
                chunks, total = [], 0
                while True:
                    chunk = resp.read1(1 << 20)          # what has arrived, so the deadline is seen
                    if not chunk:
                        break
                    total += len(chunk)
                    if time.monotonic() > deadline:
                        raise ModelLoadError(f"{what} at {url} took longer than {4 * self.timeout_s:g} s to arrive "
                                             "(HttpSource(timeout_s=...) sets the per-read timeout; the whole "
                                             "transfer may take 4x that)")
                    if total > self.max_bytes:
                        raise ModelLoadError(f"{what} at {url} exceeds the {self.max_bytes}-byte cap")
                    chunks.append(chunk)
                if length is not None and total != int(length):
                    raise ModelLoadError(f"{what} at {url}: broken HTTP response (the body has {total} bytes, "
                                         f"its Content-Length says {int(length)})")
                return b"".join(chunks)
        except urllib.error.HTTPError as exc:
            kind = WeightsError if what.startswith("weight") else ModelLoadError
            raise kind(f"{what} at {url}: HTTP {exc.code} {exc.reason}") from None
        except http.client.HTTPException as exc:    # a body shorter than its Content-Length, a bad status line
            raise ModelLoadError(f"{what} at {url}: broken HTTP response ({type(exc).__name__}: {exc})") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelLoadError(f"{what} at {url} could not be fetched ({reason}; timeout {self.timeout_s}s)") from None

    def read_model_json(self) -> bytes:
        return self._get(self.url, "model.json")

    def read_weight_file(self, path: str) -> bytes:
        _check_relative(path, self.description)
        url = urllib.parse.urljoin(self.base, urllib.parse.quote(path))
        if not url.startswith(self.base):
            raise UnsafePathError(f"{self.description}: weight path {path!r} resolves to {url}, outside {self.base}; refused")
        return self._get(url, f"weight shard {path!r}")


class MemorySource:
    """A model held in memory: model.json bytes (or dict) and {path: bytes} weight files."""

    def __init__(self, model_json: bytes | str | dict, weight_files: dict[str, bytes], description: str = "<memory>") -> None:
        import json
        if isinstance(model_json, dict):
            model_json = json.dumps(model_json)
        self._json = model_json.encode() if isinstance(model_json, str) else model_json
        self._files = dict(weight_files)
        self.description = description

    def read_model_json(self) -> bytes:
        return self._json

    def read_weight_file(self, path: str) -> bytes:
        _check_relative(path, self.description)
        try:
            return self._files[path]
        except KeyError:
            raise WeightsError(f"weight shard {path!r} is missing from {self.description}") from None


HTTP_OPTIONS = {"timeout_s", "max_bytes", "headers"}


def resolve_source(spec: str | os.PathLike[str] | ModelSource, **http_options: object) -> ModelSource:
    """A path, file:// URL, http(s):// URL or a ModelSource instance."""
    unknown = sorted(set(http_options) - HTTP_OPTIONS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(map(repr, unknown))}; the loaders take "
                        f"strict, optimize, max_iterations, backend and the http options {sorted(HTTP_OPTIONS)}")
    if isinstance(spec, ModelSource) and not isinstance(spec, (str, os.PathLike)):
        return spec
    text = os.fspath(spec)
    scheme = urllib.parse.urlsplit(text).scheme.lower()
    if scheme in ("http", "https"):
        return HttpSource(text, **http_options)  # type: ignore[arg-type]
    if scheme == "file":
        parsed = urllib.parse.urlsplit(text)
        return FileSource(urllib.request.url2pathname(urllib.parse.unquote(parsed.path)))
    if scheme and len(scheme) > 1:
        raise ModelLoadError(f"unsupported URL scheme {scheme!r} in {text!r}: use a path, file://, http:// or https://, "
                             "or pass a ModelSource")
    return FileSource(text)
