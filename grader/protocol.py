"""The wire format between the judge and a student worker.

Why not pickle: unpickling runs code chosen by whoever wrote the bytes, and a
worker runs student code, so its bytes are hostile.  Everything that crosses
the boundary is a JSON header plus raw tensor buffers, and the judge rebuilds
values only from the plain types below.  An ``int``, ``str`` or ``Tensor``
subclass cannot survive the trip: it arrives as a plain ``int``, ``str`` or
``torch.Tensor`` whose ``==`` is the judge's own.

Value grammar (JSON, with ``{"$t": ...}`` tags for what JSON lacks):
    null | true | false | int | float | str | [value, ...]      (a list)
    {"$t": "tuple", "items": [...]}
    {"$t": "dict", "items": [[key, value], ...]}   keys: str | int | float | bool | null
    {"$t": "float", "v": "nan" | "inf" | "-inf"}
    {"$t": "tensor", "dtype": str, "shape": [int, ...], "blob": int}
    {"$t": "ref", "id": int, "type": str}     an object left in the worker
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy
import torch

# Limits that a reply must respect before the judge even looks at it.
MAX_HEADER_BYTES = 8 * 1024 * 1024
MAX_BLOBS = 4096
MAX_BLOB_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_PATH = 16  # attribute names in one reference (student.torch.nn.functional.relu: 3)

_DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "int16": torch.int16,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "bool": torch.bool,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
_ITEMSIZE = {v: v.itemsize for v in _DTYPES.values()}
# numpy's dtype for each of ours (bfloat16 has none: it goes through torch's bytes).
_NUMPY_DTYPES = {
    torch.float64: numpy.float64,
    torch.float32: numpy.float32,
    torch.float16: numpy.float16,
    torch.int64: numpy.int64,
    torch.int32: numpy.int32,
    torch.int16: numpy.int16,
    torch.int8: numpy.int8,
    torch.uint8: numpy.uint8,
    torch.bool: numpy.bool_,
    torch.complex64: numpy.complex64,
    torch.complex128: numpy.complex128,
}


class ProtocolError(Exception):
    """The other side sent something that is not a valid message."""


@dataclass(frozen=True)
class Ref:
    """An object that lives in the worker, named by its id there.

    A non-empty ``path`` names an attribute of that object, looked up only
    when the worker uses the reference (``student.torch.nn.Linear`` as one
    reference to the ``torch`` module and the path ``("nn", "Linear")``),
    so that reaching a module's function costs the judge no request.
    """

    id: int
    type: str
    path: tuple[str, ...] = ()


class Unencodable(TypeError):
    """A value has no plain-data form (the worker then keeps it and sends a Ref)."""


# --------------------------------------------------------------------------- encoding


def encode(value: Any, blobs: list[bytes], make_ref=None, _depth: int = 0) -> Any:
    """Turn ``value`` into JSON-able data, appending tensor bytes to ``blobs``.

    ``make_ref(obj) -> Ref`` is called for values with no plain form; without
    it such a value raises :class:`Unencodable`.
    """
    if _depth > MAX_DEPTH:
        raise Unencodable("value nested too deeply")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if isinstance(value, bool):  # a bool subclass cannot exist, but be exact
        return bool(value)
    if isinstance(value, str):  # a str subclass: only its characters travel
        return str.__str__(value)
    if isinstance(value, int):
        return int.__index__(value) if t is not int else value
    if isinstance(value, float):
        v = float.__float__(value) if t is not float else value
        if math.isfinite(v):
            return v
        return {"$t": "float", "v": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
    if isinstance(value, Ref):
        if value.path:
            return {"$t": "ref", "id": value.id, "type": value.type, "path": list(value.path)}
        return {"$t": "ref", "id": value.id, "type": value.type}
    if isinstance(value, torch.Tensor):
        return _encode_tensor(value, blobs, make_ref)
    if t in (list, tuple, torch.Size) or (
        isinstance(value, tuple) and (hasattr(value, "_fields") or t.__module__ == "torch.return_types")
    ):
        items = [encode(v, blobs, make_ref, _depth + 1) for v in value]
        return items if t is list else {"$t": "tuple", "items": items}
    if t in (dict, OrderedDict):
        pairs = []
        for k, v in dict.items(value):
            if not (k is None or type(k) in (str, int, bool) or (type(k) is float and math.isfinite(k))):
                if make_ref is None:
                    raise Unencodable(f"dict key of type {type(k).__name__}")
                return encode(make_ref(value), blobs)
            pairs.append([k, encode(v, blobs, make_ref, _depth + 1)])
        return {"$t": "dict", "items": pairs}
    if make_ref is None:
        raise Unencodable(f"cannot send a {t.__module__}.{t.__qualname__}")
    return encode(make_ref(value), blobs)


def _encode_tensor(value: torch.Tensor, blobs: list[bytes], make_ref) -> Any:
    # Tensor subclasses and Parameters become plain tensors; gradients and
    # devices are dropped: only the numbers travel.  Every step is skipped
    # where it has nothing to do: a judge encodes and decodes a tensor
    # hundreds of times per submission, and each torch call from Python
    # costs about a microsecond.
    t = value if type(value) is torch.Tensor else torch.Tensor.as_subclass(value, torch.Tensor)
    t = t.detach()
    if t.layout != torch.strided or t.dtype not in _DTYPE_NAMES or t.is_meta:
        if make_ref is None:
            raise Unencodable(f"cannot send a tensor of dtype {t.dtype} / layout {t.layout}")
        return encode(make_ref(value), blobs)
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    if not t.is_contiguous():
        t = t.contiguous()
    if not t.numel():
        raw = b""
    elif t.dtype in _NUMPY_DTYPES:
        raw = t.numpy().tobytes()  # C order, native byte order: the bytes torch holds
    else:
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes()  # bfloat16: no numpy dtype
    blobs.append(raw)
    return {"$t": "tensor", "dtype": _DTYPE_NAMES[t.dtype], "shape": list(t.shape), "blob": len(blobs) - 1}


# --------------------------------------------------------------------------- decoding


def decode(data: Any, blobs: list[bytes], resolve_ref=None, _depth: int = 0) -> Any:
    """Rebuild a value from :func:`encode`'s output, trusting nothing.

    Only plain Python types and plain tensors come out.  ``resolve_ref(Ref)``
    maps a reference to a local object (the worker uses it); without it a
    :class:`Ref` is returned as is.
    """
    if _depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    t = type(data)
    if data is None or t in (bool, int, str):
        return data
    if t is float:
        return data
    if t is list:
        return [decode(v, blobs, resolve_ref, _depth + 1) for v in data]
    if t is not dict:
        raise ProtocolError(f"unexpected JSON type {t.__name__}")
    tag = data.get("$t")
    if tag == "tuple":
        return tuple(decode(v, blobs, resolve_ref, _depth + 1) for v in _list(data.get("items")))
    if tag == "dict":
        out = {}
        for pair in _list(data.get("items")):
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolError("bad dict item")
            k = pair[0]
            if not (k is None or type(k) in (str, int, float, bool)):
                raise ProtocolError("bad dict key")
            out[k] = decode(pair[1], blobs, resolve_ref, _depth + 1)
        return out
    if tag == "float":
        v = data.get("v")
        if v not in ("nan", "inf", "-inf"):
            raise ProtocolError("bad float")
        return float(v)
    if tag == "tensor":
        return _decode_tensor(data, blobs)
    if tag == "ref":
        rid, rtype = data.get("id"), data.get("type")
        if type(rid) is not int or type(rtype) is not str:
            raise ProtocolError("bad ref")
        path = data.get("path", [])
        if type(path) is not list or len(path) > MAX_PATH or any(type(p) is not str or len(p) > 200 for p in path):
            raise ProtocolError("bad ref path")
        ref = Ref(rid, rtype[:200], tuple(path))
        return resolve_ref(ref) if resolve_ref else ref
    raise ProtocolError(f"unknown tag {tag!r}")


def _list(v: Any) -> list:
    if type(v) is not list:
        raise ProtocolError("expected a list")
    return v


def _decode_tensor(data: dict, blobs: list[bytes]) -> torch.Tensor:
    dtype = _DTYPES.get(data.get("dtype"))  # type: ignore[arg-type]
    shape = data.get("shape")
    idx = data.get("blob")
    if dtype is None or type(shape) is not list or type(idx) is not int:
        raise ProtocolError("bad tensor header")
    if not all(type(s) is int and 0 <= s for s in shape) or len(shape) > 32:
        raise ProtocolError("bad tensor shape")
    if not 0 <= idx < len(blobs):
        raise ProtocolError("bad tensor blob index")
    raw = blobs[idx]
    numel = math.prod(shape)
    if numel * _ITEMSIZE[dtype] != len(raw):
        raise ProtocolError("tensor size does not match its bytes")
    if numel == 0:
        return torch.empty(shape, dtype=dtype)
    np_dtype = _NUMPY_DTYPES.get(dtype)
    if np_dtype is not None:
        # numpy's reshape and copy cost a third of torch's view from Python;
        # the copy is this tensor's own memory.
        return torch.from_numpy(numpy.frombuffer(raw, dtype=np_dtype).reshape(shape).copy())
    # The bytearray is a fresh copy that only this tensor holds: no clone needed.
    return torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)


# --------------------------------------------------------------------------- framing

_HEAD = struct.Struct("!II")
_BLOB = struct.Struct("!Q")


# One encoder for every message (json.dumps with options builds a new one per call).
_JSON = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def pack(message: dict, blobs: list[bytes]) -> bytes:
    header = _JSON.encode(message).encode()
    parts = [_HEAD.pack(len(header), len(blobs)), header]
    for b in blobs:
        parts.append(_BLOB.pack(len(b)))
        parts.append(b)
    return b"".join(parts)


def send(sock: socket.socket, message: dict, blobs: list[bytes]) -> None:
    sock.sendall(pack(message, blobs))


def recv(
    sock: socket.socket, max_blob_bytes: int = MAX_BLOB_BYTES, deadline: float | None = None
) -> tuple[dict, list[bytes]]:
    """Read one framed message; raise EOFError on a closed peer, and
    ``socket.timeout`` past ``deadline`` (a ``time.monotonic()`` value) however
    slowly the peer drips its bytes."""
    reader = _Reader(sock, deadline)
    hlen, nblobs = _HEAD.unpack(reader.take(_HEAD.size))
    if hlen > MAX_HEADER_BYTES or nblobs > MAX_BLOBS:
        raise ProtocolError("message too large")
    try:
        message = json.loads(reader.take(hlen))
    except ValueError as e:
        raise ProtocolError(f"bad JSON: {e}") from None
    if type(message) is not dict:
        raise ProtocolError("message is not an object")
    blobs, total = [], 0
    for _ in range(nblobs):
        (n,) = _BLOB.unpack(reader.take(_BLOB.size))
        total += n
        if total > max_blob_bytes:
            raise ProtocolError("tensor data too large")
        blobs.append(reader.take(n))
    return message, blobs


class _Reader:
    """Reads a message in as few ``recv`` calls as it can (one, for most).

    Judge and worker strictly take turns, one message each, so whatever
    arrives is this message; each piece is taken from the buffer.
    """

    CHUNK = 1 << 16

    def __init__(self, sock: socket.socket, deadline: float | None):
        self.sock, self.deadline = sock, deadline
        self.buf, self.pos = b"", 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            rest = bytearray(self.buf[self.pos :])
            while len(rest) < n:
                if self.deadline is not None:
                    left = self.deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError("deadline passed")
                    self.sock.settimeout(left)
                chunk = self.sock.recv(min(max(n - len(rest), self.CHUNK), 1 << 20))
                if not chunk:
                    raise EOFError("peer closed the connection")
                rest += chunk
            self.buf, self.pos, end = bytes(rest), 0, n
        piece = self.buf[self.pos : end]
        self.pos = end
        return piece


class _Buffer:
    """Reads a packed message from memory with the socket interface recv() expects."""

    def __init__(self, data: bytes):
        self.view, self.pos = memoryview(data), 0

    def recv(self, n: int) -> bytes:
        chunk = bytes(self.view[self.pos : self.pos + n])
        self.pos += len(chunk)
        return chunk

    def settimeout(self, _t) -> None:
        pass


def unpack(data: bytes) -> tuple[dict, list[bytes]]:
    """The inverse of :func:`pack`, with :func:`recv`'s checks."""
    return recv(_Buffer(data))  # type: ignore[arg-type]
