"""Texture pool: reuse GL textures of the same size and format, within a byte budget.

Creating a texture is cheap on most drivers but its first use is not (the
driver allocates and clears storage), and a graph run allocates and frees
the same handful of sizes over and over.  Released textures wait in a pool
keyed by (width, height, format); the pool is trimmed, oldest first, whenever
its bytes exceed ``pool_limit_bytes``, so memory cannot grow without bound
(TF.js keeps every texture forever by default).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import moderngl

from .layout import TEXTURE_FORMATS

PoolKey = tuple[int, int, str, int]  # width, height, moderngl dtype, components


@dataclass
class Storage:
    """A texture plus the number of tensor views still reading it."""

    texture: moderngl.Texture
    key: PoolKey
    nbytes: int
    refs: int = 1
    fbo: Any = field(default=None, repr=False)


class TexturePool:
    def __init__(self, ctx: moderngl.Context, pool_limit_bytes: int = 256 << 20) -> None:
        self.ctx = ctx
        self.pool_limit_bytes = pool_limit_bytes
        self._free: OrderedDict[int, Storage] = OrderedDict()  # insertion order = release order
        self._free_by_key: dict[PoolKey, list[int]] = {}
        self.live_textures = 0
        self.live_bytes = 0
        self.pooled_bytes = 0
        self.peak_bytes = 0
        self.peak_live_bytes = 0
        self.allocations = 0
        self.reuses = 0
        self.deleted = 0

    @staticmethod
    def key_for(width: int, height: int, dtype: str, packed: bool) -> tuple[PoolKey, int]:
        mgl_dtype, comps, bpt = TEXTURE_FORMATS[(dtype, packed)]
        return (width, height, mgl_dtype, comps), width * height * bpt

    def acquire(self, width: int, height: int, dtype: str, packed: bool) -> Storage:
        key, nbytes = self.key_for(width, height, dtype, packed)
        ids = self._free_by_key.get(key)
        if ids:
            storage = self._free.pop(ids.pop())
            self.pooled_bytes -= storage.nbytes
            storage.refs = 1
            self.reuses += 1
        else:
            tex = self.ctx.texture((width, height), key[3], dtype=key[2])
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            tex.repeat_x = False
            tex.repeat_y = False
            storage = Storage(tex, key, nbytes)
            self.allocations += 1
        self.live_textures += 1
        self.live_bytes += storage.nbytes
        self.peak_bytes = max(self.peak_bytes, self.live_bytes + self.pooled_bytes)
        self.peak_live_bytes = max(self.peak_live_bytes, self.live_bytes)
        return storage

    def release(self, storage: Storage) -> None:
        """Drop one reference; the last one returns the texture to the pool."""
        storage.refs -= 1
        if storage.refs > 0:
            return
        if storage.refs < 0:  # pragma: no cover - guarded by handle bookkeeping
            raise RuntimeError("texture released twice")
        self.live_textures -= 1
        self.live_bytes -= storage.nbytes
        sid = id(storage)
        self._free[sid] = storage
        self._free_by_key.setdefault(storage.key, []).append(sid)
        self.pooled_bytes += storage.nbytes
        self._trim(self.pool_limit_bytes)

    def claim(self, storage: Storage) -> bool:
        """Take a pooled (released) texture back as live, exclusively for the caller, e.g. a recorded
        inference that will write it again; False when it is no longer in the pool."""
        sid = id(storage)
        if self._free.get(sid) is not storage:
            return False
        del self._free[sid]
        self._free_by_key[storage.key].remove(sid)
        self.pooled_bytes -= storage.nbytes
        storage.refs = 1
        self.live_textures += 1
        self.live_bytes += storage.nbytes
        self.peak_live_bytes = max(self.peak_live_bytes, self.live_bytes)
        return True

    def trim(self, limit_bytes: int = 0) -> None:
        """Delete pooled textures, oldest first, until at most `limit_bytes` remain pooled."""
        self._trim(limit_bytes)

    def _trim(self, limit: int) -> None:
        while self.pooled_bytes > limit and self._free:
            sid, storage = self._free.popitem(last=False)
            self._free_by_key[storage.key].remove(sid)
            self.pooled_bytes -= storage.nbytes
            if storage.fbo is not None:
                storage.fbo.release()
            storage.texture.release()
            self.deleted += 1

    def stats(self) -> dict[str, int]:
        return {
            "live_textures": self.live_textures,
            "live_bytes": self.live_bytes,
            "pooled_textures": len(self._free),
            "pooled_bytes": self.pooled_bytes,
            "peak_bytes": self.peak_bytes,
            "peak_live_bytes": self.peak_live_bytes,
            "texture_allocations": self.allocations,
            "texture_reuses": self.reuses,
            "textures_deleted": self.deleted,
            "pool_limit_bytes": self.pool_limit_bytes,
        }

    def close(self) -> None:
        self._trim(-1)
