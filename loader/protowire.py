"""A minimal reader of the protocol-buffer wire format, enough for Yggdrasil model files.

Why not the protobuf package: YDF's files are a handful of messages whose field numbers are fixed by
its .proto files, and adding protobuf (with its version pins that already clash between ydf and
TensorFlow on this machine) as a dependency of the loader for that is not worth it.  The decoder knows
nothing of the schema: it splits a message into (field number -> raw values) and the caller says
how to read each field, with the proto2 default when it is absent.

Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 (groups, 3/4, are refused: YDF has
none).  Repeated scalars may be packed (one length-delimited run) or not; both are read.
"""
from __future__ import annotations

import struct
from typing import Union

from .errors import ModelFormatError

Raw = Union[int, bytes]


class ProtoError(ModelFormatError):
    """Bytes that are not a valid protocol-buffer message (truncated, a bad tag, a group)."""


def read_varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    """The varint at `pos` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtoError(f"{what}: truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtoError(f"{what}: varint longer than 10 bytes")


def _signed64(v: int) -> int:
    """int32 / int64 fields: negative values are sent as 64-bit two's complement varints."""
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


class Message:
    """One decoded message: its fields as raw values (ints for varint / fixed fields, bytes for
    length-delimited ones) by field number, in file order."""

    __slots__ = ("fields", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.what = what
        self.fields: dict[int, list[tuple[int, Raw]]] = {}
        pos, n = 0, len(data)
        while pos < n:
            tag, pos = read_varint(data, pos, what)
            number, wire = tag >> 3, tag & 7
            if number == 0:
                raise ProtoError(f"{what}: field number 0 at byte {pos}")
            value: Raw
            if wire == 0:
                value, pos = read_varint(data, pos, what)
            elif wire == 1:
                if pos + 8 > n:
                    raise ProtoError(f"{what}: truncated fixed64 field {number}")
                value = int.from_bytes(data[pos:pos + 8], "little")
                pos += 8
            elif wire == 2:
                length, pos = read_varint(data, pos, what)
                if pos + length > n:
                    raise ProtoError(f"{what}: field {number} claims {length} bytes, {n - pos} left")
                value = data[pos:pos + length]
                pos += length
            elif wire == 5:
                if pos + 4 > n:
                    raise ProtoError(f"{what}: truncated fixed32 field {number}")
                value = int.from_bytes(data[pos:pos + 4], "little")
                pos += 4
            else:
                raise ProtoError(f"{what}: unsupported wire type {wire} (field {number})")
            self.fields.setdefault(number, []).append((wire, value))

    def has(self, number: int) -> bool:
        return number in self.fields

    def _last(self, number: int, wire: int) -> Raw | None:
        entries = self.fields.get(number)
        if not entries:
            return None
        w, v = entries[-1]                       # proto rule: the last occurrence of a scalar wins
        if w != wire:
            raise ProtoError(f"{self.what}: field {number} has wire type {w}, expected {wire}")
        return v

    def int(self, number: int, default: int = 0) -> int:
        v = self._last(number, 0)
        return default if v is None else _signed64(v)  # type: ignore[arg-type]

    def bool(self, number: int, default: bool = False) -> bool:
        v = self._last(number, 0)
        return default if v is None else bool(v)

    def float(self, number: int, default: float = 0.0) -> float:
        v = self._last(number, 5)
        return default if v is None else struct.unpack("<f", int(v).to_bytes(4, "little"))[0]  # type: ignore[arg-type]

    def double(self, number: int, default: float = 0.0) -> float:
        v = self._last(number, 1)
        return default if v is None else struct.unpack("<d", int(v).to_bytes(8, "little"))[0]  # type: ignore[arg-type]

    def bytes(self, number: int, default: bytes = b"") -> bytes:
        v = self._last(number, 2)
        return default if v is None else v  # type: ignore[return-value]

    def string(self, number: int, default: str = "") -> str:
        raw = self.bytes(number, default.encode())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtoError(f"{self.what}: field {number} is not UTF-8 text") from None

    def message(self, number: int) -> "Message | None":
        v = self._last(number, 2)
        return None if v is None else Message(v, f"{self.what}.{number}")  # type: ignore[arg-type]

    def messages(self, number: int) -> list["Message"]:
        out = []
        for w, v in self.fields.get(number, []):
            if w != 2:
                raise ProtoError(f"{self.what}: field {number} has wire type {w}, expected a message")
            out.append(Message(v, f"{self.what}.{number}"))  # type: ignore[arg-type]
        return out

    def ints(self, number: int) -> list[int]:
        """A repeated int32 / int64 / enum field, packed or not."""
        out: list[int] = []
        for w, v in self.fields.get(number, []):
            if w == 0:
                out.append(_signed64(v))  # type: ignore[arg-type]
            elif w == 2:
                pos, data = 0, v
                while pos < len(data):  # type: ignore[arg-type]
                    x, pos = read_varint(data, pos, self.what)  # type: ignore[arg-type]
                    out.append(_signed64(x))
            else:
                raise ProtoError(f"{self.what}: field {number} has wire type {w}, expected varints")
        return out

    def floats(self, number: int) -> list[float]:
        """A repeated float field, packed or not."""
        return self._fixed(number, 5, "<f", 4)

    def doubles(self, number: int) -> list[float]:
        """A repeated double field, packed or not."""
        return self._fixed(number, 1, "<d", 8)

    def _fixed(self, number: int, wire: int, fmt: str, size: int) -> list[float]:
        out: list[float] = []
        for w, v in self.fields.get(number, []):
            if w == wire:
                out.append(struct.unpack(fmt, int(v).to_bytes(size, "little"))[0])  # type: ignore[arg-type]
            elif w == 2:
                if len(v) % size:  # type: ignore[arg-type]
                    raise ProtoError(f"{self.what}: packed field {number} is not a whole number of values")
                out.extend(x[0] for x in struct.iter_unpack(fmt, v))  # type: ignore[arg-type]
            else:
                raise ProtoError(f"{self.what}: field {number} has wire type {w}")
        return out
