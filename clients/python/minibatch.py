# SPDX-License-Identifier: MIT
"""minibatch - a Python client for minibatchd.

Everything here follows proto/minibatch-proto.md, the protocol document:

- sample messages: binary (F32, F16 or U8 features, optional weights) and
  text (CSV, libsvm), see encode_samples() and encode_text();
- a Producer that gathers samples into messages and sends them on a PUSH
  socket, or a PUB socket with a topic;
- snapshot messages: decode_snapshot() checks every rule of section 4 and
  returns a Snapshot; a Subscriber receives them, and latest() keeps only
  the newest;
- Model rebuilds the network of a snapshot with numpy and predicts;
- Control sends one request to the control socket and returns the parsed
  JSON reply, never staying stuck on a lost reply;
- read_idx() and load_idx() read IDX files (MNIST, Fashion-MNIST).

Input the document refuses raises a ProtocolError, a ValueError whose
`reason` is the document's name for it ("truncated", "crc", ...); each
reason has its own subclass (TruncatedError, CrcError, ...).

Needs Python 3.11, numpy and, for the sockets, pyzmq.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import gzip
import json
import math
import os
import struct
import time
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

try:
    import zmq
except ImportError:  # encoding and decoding still work without sockets
    zmq = None  # type: ignore[assignment]

__all__ = [
    "MAX_FEATURES", "MAX_TARGETS", "MAX_CLASSES", "MAX_SAMPLES_PER_MSG",
    "MAX_MSG_BYTES", "MAX_LINE_BYTES", "MAX_LAYERS", "MAX_TOPIC_BYTES",
    "MAX_CONTROL_BYTES", "IDX_MAX_DIMS", "REASONS",
    "Elem", "ModelKind", "Activation",
    "ProtocolError", "ControlError", "error_class",
    "crc32c", "encode_samples", "encode_text", "sample_message_size",
    "read_idx", "load_idx",
    "Snapshot", "decode_snapshot", "Model",
    "runtime_dir", "endpoint",
    "Producer", "Subscriber", "Control",
]

# ---- Limits (section 1.3) ----

MAX_FEATURES = 1 << 24
"""Features per sample; a model's input width."""
MAX_TARGETS = 4096
"""Target values per sample."""
MAX_CLASSES = 4096
"""Classes of a softmax output."""
MAX_SAMPLES_PER_MSG = 65536
"""Samples in one binary sample message."""
MAX_MSG_BYTES = 64 << 20
"""One message: a sample message or a snapshot body."""
MAX_LINE_BYTES = 1 << 20
"""One CSV or libsvm line, newline excluded."""
MAX_LAYERS = 16
"""Weight layers of a model."""
MAX_TOPIC_BYTES = 255
"""A model name, which is the snapshot topic."""
MAX_CONTROL_BYTES = 4096
"""One control request."""
IDX_MAX_DIMS = 4
"""Dimensions of an IDX file."""

SAMPLE_MAGIC = b"MBSM"
SAMPLE_VERSION = 1
SAMPLE_HEADER_BYTES = 32
SAMPLE_F_WEIGHTS = 1 << 0
"""Flag: each row starts with an f32 weight."""
SNAP_MAGIC = b"MBSN"
SNAP_VERSION = 1
SNAP_HEADER_BYTES = 56

_F16_MAX = 65504.0
_U8_MAX = 255.0


class Elem(enum.IntEnum):
    """How the features of a binary sample message are stored."""

    F32 = 1
    F16 = 2
    U8 = 3

    @property
    def size(self) -> int:
        """Bytes of one stored feature."""
        return {Elem.F32: 4, Elem.F16: 2, Elem.U8: 1}[self]


class ModelKind(enum.IntEnum):
    """Model kinds of a snapshot."""

    LINEAR = 1
    LOGISTIC = 2
    SOFTMAX = 3
    MLP = 4


class Activation(enum.IntEnum):
    """The activation of a layer's output."""

    IDENTITY = 0
    RELU = 1
    TANH = 2
    SIGMOID = 3
    SOFTMAX = 4


# ---- Errors (section 3) ----

REASONS: tuple[str, ...] = (
    "empty", "magic", "version", "flags", "elem_type", "truncated",
    "trailing", "too_big", "dim_mismatch", "nonfinite", "not_numeric",
    "columns", "index_range", "index_order", "label", "crc", "scale",
    "count_mismatch",
)
"""The reason names of section 3, in the order of their numbers (1..18)."""


class ProtocolError(ValueError):
    """Input the protocol refuses; `reason` is the document's name for why."""

    reason: str = ""


def _error_class(reason: str) -> type[ProtocolError]:
    name = "".join(part.capitalize() for part in reason.split("_")) + "Error"
    cls = type(name, (ProtocolError,), {
        "reason": reason,
        "__doc__": f"Refused with reason `{reason}`.",
        "__module__": __name__,
    })
    return cls


_ERRORS: dict[str, type[ProtocolError]] = {r: _error_class(r) for r in REASONS}
EmptyError = _ERRORS["empty"]
MagicError = _ERRORS["magic"]
VersionError = _ERRORS["version"]
FlagsError = _ERRORS["flags"]
ElemTypeError = _ERRORS["elem_type"]
TruncatedError = _ERRORS["truncated"]
TrailingError = _ERRORS["trailing"]
TooBigError = _ERRORS["too_big"]
DimMismatchError = _ERRORS["dim_mismatch"]
NonfiniteError = _ERRORS["nonfinite"]
NotNumericError = _ERRORS["not_numeric"]
ColumnsError = _ERRORS["columns"]
IndexRangeError = _ERRORS["index_range"]
IndexOrderError = _ERRORS["index_order"]
LabelError = _ERRORS["label"]
CrcError = _ERRORS["crc"]
ScaleError = _ERRORS["scale"]
CountMismatchError = _ERRORS["count_mismatch"]
__all__ += [cls.__name__ for cls in _ERRORS.values()]


def error_class(reason: str) -> type[ProtocolError]:
    """The ProtocolError subclass of a reason name ("crc" gives CrcError)."""
    return _ERRORS[reason]


def _fail(reason: str, message: str) -> NoReturn:
    raise _ERRORS[reason](message)


class ControlError(RuntimeError):
    """The daemon answered a control request with "ok": false."""

    def __init__(self, request: str, reply: dict[str, Any]):
        self.request = request
        self.reply = reply
        super().__init__(f"{request}: {reply.get('error', 'refused')}")


# ---- CRC-32C (section 1.2) ----

_CRC_POLY = 0x82F63B78


def _crc_tables() -> np.ndarray:
    """Slicing-by-4 tables: row 0 is the byte-at-a-time table."""
    t = np.zeros((4, 256), dtype=np.uint32)
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ _CRC_POLY if c & 1 else c >> 1
        t[0, b] = c
    for k in range(1, 4):
        t[k] = t[0][t[k - 1] & 0xFF] ^ (t[k - 1] >> 8)
    return t


_CRC_T = _crc_tables()
_CRC_T0_LIST = [int(v) for v in _CRC_T[0]]
# Bytes each lane checks before the lanes are combined: small enough that
# every lane is one numpy column, large enough that the combining is cheap.
_CRC_LANE = 64


def _gf2_apply(m: Sequence[int], v: int) -> int:
    """Apply the GF(2) linear map m (images of the 32 basis bits) to v."""
    r, i = 0, 0
    while v:
        if v & 1:
            r ^= m[i]
        v >>= 1
        i += 1
    return r


def _gf2_square(m: Sequence[int]) -> tuple[int, ...]:
    """The map m applied twice."""
    return tuple(_gf2_apply(m, m[i]) for i in range(32))


@functools.cache
def _crc_shift_map(level: int) -> tuple[int, ...]:
    """The map that runs a CRC register over LANE * 2**level zero bytes."""
    if level > 0:
        return _gf2_square(_crc_shift_map(level - 1))
    one_byte = tuple(_CRC_T0_LIST[(1 << i) & 0xFF] ^ ((1 << i) >> 8) for i in range(32))
    m = one_byte
    for _ in range(_CRC_LANE.bit_length() - 1):
        m = _gf2_square(m)
    return m


@functools.cache
def _crc_shift_tables(level: int) -> np.ndarray:
    """_crc_shift_map(level) as four byte tables, for vectorised use."""
    m = _crc_shift_map(level)
    tables = np.zeros((4, 256), dtype=np.uint32)
    for byte in range(4):
        t = tables[byte]
        for bit in range(8):
            t[1 << bit:2 << bit] = t[:1 << bit] ^ np.uint32(m[8 * byte + bit])
    return tables


def _crc_serial(data: bytes | memoryview, crc: int) -> int:
    t = _CRC_T0_LIST
    for b in bytes(data):
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC-32C (Castagnoli) of data, as snapshots and checkpoints carry it.

    Long inputs are cut into 64-byte lanes whose CRCs numpy computes side by
    side; the lanes are then combined pairwise, which is exact because a CRC
    is linear. A 400 KB parameter block takes a few milliseconds.
    """
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n = buf.size
    if n < 2 * _CRC_LANE:
        return _crc_serial(buf.tobytes(), 0xFFFFFFFF) ^ 0xFFFFFFFF
    lanes = -(-n // _CRC_LANE)
    pad = lanes * _CRC_LANE - n
    # Zeros in front of a register that starts at 0 leave it at 0; the
    # initial value 0xFFFFFFFF is the same as inverting the first 4 bytes.
    work = np.zeros(lanes * _CRC_LANE, dtype=np.uint8)
    work[pad:] = buf
    work[pad:pad + 4] ^= 0xFF
    words = work.view("<u4").reshape(lanes, _CRC_LANE // 4)
    t0, t1, t2, t3 = _CRC_T
    crc = np.zeros(lanes, dtype=np.uint32)
    for j in range(_CRC_LANE // 4):
        c = crc ^ words[:, j]
        crc = t3[c & 0xFF] ^ t2[(c >> 8) & 0xFF] ^ t1[(c >> 16) & 0xFF] ^ t0[c >> 24]
    level = 0
    while crc.size > 1:
        if crc.size & 1:  # a zero lane in front changes nothing
            crc = np.concatenate((np.zeros(1, dtype=np.uint32), crc))
        s = _crc_shift_tables(level)
        left, right = crc[0::2], crc[1::2]
        crc = (s[0][left & 0xFF] ^ s[1][(left >> 8) & 0xFF]
               ^ s[2][(left >> 16) & 0xFF] ^ s[3][left >> 24]) ^ right
        level += 1
    return int(crc[0]) ^ 0xFFFFFFFF


# ---- Sample messages (section 2) ----

def _f32(value: float) -> np.float32:
    """value rounded to f32 (inf when out of its range)."""
    with np.errstate(over="ignore"):
        return np.float32(value)


def _as_rows(x: Any) -> tuple[np.ndarray, bool]:
    """x as a 2-D f32 array, and whether it was a single sample."""
    with np.errstate(over="ignore"):
        a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        return a.reshape(1, -1), True
    if a.ndim != 2:
        _fail("dim_mismatch", f"features must be 1-D (one sample) or 2-D, not {a.ndim}-D")
    return a, False


def _as_targets(y: Any, count: int, single: bool) -> np.ndarray:
    """y as count x n_targets f32 (one target per sample when y is 1-D)."""
    if y is None:
        return np.zeros((count, 0), dtype=np.float32)
    with np.errstate(over="ignore"):
        a = np.asarray(y, dtype=np.float32)
    if single:
        a = a.reshape(1, -1)
    elif a.ndim <= 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[0] != count:
        _fail("dim_mismatch", f"targets of shape {np.shape(y)} do not match {count} samples")
    return a


def _as_weights(w: Any, count: int) -> np.ndarray | None:
    if w is None:
        return None
    with np.errstate(over="ignore"):
        a = np.asarray(w, dtype=np.float32).reshape(-1)
    if a.size != count:
        _fail("dim_mismatch", f"{a.size} weights for {count} samples")
    return a


def _check_finite(a: np.ndarray, what: str) -> None:
    if a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        _fail("nonfinite", f"{what} {tuple(int(i) for i in bad)} is not finite")


def _check_scale(elem: Elem, scale: float, offset: float) -> tuple[np.float32, np.float32]:
    """scale and offset as f32, refused (reason scale) when unusable for elem."""
    sc, off = _f32(scale), _f32(offset)
    if elem == Elem.F32:
        if sc != 1 or off != 0:
            _fail("scale", "F32 features take scale 1 and offset 0")
        return sc, off
    if not (np.isfinite(sc) and sc != 0 and np.isfinite(off)):
        _fail("scale", f"scale {scale!r} and offset {offset!r} must be finite, the scale not 0")
    top = _F16_MAX if elem == Elem.F16 else _U8_MAX
    with np.errstate(over="ignore"):
        largest = np.float32(top) * abs(sc) + abs(off)
    if not np.isfinite(largest):
        _fail("scale", f"scale {scale!r} and offset {offset!r} overflow f32 for {elem.name}")
    return sc, off


def sample_message_size(count: int, n_features: int, n_targets: int,
                        elem: Elem = Elem.F32, weighted: bool = False) -> int:
    """Bytes of a binary sample message of this shape (section 2.3)."""
    row = 4 * int(weighted) + 4 * n_targets + n_features * _elem(elem).size
    return SAMPLE_HEADER_BYTES + count * row


def _check_shape(count: int, n_features: int, n_targets: int, elem: Elem, weighted: bool) -> None:
    if count == 0:
        _fail("empty", "a message needs at least one sample")
    if count > MAX_SAMPLES_PER_MSG:
        _fail("too_big", f"{count} samples is over {MAX_SAMPLES_PER_MSG} per message")
    if not 1 <= n_features <= MAX_FEATURES:
        _fail("too_big", f"{n_features} features is outside 1..{MAX_FEATURES}")
    if n_targets > MAX_TARGETS:
        _fail("too_big", f"{n_targets} targets is over {MAX_TARGETS}")
    size = sample_message_size(count, n_features, n_targets, elem, weighted)
    if size > MAX_MSG_BYTES:
        _fail("too_big", f"a message of {size} bytes is over {MAX_MSG_BYTES}")


def _store_features(x: np.ndarray, elem: Elem, sc: np.float32, off: np.float32) -> np.ndarray:
    """The stored form of features x: (x - offset) / scale, rounded and clamped."""
    if elem == Elem.F32:
        return x.astype("<f4", copy=False)
    with np.errstate(over="ignore"):  # out of range saturates below
        q = (x - off) / sc  # f32 arithmetic, the producer's side of section 2.3
    if elem == Elem.F16:
        return np.clip(q, -_F16_MAX, _F16_MAX).astype("<f2")
    # Nearest integer, halves rounded up, as the C encoder does; in float64,
    # where adding the half is exact.
    return np.floor(np.clip(q, 0, _U8_MAX).astype(np.float64) + 0.5).astype(np.uint8)


def _pack_samples(x: np.ndarray, y: np.ndarray, w: np.ndarray | None,
                  elem: Elem, sc: np.float32, off: np.float32) -> bytes:
    """Lay out a validated batch as one binary sample message."""
    count, nf = x.shape
    nt = y.shape[1]
    weighted = w is not None
    header = struct.pack("<4sBBBBIII4s4sI", SAMPLE_MAGIC, SAMPLE_VERSION,
                         SAMPLE_F_WEIGHTS if weighted else 0, int(elem), 0,
                         count, nf, nt, sc.astype("<f4").tobytes(),
                         off.astype("<f4").tobytes(), 0)
    row = 4 * int(weighted) + 4 * nt + nf * elem.size
    rows = np.empty((count, row), dtype=np.uint8)
    col = 0
    if weighted:
        rows[:, 0:4] = w.astype("<f4").view(np.uint8).reshape(count, 4)
        col = 4
    if nt:
        rows[:, col:col + 4 * nt] = np.ascontiguousarray(y, dtype="<f4").view(np.uint8).reshape(count, 4 * nt)
        col += 4 * nt
    stored = np.ascontiguousarray(_store_features(x, elem, sc, off))
    rows[:, col:] = stored.view(np.uint8).reshape(count, nf * elem.size)
    return header + rows.tobytes()


def encode_samples(x: Any, y: Any = None, w: Any = None, *, elem: Elem = Elem.F32,
                   scale: float = 1.0, offset: float = 0.0) -> bytes:
    """Encode samples as one binary sample message (section 2.3).

    x is count x n_features (or one sample, 1-D); y the targets, count x
    n_targets, or 1-D for one target per sample, or None for none; w the
    weights, one per sample, or None for an unweighted message. F16 and U8
    features are stored as (x - offset) / scale, rounded to the nearest F16
    (ties to even) or integer (halves up) and clamped to the element's
    range; F32 features take scale 1 and offset 0.

    Raises EmptyError (no sample), TooBigError (over a limit), ScaleError,
    NonfiniteError (a NaN or infinity anywhere, or a value too large for
    f32), LabelError (a negative weight), DimMismatchError (shapes).
    """
    elem = _elem(elem)
    xa, single = _as_rows(x)
    ya = _as_targets(y, xa.shape[0], single)
    wa = _as_weights(w, xa.shape[0])
    _check_shape(xa.shape[0], xa.shape[1], ya.shape[1], elem, wa is not None)
    sc, off = _check_scale(elem, scale, offset)
    _check_values(xa, ya, wa)
    return _pack_samples(xa, ya, wa, elem, sc, off)


def _check_values(x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> None:
    """Every value finite (nonfinite), then every weight not negative (label)."""
    if w is not None:
        _check_finite(w, "weight")
    _check_finite(y, "target")
    _check_finite(x, "feature")
    if w is not None and (w < 0).any():
        _fail("label", f"weight {int(np.argmax(w < 0))} is negative")


def _elem(elem: int) -> Elem:
    try:
        return Elem(elem)
    except ValueError:
        _fail("elem_type", f"element type {elem} is not 1 (F32), 2 (F16) or 3 (U8)")


def _fmt(v: float) -> str:
    """A float as %.9g, which gives the same f32 back."""
    return "%.9g" % v


def encode_text(x: Any, y: Any = None, *, fmt: str = "csv") -> bytes:
    """Encode samples as text lines (section 2.5), each ending in a newline.

    fmt is "csv" (targets then features, comma-separated) or "libsvm" (the
    one target, then index:value for each non-zero feature, 1-based).
    Numbers are written with nine significant digits, which carry any f32
    exactly. Raises NonfiniteError, DimMismatchError (libsvm with other than
    one target), TooBigError (a line over MAX_LINE_BYTES).
    """
    if fmt not in ("csv", "libsvm"):
        raise ValueError(f"unknown text format {fmt!r}: csv or libsvm")
    xa, single = _as_rows(x)
    ya = _as_targets(y, xa.shape[0], single)
    if fmt == "libsvm" and ya.shape[1] != 1:
        _fail("dim_mismatch", f"libsvm lines carry one target, not {ya.shape[1]}")
    _check_finite(ya, "target")
    _check_finite(xa, "feature")
    lines = []
    for i in range(xa.shape[0]):
        if fmt == "csv":
            fields = [_fmt(v) for v in ya[i].tolist()] + [_fmt(v) for v in xa[i].tolist()]
            line = ",".join(fields)
        else:
            nz = np.flatnonzero(xa[i])
            parts = [_fmt(float(ya[i, 0]))]
            parts += [f"{j + 1}:{_fmt(v)}" for j, v in zip(nz.tolist(), xa[i, nz].tolist())]
            line = " ".join(parts)
        if len(line) > MAX_LINE_BYTES:
            _fail("too_big", f"line {i + 1} takes {len(line)} bytes, over {MAX_LINE_BYTES}")
        lines.append(line + "\n")
    return "".join(lines).encode("ascii")


# ---- IDX files (section 6.3) ----

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x0D: np.dtype(">f4")}


def _inflated(data: bytes) -> bytes:
    """data inflated when it is gzip, recognised by content, not by a name."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def read_idx(source: str | os.PathLike[str] | bytes) -> np.ndarray:
    """Read an IDX file, or its bytes, gzip-compressed or not, as an array.

    The array has the file's dimensions and type (uint8, read-only, or
    float32 in host order). Raises EmptyError, MagicError (leading bytes not zero),
    ElemTypeError (a type other than 0x08 and 0x0D), TooBigError (dimensions
    outside 1..4, a size of 0), TruncatedError, TrailingError,
    NonfiniteError (float32 data).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = _inflated(bytes(source))
    else:
        with open(source, "rb") as f:
            data = _inflated(f.read())
    if not data:
        _fail("empty", "an IDX file of 0 bytes")
    if len(data) < 4:
        _fail("truncated", f"an IDX header needs 4 bytes, not {len(data)}")
    if data[0] or data[1]:
        _fail("magic", "an IDX file starts with two zero bytes")
    dtype = _IDX_TYPES.get(data[2])
    if dtype is None:
        _fail("elem_type", f"IDX data type 0x{data[2]:02x} is not 0x08 or 0x0D")
    ndim = data[3]
    if not 1 <= ndim <= IDX_MAX_DIMS:
        _fail("too_big", f"{ndim} IDX dimensions is outside 1..{IDX_MAX_DIMS}")
    if len(data) < 4 + 4 * ndim:
        _fail("truncated", f"{ndim} IDX sizes need {4 + 4 * ndim} bytes, the file has {len(data)}")
    shape = struct.unpack_from(f">{ndim}I", data, 4)
    if 0 in shape:
        _fail("too_big", f"IDX sizes {shape} include 0")
    need = math.prod(shape) * dtype.itemsize
    have = len(data) - 4 - 4 * ndim
    if have < need:
        _fail("truncated", f"IDX data of {have} bytes where the sizes say {need}")
    if have > need:
        _fail("trailing", f"IDX data of {have} bytes where the sizes say {need}")
    arr = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)
    if dtype.kind == "f":
        arr = arr.astype(np.float32)
        _check_finite(arr.reshape(-1), "IDX element")
    return arr


def load_idx(images: str | os.PathLike[str], labels: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read an IDX images file and its labels as the daemon does (section 6.3).

    Returns (x, y): x is count x n_features f32, bytes becoming
    byte * f32(1/255); y holds the count labels (uint8). Raises what
    read_idx() raises, and DimMismatchError (labels not 1-D),
    ElemTypeError (labels not bytes), CountMismatchError (the counts differ).
    """
    img = read_idx(images)
    lab = read_idx(labels)
    if lab.ndim != 1:
        _fail("dim_mismatch", f"labels have {lab.ndim} dimensions, not 1")
    if lab.dtype != np.uint8:
        _fail("elem_type", "labels must be bytes (type 0x08)")
    if img.shape[0] != lab.shape[0]:
        _fail("count_mismatch", f"{img.shape[0]} images but {lab.shape[0]} labels")
    x = img.reshape(img.shape[0], -1)
    if x.shape[1] > MAX_FEATURES:
        _fail("too_big", f"{x.shape[1]} features per image is over {MAX_FEATURES}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) * np.float32(1 / 255)
    return x, lab.copy()


# ---- Snapshots (section 4) ----

@dataclasses.dataclass(frozen=True, eq=False)
class Snapshot:
    """A validated snapshot: a model's shape, counters and parameters."""

    topic: str | None
    """The model's name (frame 1), or None when decoded from a body alone."""
    kind: ModelKind
    """Model kind."""
    sizes: tuple[int, ...]
    """Layer widths: input, hidden..., output."""
    activations: tuple[Activation, ...]
    """The activation of each layer's output; the last is the head."""
    version: int
    """Model version: one more per optimizer step, never going down."""
    samples: int
    """Samples trained on."""
    batches: int
    """Batches trained on."""
    cost: float
    """Moving average of the progressive cost."""
    timestamp_ns: int
    """The daemon's wall clock (ns since the epoch) when it made the body."""
    crc: int
    """CRC-32C of the parameter bytes."""
    params: np.ndarray
    """The parameters (f32, read-only) in the order of section 4.3."""
    received_ns: int = 0
    """Our wall clock when the snapshot arrived; 0 when not received."""

    @property
    def n_layers(self) -> int:
        """Weight layers."""
        return len(self.activations)

    @property
    def n_params(self) -> int:
        """Parameters."""
        return int(self.params.size)

    def layer(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Layer index's weights (out x in, a view) and biases."""
        if not 0 <= index < self.n_layers:
            raise IndexError(f"layer {index} of {self.n_layers}")
        base = sum(self.sizes[k + 1] * self.sizes[k] + self.sizes[k + 1] for k in range(index))
        n_in, n_out = self.sizes[index], self.sizes[index + 1]
        w = self.params[base:base + n_out * n_in].reshape(n_out, n_in)
        b = self.params[base + n_out * n_in:base + n_out * n_in + n_out]
        return w, b

    def model(self) -> Model:
        """The network this snapshot describes, ready to predict."""
        return Model.from_snapshot(self)

    def age(self) -> float:
        """Seconds since the daemon made the snapshot, by our own clock."""
        return (time.time_ns() - self.timestamp_ns) / 1e9


_KINDS = frozenset(int(k) for k in ModelKind)
_ACTIVATIONS = frozenset(int(a) for a in Activation)


def _param_count(sizes: Sequence[int]) -> int:
    return sum(sizes[l + 1] * sizes[l] + sizes[l + 1] for l in range(len(sizes) - 1))


def decode_snapshot(body: bytes | bytearray | memoryview, topic: bytes | str | None = None,
                    *, received_ns: int = 0) -> Snapshot:
    """Validate a snapshot body (frame 2) and return it as a Snapshot.

    Checks, in the order of section 4.3, and names the first failure by:
    EmptyError, TruncatedError, MagicError, VersionError, FlagsError (kind,
    flags, reserved, activations, padding), TooBigError (layers, widths,
    size), CountMismatchError (n_params), TruncatedError / TrailingError
    (length), CrcError, NonfiniteError. The counters and cost are not checked.
    """
    buf = memoryview(body).cast("B")
    n = len(buf)
    if n == 0:
        _fail("empty", "a snapshot body of 0 bytes")
    if n < SNAP_HEADER_BYTES:
        _fail("truncated", f"a snapshot body needs {SNAP_HEADER_BYTES} bytes, it has {n}")
    (magic, version, kind, n_layers, flags, model_version, samples, batches, cost,
     n_params, timestamp, crc, reserved) = struct.unpack_from("<4sBBBBQQQfIQII", buf, 0)
    if magic != SNAP_MAGIC:
        _fail("magic", f"snapshot magic {magic!r} is not {SNAP_MAGIC!r}")
    if version != SNAP_VERSION:
        _fail("version", f"snapshot version {version} is not {SNAP_VERSION}")
    if kind not in _KINDS:
        _fail("flags", f"unknown model kind {kind}")
    if flags or reserved:
        _fail("flags", f"snapshot flags {flags} and reserved {reserved} must be 0")
    if not 1 <= n_layers <= MAX_LAYERS:
        _fail("too_big", f"{n_layers} layers is outside 1..{MAX_LAYERS}")
    shape_end = SNAP_HEADER_BYTES + 4 * (n_layers + 1) + n_layers
    start = (shape_end + 3) & ~3
    if n < start:
        _fail("truncated", f"{n_layers} layers need {start} bytes before the parameters, the body has {n}")
    sizes = struct.unpack_from(f"<{n_layers + 1}I", buf, SNAP_HEADER_BYTES)
    for i, s in enumerate(sizes):
        if not 1 <= s <= MAX_FEATURES:
            _fail("too_big", f"layer width {i} is {s}, outside 1..{MAX_FEATURES}")
    acts = bytes(buf[shape_end - n_layers:shape_end])
    for i, a in enumerate(acts):
        if a not in _ACTIVATIONS:
            _fail("flags", f"layer {i} has unknown activation {a}")
    if any(buf[shape_end:start]):
        _fail("flags", "padding after the activations must be 0")
    params_needed = _param_count(sizes)
    if start + 4 * params_needed > MAX_MSG_BYTES:
        _fail("too_big", f"{params_needed} parameters make the body larger than {MAX_MSG_BYTES} bytes")
    if n_params != params_needed:
        _fail("count_mismatch", f"n_params {n_params} but sizes {sizes} need {params_needed}")
    if n < start + 4 * n_params:
        _fail("truncated", f"body of {n} bytes, {start + 4 * n_params} expected")
    if n > start + 4 * n_params:
        _fail("trailing", f"body of {n} bytes, {start + 4 * n_params} expected")
    actual = crc32c(buf[start:])
    if actual != crc:
        _fail("crc", f"parameter CRC32C is {actual:08x}, the body says {crc:08x}")
    params = np.frombuffer(buf, dtype="<f4", count=n_params, offset=start).astype(np.float32)
    _check_finite(params, "parameter")
    params.flags.writeable = False
    if isinstance(topic, (bytes, bytearray, memoryview)):
        topic = bytes(topic).decode("utf-8", errors="replace")
    return Snapshot(topic=topic, kind=ModelKind(kind), sizes=tuple(sizes),
                    activations=tuple(Activation(a) for a in acts), version=model_version,
                    samples=samples, batches=batches, cost=cost, timestamp_ns=timestamp,
                    crc=crc, params=params, received_ns=received_ns)


# ---- The model (section 4.3) ----

def _activate(z: np.ndarray, act: Activation) -> np.ndarray:
    if act == Activation.IDENTITY:
        return z
    if act == Activation.RELU:
        return np.maximum(z, 0)
    if act == Activation.TANH:
        return np.tanh(z)
    if act == Activation.SIGMOID:
        return np.exp(-np.logaddexp(0, -z))  # 1 / (1 + e^-z) without overflow
    z = z - z.max(axis=1, keepdims=True)  # softmax
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Model:
    """A network of dense layers rebuilt from a snapshot.

    Layer l computes act_l(W_l x + b_l); predictions are computed in float64.
    """

    def __init__(self, sizes: Sequence[int], activations: Sequence[int], params: Any,
                 kind: ModelKind | None = None):
        """Build from widths (input, hidden..., output), one activation per
        layer and the parameters in snapshot order; CountMismatchError when
        their number does not fit the widths."""
        self.sizes = tuple(int(s) for s in sizes)
        self.activations = tuple(Activation(a) for a in activations)
        if len(self.activations) != len(self.sizes) - 1 or not self.activations:
            raise ValueError(f"{len(self.sizes)} widths need {len(self.sizes) - 1} activations")
        p = np.asarray(params, dtype=np.float32).reshape(-1)
        if p.size != _param_count(self.sizes):
            _fail("count_mismatch", f"{p.size} parameters for widths {self.sizes}")
        self.kind = kind
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        """(W, b) of each layer, float64."""
        base = 0
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            w = p[base:base + n_out * n_in].reshape(n_out, n_in).astype(np.float64)
            b = p[base + n_out * n_in:base + n_out * n_in + n_out].astype(np.float64)
            self.layers.append((w, b))
            base += n_out * n_in + n_out

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> Model:
        """The model a snapshot describes."""
        return cls(snap.sizes, snap.activations, snap.params, kind=snap.kind)

    @property
    def n_inputs(self) -> int:
        """Features per sample."""
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        """Outputs: classes, 1 for logistic, targets for linear."""
        return self.sizes[-1]

    @property
    def head(self) -> Activation:
        """The last layer's activation: softmax, sigmoid or identity."""
        return self.activations[-1]

    @property
    def is_classifier(self) -> bool:
        """True for a softmax head, or a sigmoid head with one output."""
        return self.head == Activation.SOFTMAX or (self.head == Activation.SIGMOID and self.n_outputs == 1)

    def forward(self, x: Any) -> np.ndarray:
        """Outputs for x (rows x n_inputs, or one row): probabilities or values."""
        a = np.asarray(x, dtype=np.float64)
        single = a.ndim == 1
        a = a.reshape(1, -1) if single else a
        if a.ndim != 2 or a.shape[1] != self.n_inputs:
            _fail("dim_mismatch", f"rows of {a.shape[-1]} features for a model of {self.n_inputs}")
        for (w, b), act in zip(self.layers, self.activations):
            a = _activate(a @ w.T + b, act)
        return a[0] if single else a

    def predict(self, x: Any) -> np.ndarray:
        """Classes for a classifier (argmax, or probability > 0.5 for one
        sigmoid output), the outputs otherwise."""
        out = self.forward(x)
        if not self.is_classifier:
            return out
        if self.head == Activation.SIGMOID:
            return (out[..., 0] > 0.5).astype(np.int64)
        return np.argmax(out, axis=-1)

    def accuracy(self, x: Any, y: Any) -> float:
        """Fraction of rows a classifier gets right against labels y."""
        if not self.is_classifier:
            raise ValueError("accuracy needs a classifier")
        labels = np.asarray(y).reshape(-1)
        return float(np.mean(self.predict(x) == labels))

    def cost(self, x: Any, y: Any) -> float:
        """Mean cost against y: cross-entropy for classifiers, else mean
        squared error over targets, as the daemon reports it."""
        out = self.forward(x)
        out = out.reshape(1, -1) if out.ndim == 1 else out
        tiny = np.finfo(np.float64).tiny
        if self.head == Activation.SOFTMAX:
            labels = np.asarray(y).reshape(-1).astype(np.int64)
            return float(-np.mean(np.log(np.maximum(out[np.arange(len(labels)), labels], tiny))))
        t = np.asarray(y, dtype=np.float64).reshape(out.shape)
        if self.head == Activation.SIGMOID:
            p = np.clip(out, tiny, 1 - 1e-16)
            return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
        return float(np.mean((out - t) ** 2))


# ---- Where the daemon listens (section 2.1) ----

def runtime_dir(configured: str | None = None) -> str:
    """The daemon's runtime directory by its rule: the configured
    `[daemon] runtime_dir`, else $RUNTIME_DIRECTORY, else /run/minibatchd
    for root, else $XDG_RUNTIME_DIR/minibatchd. FileNotFoundError when none
    applies (the daemon then makes a temporary directory of its own)."""
    if configured:
        return configured
    if os.environ.get("RUNTIME_DIRECTORY"):
        return os.environ["RUNTIME_DIRECTORY"]
    if os.geteuid() == 0:
        return "/run/minibatchd"
    if os.environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(os.environ["XDG_RUNTIME_DIR"], "minibatchd")
    raise FileNotFoundError("no runtime directory: set RUNTIME_DIRECTORY or XDG_RUNTIME_DIR")


def endpoint(name: str, directory: str | None = None) -> str:
    """The ipc endpoint of the daemon's socket name ("ingest", "snapshots",
    "control") in its runtime directory."""
    return "ipc://" + os.path.join(runtime_dir(directory), name)


# ---- Sockets ----

def _context(context: Any) -> Any:
    if zmq is None:
        raise ImportError("the sockets of minibatch need pyzmq (python3-zmq)")
    return context if context is not None else zmq.Context.instance()


# ---- CURVE (minibatchd.conf [security]) ----

KEY_Z85_BYTES = 40
"""A CURVE key as ZeroMQ's z85 text."""


def read_key(path: str | os.PathLike[str]) -> bytes:
    """The z85 key in a key file (the first line that is neither blank nor
    a '#' comment), as `minibatchctl keygen` writes them. ValueError when
    the file holds no key of 40 z85 characters."""
    with open(path, "rb") as f:
        text = f.read(4097)
    if len(text) > 4096:
        raise ValueError(f"{path}: longer than 4096 bytes, not a key file")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        if len(line) != KEY_Z85_BYTES:
            break
        try:
            import zmq.utils.z85 as z85
            z85.decode(line)
        except (ImportError, ValueError, KeyError):
            break
        return line
    raise ValueError(f"{path}: no z85 key of {KEY_Z85_BYTES} characters")


class CurveKeys:
    """A CURVE client's keys: the daemon's public key (its server.pub) and
    this client's key pair, z85 bytes. Used on every endpoint but ipc://
    and inproc:// ones, which the daemon keeps plain."""

    def __init__(self, server_key: bytes, public_key: bytes, secret_key: bytes):
        self.server_key = server_key
        self.public_key = public_key
        self.secret_key = secret_key

    @classmethod
    def load(cls, server_key_file: str | os.PathLike[str], key_file: str | os.PathLike[str]) -> CurveKeys:
        """Read the daemon's public key file and this client's secret key
        file (NAME.key); the public key is derived from the secret one."""
        if zmq is None:
            raise ImportError("CURVE needs pyzmq (python3-zmq)")
        secret = read_key(key_file)
        return cls(read_key(server_key_file), zmq.curve_public(secret), secret)

    @classmethod
    def from_env(cls) -> CurveKeys | None:
        """The keys named by $MINIBATCH_CURVE_SERVER_KEY and
        $MINIBATCH_CURVE_KEY (as for minibatchctl), or None when neither is
        set. ValueError when only one is."""
        server = os.environ.get("MINIBATCH_CURVE_SERVER_KEY") or None
        key = os.environ.get("MINIBATCH_CURVE_KEY") or None
        if not server and not key:
            return None
        if not server or not key:
            raise ValueError("CURVE needs both MINIBATCH_CURVE_SERVER_KEY and MINIBATCH_CURVE_KEY")
        return cls.load(server, key)

    def apply(self, sock: Any, endpoint: str) -> None:
        """Make sock a CURVE client of the daemon, unless endpoint stays on the host."""
        if endpoint.startswith(("ipc://", "inproc://")):
            return
        sock.curve_serverkey = self.server_key
        sock.curve_publickey = self.public_key
        sock.curve_secretkey = self.secret_key


class Producer:
    """Sends samples to the daemon's ingest socket, many to a message.

    A PUSH socket by default; with a topic, a PUB socket whose messages are
    the topic frame then the sample message (for a `pattern = sub` source).
    Binary samples (send()) go out `batch` at a time; text (send() with
    fmt "csv" or "libsvm", or send_line()) `batch` lines at a time or when a
    message would pass text_bytes. flush() sends what is gathered; close()
    flushes and waits up to the timeout for ZeroMQ to deliver. A send the
    daemon does not take within timeout_ms raises TimeoutError and keeps the
    samples for the next flush. Use from one thread.
    """

    def __init__(self, endpoint: str, *, topic: str | bytes | None = None,
                 n_features: int | None = None, n_targets: int = 1,
                 elem: Elem = Elem.F32, scale: float = 1.0, offset: float = 0.0,
                 weighted: bool = False, fmt: str = "binary", batch: int = 256,
                 text_bytes: int = 256 << 10, timeout_ms: int = 5000, bind: bool = False,
                 context: Any = None, curve: CurveKeys | None = None):
        """Open the socket and connect (or bind) it to endpoint, as a CURVE
        client with curve's keys unless endpoint is ipc:// or inproc://.

        n_features None takes the width of the first send(); fmt is
        "binary", "csv" or "libsvm"; batch is samples or lines per message.
        Raises ScaleError for an unusable scale, ValueError for other
        settings out of range.
        """
        if fmt not in ("binary", "csv", "libsvm"):
            raise ValueError(f"unknown format {fmt!r}: binary, csv or libsvm")
        if not 1 <= batch <= MAX_SAMPLES_PER_MSG:
            raise ValueError(f"batch {batch} is outside 1..{MAX_SAMPLES_PER_MSG}")
        if not 0 <= n_targets <= MAX_TARGETS:
            raise ValueError(f"n_targets {n_targets} is outside 0..{MAX_TARGETS}")
        if not 1 <= text_bytes <= MAX_MSG_BYTES:
            raise ValueError(f"text_bytes {text_bytes} is outside 1..{MAX_MSG_BYTES}")
        self.elem = _elem(elem)
        self._scale, self._offset = _check_scale(self.elem, scale, offset)
        self.n_features = n_features
        self.n_targets = n_targets
        self.weighted = weighted
        self.fmt = fmt
        self.batch = batch
        self.text_bytes = text_bytes
        self._timeout_ms = timeout_ms
        self.topic = topic.encode() if isinstance(topic, str) else topic
        self.sent = 0
        """Samples and lines handed to ZeroMQ."""
        self.messages = 0
        """Messages handed to ZeroMQ."""
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._n_rows = 0
        self._lines: list[bytes] = []
        self._line_bytes = 0
        self._sock = _context(context).socket(zmq.PUB if self.topic else zmq.PUSH)
        self._sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
        if not self.topic:
            # Queue nothing for a daemon that is not there: a send then
            # times out and the samples stay here, counted as not sent.
            self._sock.setsockopt(zmq.IMMEDIATE, 1)
        try:
            if curve is not None:
                curve.apply(self._sock, endpoint)
            if bind:
                self._sock.bind(endpoint)
            else:
                self._sock.connect(endpoint)
        except zmq.ZMQError:
            self._sock.close(linger=0)
            raise

    @property
    def timeout_ms(self) -> int:
        """How long one send, or the close, may wait for the daemon (-1 forever)."""
        return self._timeout_ms

    @timeout_ms.setter
    def timeout_ms(self, value: int) -> None:
        self._timeout_ms = value
        if self._sock is not None:
            self._sock.setsockopt(zmq.SNDTIMEO, value)

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.close(flush=False)

    def send(self, x: Any, y: Any = None, w: Any = None) -> None:
        """Append samples (as for encode_samples) and send full messages.

        Checks the samples at once (DimMismatchError for another width or
        number of targets, NonfiniteError, LabelError for a negative weight),
        so a bad sample never joins a message. Text producers turn them
        into lines.
        """
        xa, single = _as_rows(x)
        ya = _as_targets(y, xa.shape[0], single)
        wa = _as_weights(w, xa.shape[0])
        if self.n_features is None:
            self.n_features = xa.shape[1]
        if xa.shape[1] != self.n_features or ya.shape[1] != self.n_targets:
            _fail("dim_mismatch", f"samples of {xa.shape[1]} features and {ya.shape[1]} targets "
                  f"for a producer of {self.n_features} and {self.n_targets}")
        if (wa is not None) != self.weighted:
            _fail("dim_mismatch", "weights are needed exactly when the producer is weighted")
        if self.fmt != "binary":
            if wa is not None:
                _fail("dim_mismatch", "text samples carry no weight")
            for line in encode_text(xa, ya, fmt=self.fmt).splitlines():
                self.send_line(line)
            return
        _check_values(xa, ya, wa)
        if not xa.shape[0]:
            return
        per_msg = self._rows_per_message()
        self._rows.append((xa, ya, wa))
        self._n_rows += xa.shape[0]
        try:
            while self._n_rows >= per_msg:
                self._send_rows(per_msg)
        finally:
            if self._rows:
                # The rows that stay queued (the last ones of this call, fewer
                # than a message unless a send failed) may be the caller's own
                # arrays: copy them, so that the caller may reuse those.
                self._rows[-1] = tuple(None if a is None else a.copy() for a in self._rows[-1])

    def _rows_per_message(self) -> int:
        """batch, or fewer when batch rows would pass MAX_MSG_BYTES."""
        assert self.n_features is not None
        _check_shape(1, self.n_features, self.n_targets, self.elem, self.weighted)
        row = sample_message_size(1, self.n_features, self.n_targets, self.elem,
                                  self.weighted) - SAMPLE_HEADER_BYTES
        return min(self.batch, (MAX_MSG_BYTES - SAMPLE_HEADER_BYTES) // row)

    def send_line(self, line: str | bytes) -> None:
        """Append one CSV or libsvm line, with or without its newline.

        TooBigError for a line over MAX_LINE_BYTES.
        """
        data = line.encode("ascii") if isinstance(line, str) else bytes(line)
        if not data.endswith(b"\n"):
            data += b"\n"
        if len(data) - 1 > MAX_LINE_BYTES:
            _fail("too_big", f"a line of {len(data) - 1} bytes is over {MAX_LINE_BYTES}")
        if self._lines and self._line_bytes + len(data) > self.text_bytes:
            self._send_lines()
        self._lines.append(data)
        self._line_bytes += len(data)
        if len(self._lines) >= self.batch:
            self._send_lines()

    def flush(self) -> None:
        """Send whatever is gathered; on TimeoutError it stays gathered."""
        while self._n_rows:
            self._send_rows(min(self._n_rows, self._rows_per_message()))
        if self._lines:
            self._send_lines()

    def close(self, flush: bool = True) -> None:
        """Flush (unless told not to), then close the socket, waiting up to
        the timeout for ZeroMQ to deliver what is queued."""
        if self._sock is None:
            return
        try:
            if flush:
                self.flush()
        finally:
            self._sock.close(linger=self.timeout_ms if flush else 0)
            self._sock = None

    def _send(self, payload: bytes) -> None:
        if self._sock is None:
            raise ValueError("the producer is closed")
        try:
            if self.topic:
                self._sock.send_multipart([self.topic, payload])
            else:
                self._sock.send(payload)
        except zmq.Again:
            raise TimeoutError(f"the daemon took no message within {self.timeout_ms} ms") from None
        self.messages += 1

    def _send_rows(self, count: int) -> None:
        """Send the first count gathered rows as one message; they leave the
        queue only once ZeroMQ has them."""
        parts, need, used = [], count, 0
        for xa, ya, wa in self._rows:
            take = min(need, xa.shape[0])
            parts.append((xa[:take], ya[:take], None if wa is None else wa[:take]))
            need -= take
            used += 1
            if not need:
                break
        x = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        y = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
        w = None if not self.weighted else (
            np.concatenate([p[2] for p in parts]) if len(parts) > 1 else parts[0][2])
        self._send(_pack_samples(x, y, w, self.elem, self._scale, self._offset))
        self.sent += count
        last = self._rows[used - 1]
        left = last[0].shape[0] - parts[-1][0].shape[0]
        rest = self._rows[used:]
        if left:
            rest.insert(0, (last[0][-left:], last[1][-left:], None if last[2] is None else last[2][-left:]))
        self._rows = rest
        self._n_rows -= count

    def _send_lines(self) -> None:
        self._send(b"".join(self._lines))
        self.sent += len(self._lines)
        self._lines, self._line_bytes = [], 0


class Subscriber:
    """Receives the daemon's snapshots (section 4) on a SUB socket.

    recv() hands over the next snapshot newer than any it handed over for
    its topic (the daemon repeats the current one whenever a subscriber
    joins); latest() waits for one, then drains what is queued and keeps
    only the newest. Use from one thread.
    """

    def __init__(self, endpoint: str, topic: str | bytes = "", *, rcvhwm: int = 4,
                 context: Any = None, curve: CurveKeys | None = None):
        """Connect to the daemon's snapshot endpoint and subscribe to topic
        (a model name; "" for every model); a CURVE client with curve's keys
        unless endpoint is ipc:// or inproc://."""
        self.topic = topic.encode() if isinstance(topic, str) else bytes(topic)
        self.held: dict[str, Snapshot] = {}
        """The newest snapshot handed over, per topic."""
        self.rejected: dict[str, int] = {}
        """Invalid messages latest() skipped, by reason."""
        self._sock = _context(context).socket(zmq.SUB)
        self._sock.setsockopt(zmq.RCVHWM, rcvhwm)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SUBSCRIBE, self.topic)
        if curve is not None:
            curve.apply(self._sock, endpoint)
        self._sock.connect(endpoint)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def _read(self, timeout_ms: int) -> Snapshot | None:
        """One message decoded (None when none came in time); stale ones
        are returned too, the caller decides."""
        if self._sock is None:
            raise ValueError("the subscriber is closed")
        if timeout_ms >= 0 and not self._sock.poll(timeout_ms, zmq.POLLIN):
            return None
        frames = self._sock.recv_multipart()
        now = time.time_ns()
        if len(frames) < 2:
            _fail("truncated", f"a snapshot of {len(frames)} frame, not 2")
        if len(frames) > 2:
            _fail("trailing", f"a snapshot of {len(frames)} frames, not 2")
        if not 1 <= len(frames[0]) <= MAX_TOPIC_BYTES:
            _fail("too_big", f"a topic of {len(frames[0])} bytes is outside 1..{MAX_TOPIC_BYTES}")
        return decode_snapshot(frames[1], frames[0], received_ns=now)

    def _fresh(self, snap: Snapshot) -> bool:
        held = self.held.get(snap.topic or "")
        return held is None or snap.version > held.version

    def _keep(self, snap: Snapshot) -> Snapshot:
        self.held[snap.topic or ""] = snap
        return snap

    def recv(self, timeout_ms: int = -1) -> Snapshot:
        """The next snapshot newer than what this subscriber holds for its
        topic, waiting up to timeout_ms (-1 forever). TimeoutError when none
        came; a ProtocolError for an invalid message."""
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while True:
            left = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            snap = self._read(left)
            if snap is None:
                raise TimeoutError(f"no snapshot within {timeout_ms} ms")
            if self._fresh(snap):
                return self._keep(snap)

    def latest(self, timeout_ms: int = -1) -> Snapshot | None:
        """Wait up to timeout_ms (-1 forever) for a new snapshot, then read
        everything already queued and return the last new one, or None when
        nothing new came. held keeps the newest of each topic. Invalid
        messages are counted in `rejected` and skipped."""
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        newest: Snapshot | None = None
        while True:
            if newest is not None:
                wait = 0  # draining: only what is queued already
            elif deadline is None:
                wait = -1
            else:
                wait = max(0, int((deadline - time.monotonic()) * 1000))
            try:
                snap = self._read(wait)
            except ProtocolError as e:
                self.rejected[e.reason] = self.rejected.get(e.reason, 0) + 1
                continue
            if snap is None:
                return newest
            if self._fresh(snap):
                newest = self._keep(snap)


class Control:
    """A control client (section 5): one REQ socket, one request at a time.

    A reply that does not come within timeout_ms raises TimeoutError; the
    socket is then closed and a new one opened, so the client is never left
    stuck waiting for a lost reply. Use from one thread.
    """

    def __init__(self, endpoint: str, *, timeout_ms: int = 5000, context: Any = None,
                 curve: CurveKeys | None = None):
        """Connect to the daemon's control endpoint; a CURVE client with
        curve's keys unless endpoint is ipc:// or inproc://."""
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._curve = curve
        self._ctx = _context(context)
        self._sock = self._open()

    def _open(self) -> Any:
        s = self._ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        if self._curve is not None:
            self._curve.apply(s, self.endpoint)
        s.connect(self.endpoint)
        return s

    def __enter__(self) -> Control:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def request(self, command: str, arg: str | None = None) -> dict[str, Any]:
        """Send command (and its argument) and return the parsed JSON reply,
        whatever its "ok". TooBigError for a request over MAX_CONTROL_BYTES,
        ValueError for text that is not printable ASCII, TimeoutError when no
        reply came in time."""
        text = command if arg is None else f"{command} {arg}"
        if any(not 0x20 <= ord(c) <= 0x7E for c in text):
            raise ValueError("a control request is printable ASCII")
        if len(text) > MAX_CONTROL_BYTES:
            _fail("too_big", f"a request of {len(text)} bytes is over {MAX_CONTROL_BYTES}")
        if self._sock is None:
            self._sock = self._open()
        self._sock.send(text.encode("ascii"))
        if not self._sock.poll(self.timeout_ms, zmq.POLLIN):
            self._sock.close(linger=0)  # a REQ socket without its reply is stuck
            self._sock = self._open()
            raise TimeoutError(f"no reply to {command!r} within {self.timeout_ms} ms")
        reply = json.loads(self._sock.recv().decode("utf-8"))
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise ValueError(f"a reply that is not a JSON object with \"ok\": {reply!r}")
        return reply

    def _ok(self, command: str, arg: str | None = None) -> dict[str, Any]:
        reply = self.request(command, arg)
        if not reply["ok"]:
            raise ControlError(command, reply)
        return reply

    def status(self) -> dict[str, Any]:
        """State and main figures: version, samples, batches, cost, accuracy..."""
        return self._ok("status")

    def stats(self) -> dict[str, Any]:
        """The status figures and each source's counters ("sources")."""
        return self._ok("stats")

    def save(self, path: str | None = None) -> str:
        """Write a checkpoint (to path, else the checkpoint directory); the
        file written."""
        return self._ok("save", path)["path"]

    def snapshot(self) -> int:
        """Publish a snapshot now; the model version published."""
        return self._ok("snapshot")["version"]

    def reload(self) -> None:
        """Read the configuration file again."""
        self._ok("reload")

    def pause(self) -> str:
        """Stop reading from the sources; the state now."""
        return self._ok("pause")["state"]

    def resume(self) -> str:
        """Undo pause(); the state now."""
        return self._ok("resume")["state"]

    def reset(self) -> int:
        """Start the model afresh; the version reached."""
        return self._ok("reset")["version"]

