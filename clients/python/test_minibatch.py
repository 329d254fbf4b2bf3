#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_minibatch.py - the Python client checked three ways.

- against proto/minibatch-proto.md: its byte-by-byte examples;
- against the C library, through tests/pyref (built by `make check`): the
  same samples give the same bytes, C-encoded snapshots decode to the same
  values and corrupt ones are refused for the same reason, and the rebuilt
  model predicts what the C model predicts;
- against the real daemon (daemon/minibatchd), on ipc sockets in a
  temporary directory: Fashion-MNIST sent from Python, snapshots received
  in Python, the rebuilt model scored on the test set.

Run by `make check` (from the build directory, which finds tests/pyref and
the daemon through $top_builddir); exits 77 when numpy or pyzmq is missing.
"""

import os
import sys

sys.dont_write_bytecode = True  # never leave __pycache__ in the sources


def _modules_or_skip() -> None:
    """Import numpy and pyzmq, or find a python3 that has them, or skip."""
    try:
        import numpy  # noqa: F401
        import zmq  # noqa: F401
        return
    except ImportError as e:
        missing = e.name
    # A python3 early in PATH (a version manager's) may lack the system's
    # packages; the system interpreter is where python3-numpy installs them.
    system = "/usr/bin/python3"
    if (os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system)
            and not os.environ.get("MB_PY_REEXEC")):
        os.environ["MB_PY_REEXEC"] = "1"
        os.execv(system, [system, "-B", *sys.argv])
    print(f"SKIP: the Python client's tests need {missing} (apt-get install python3-numpy python3-zmq)",
          file=sys.stderr)
    sys.exit(77)


_modules_or_skip()

import gzip  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

import numpy as np  # noqa: E402
import zmq  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import minibatch as mb  # noqa: E402

TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir") or os.path.join(HERE, "..", ".."))
TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir") or ".")
PYREF = os.environ.get("MB_PYREF") or os.path.join(TOP_BUILDDIR, "tests", "pyref")
DAEMON = os.environ.get("MB_DAEMON") or os.path.join(TOP_BUILDDIR, "daemon", "minibatchd")
FASHION = os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"


# ---- Helpers ----

def pyref(*args: object, stdin: bytes = b"") -> bytes:
    """Run tests/pyref and return its stdout; fail the test on an error."""
    if not os.path.exists(PYREF):
        raise AssertionError(f"{PYREF} is missing: build it with make check (or set MB_PYREF)")
    r = subprocess.run([PYREF, *map(str, args)], input=stdin, capture_output=True, timeout=60)
    if r.returncode:
        raise AssertionError(f"pyref {args} exited {r.returncode}: {r.stderr.decode()}")
    return r.stdout


def pyref_refusal(*args: object, stdin: bytes = b"") -> str:
    """Run tests/pyref expecting the C library to refuse; its errno name."""
    r = subprocess.run([PYREF, *map(str, args)], input=stdin, capture_output=True, timeout=60)
    if r.returncode != 3:
        raise AssertionError(f"pyref {args} exited {r.returncode}, not 3 (refused): {r.stderr.decode()}")
    return r.stderr.decode().split(":")[0]


def f32le(*arrays: object) -> bytes:
    """Arrays as back-to-back little-endian float32."""
    return b"".join(np.asarray(a, dtype="<f4").tobytes() for a in arrays if a is not None)


def c_samples(x, y=None, w=None, *, elem=mb.Elem.F32, scale=1.0, offset=0.0) -> bytes:
    """The C encoder's binary message for the same samples."""
    x = np.asarray(x, dtype=np.float32)
    y = np.zeros((len(x), 0), np.float32) if y is None else np.asarray(y, np.float32).reshape(len(x), -1)
    return pyref("samples", int(elem), int(w is not None), "%.9g" % scale, "%.9g" % offset,
                 len(x), x.shape[1], y.shape[1], stdin=f32le(x, y, w))


def c_text(fmt, x, y=None) -> bytes:
    """The C encoder's text lines for the same samples."""
    x = np.asarray(x, dtype=np.float32)
    y = np.zeros((len(x), 0), np.float32) if y is None else np.asarray(y, np.float32).reshape(len(x), -1)
    return pyref("text", fmt, len(x), x.shape[1], y.shape[1], stdin=f32le(x, y))


def c_snapshot(kind, sizes, acts, params, *, version=7, samples=448, batches=7, cost=0.5,
               timestamp=1700000000123456789) -> bytes:
    """A snapshot body encoded by the C library."""
    return pyref("snapshot", int(kind), len(acts), *sizes, *(int(a) for a in acts), version, samples,
                 batches, "%.9g" % cost, timestamp, stdin=f32le(params))


def c_forward(body: bytes, x: np.ndarray) -> np.ndarray:
    """The C model's outputs (mb_model_forward) for rows x."""
    out = pyref("forward", len(body), len(x), stdin=body + f32le(x))
    return np.frombuffer(out, dtype="<f4").reshape(len(x), -1)


def doc_examples() -> dict[str, bytes]:
    """The hex examples of section 8 of the protocol document, by name."""
    with open(os.path.join(TOP_SRCDIR, "proto", "minibatch-proto.md"), encoding="utf-8") as f:
        doc = f.read()
    blocks = {}
    for name, text in re.findall(r"```hex (\S+)\n(.*?)```", doc, re.S):
        data = bytearray()
        for line in text.splitlines():
            data += bytes.fromhex(line.split(":", 1)[1].split("|")[0])
        blocks[name] = bytes(data)
    return blocks


def random_params(rng: np.random.Generator, sizes) -> np.ndarray:
    """Parameters of a plausible trained network: Xavier-scaled weights."""
    parts = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        parts.append(rng.normal(0, np.sqrt(2.0 / (n_in + n_out)), n_out * n_in))
        parts.append(rng.normal(0, 0.1, n_out))
    return np.concatenate(parts).astype(np.float32)


def fashion_available() -> bool:
    return os.path.exists(os.path.join(FASHION, "train-images-idx3-ubyte.gz"))


def fashion(which: str) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's train or t10k set as features (0..1) and labels."""
    return mb.load_idx(os.path.join(FASHION, f"{which}-images-idx3-ubyte.gz"),
                       os.path.join(FASHION, f"{which}-labels-idx1-ubyte.gz"))


def crc32c_bitwise(data: bytes) -> int:
    """The bitwise CRC-32C exactly as section 1.2 writes it."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


class TempDir:
    """A mkdtemp directory removed on exit, whatever happened."""

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix="mb-py.")
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


# ---- CRC-32C ----

class Crc(unittest.TestCase):
    """crc/*: the checksum of section 1.2."""

    def test_check_value(self):
        """crc/check-value: "123456789" gives 0xE3069283."""
        self.assertEqual(mb.crc32c(b"123456789"), 0xE3069283)

    def test_matches_bitwise(self):
        """crc/bitwise: the fast path agrees with the document's loop at
        every length around its lane and block boundaries."""
        rng = np.random.default_rng(11)
        for n in (0, 1, 3, 4, 5, 63, 64, 65, 127, 128, 129, 191, 192, 1000, 4095, 4096, 4097, 20011):
            data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            self.assertEqual(mb.crc32c(data), crc32c_bitwise(data), f"{n} bytes")

    def test_large_buffer(self):
        """crc/large: 400 KB of parameters and 16 MiB agree with the serial
        table loop, from bytes, memoryviews and numpy arrays."""
        rng = np.random.default_rng(12)
        data = rng.integers(0, 256, 400_003, dtype=np.uint8)
        serial = mb._crc_serial(data.tobytes(), 0xFFFFFFFF) ^ 0xFFFFFFFF
        self.assertEqual(mb.crc32c(data), serial)
        self.assertEqual(mb.crc32c(memoryview(data.tobytes())), serial)
        big = np.tile(data[:65536], 256)
        self.assertEqual(mb.crc32c(big), mb._crc_serial(big.tobytes(), 0xFFFFFFFF) ^ 0xFFFFFFFF)

    def test_document_checkpoint(self):
        """crc/checkpoint: the CRCs of the checkpoint example of 8.9."""
        ck = doc_examples()["checkpoint"]
        self.assertEqual(mb.crc32c(ck[28:28 + 92]), 0x69F25BD2)
        self.assertEqual(mb.crc32c(ck[:124]), 0xA662DC14)


# ---- The document's examples ----

class Document(unittest.TestCase):
    """doc/*: the examples of section 8, byte for byte."""

    @classmethod
    def setUpClass(cls):
        cls.ex = doc_examples()

    def test_reasons(self):
        """doc/reasons: the reason names, in the order of their numbers, as
        section 3 lists them and as the C library names them."""
        with open(os.path.join(TOP_SRCDIR, "proto", "minibatch-proto.md"), encoding="utf-8") as f:
            table = re.findall(r"^\| `MB_R_\w+` +\| `(\w+)`", f.read(), re.M)
        self.assertEqual(tuple(table), mb.REASONS)
        self.assertEqual(tuple(pyref("reasons").decode().split()), mb.REASONS)
        for name in mb.REASONS:
            cls = mb.error_class(name)
            self.assertTrue(issubclass(cls, mb.ProtocolError) and issubclass(cls, ValueError))
            self.assertEqual(cls.reason, name)

    def test_binary_samples(self):
        """doc/binary-samples: 8.1 to 8.4 come out of encode_samples."""
        self.assertEqual(mb.encode_samples([[0.5, -1, 2], [0.25, 0, -3.5]], [1, 0]), self.ex["sample-f32"])
        self.assertEqual(mb.encode_samples([[1.5, 0, 1.25], [3, 1, -0.5]], [2, 7], elem=mb.Elem.F16,
                                           scale=0.5, offset=1), self.ex["sample-f16"])
        self.assertEqual(mb.encode_samples([[-1, 0, 31, 62.75], [-0.75, -0.5, -0.25, 1]], [3, 9],
                                           elem=mb.Elem.U8, scale=0.25, offset=-1), self.ex["sample-u8"])
        self.assertEqual(mb.encode_samples([[0, 1], [-1, 8]], [[1.5, -2], [0.125, 4]], [1, 0.5]),
                         self.ex["sample-weighted"])

    def test_text_samples(self):
        """doc/text-samples: the data lines of 8.5 and 8.6."""
        def data_lines(b: bytes) -> bytes:
            return b"".join(l + b"\n" for l in b.split(b"\n") if l and not l.startswith(b"#"))
        x, y = [[0.5, -1, 2], [0.25, 0, -3.5]], [1, 0]
        self.assertEqual(mb.encode_text(x, y, fmt="csv"), data_lines(self.ex["text-csv"]))
        self.assertEqual(mb.encode_text(x, y, fmt="libsvm"), data_lines(self.ex["text-libsvm"]))

    def test_snapshot(self):
        """doc/snapshot: 8.7 decodes to the values the document lists."""
        s = mb.decode_snapshot(self.ex["snapshot-body"], self.ex["snapshot-topic"])
        self.assertEqual((s.topic, s.kind, s.sizes, s.activations),
                         ("demo", mb.ModelKind.SOFTMAX, (2, 2), (mb.Activation.SOFTMAX,)))
        self.assertEqual((s.version, s.samples, s.batches, s.cost, s.n_params),
                         (42, 1344, 42, 0.6875, 6))
        self.assertEqual((s.timestamp_ns, s.crc), (1700000000123456789, 0xD206DC17))
        w, b = s.layer(0)
        np.testing.assert_array_equal(w, [[0.5, -0.25], [-0.5, 0.25]])
        np.testing.assert_array_equal(b, [0.125, -0.125])

    def test_idx(self):
        """doc/idx: 8.10 read plain, gzip-compressed and as two gzip members."""
        np.testing.assert_array_equal(mb.read_idx(self.ex["idx-images"]),
                                      [[[0, 51], [102, 255]], [[255, 204], [153, 0]]])
        with TempDir() as d:
            img, lab = os.path.join(d, "images"), os.path.join(d, "labels")
            half = len(self.ex["idx-images"]) // 2
            with open(img, "wb") as f:
                images = self.ex["idx-images"]
                f.write(gzip.compress(images[:half]) + gzip.compress(images[half:]))
            with open(lab, "wb") as f:
                f.write(self.ex["idx-labels"])
            x, y = mb.load_idx(img, lab)
        pixels = np.array([[0, 51, 102, 255], [255, 204, 153, 0]], np.float32)
        np.testing.assert_array_equal(x, pixels * np.float32(1 / 255))
        np.testing.assert_allclose(x[0], [0, 0.2, 0.4, 1], atol=1e-6)
        np.testing.assert_array_equal(y, [3, 9])

    def test_idx_refusals(self):
        """doc/idx-refusals: each broken IDX header, by its reason."""
        good = self.ex["idx-images"]
        cases = {
            "empty": b"",
            "magic": b"\x01" + good[1:],
            "elem_type": good[:2] + b"\x0b" + good[3:],
            "too_big": good[:3] + b"\x05" + good[4:],
            "truncated": good[:-1],
            "trailing": good + b"\x00",
        }
        for reason, data in cases.items():
            with self.assertRaises(mb.error_class(reason), msg=reason):
                mb.read_idx(data)


# ---- Encoders against the C library ----

class Encoders(unittest.TestCase):
    """encode/*: the Python encoders give the C encoders' bytes."""

    rng = np.random.default_rng(5)

    def check(self, x, y=None, w=None, **kw):
        py = mb.encode_samples(x, y, w, **kw)
        c = c_samples(x, y, w, **kw)
        if py != c:
            diff = np.flatnonzero(np.frombuffer(py, np.uint8) != np.frombuffer(c, np.uint8))
            self.fail(f"{kw}: {len(diff)} bytes differ, first at {diff[:4]}")
        return py

    def test_f32(self):
        """encode/f32: single and multiple targets, none, one sample."""
        x = self.rng.normal(0, 3, (40, 17))
        self.check(x, self.rng.integers(0, 10, 40))
        self.check(x, self.rng.normal(size=(40, 4)))
        self.check(x)
        self.check(x[:1], [3])

    def test_f16(self):
        """encode/f16: scales and offsets, overflow clamped to 65504,
        halfway values rounded to even, subnormals."""
        for scale, offset in ((1.0, 0.0), (0.5, 1.0), (0.37, -1.3), (1e-3, 5.0), (2.0 ** -10, 0.25)):
            x = self.rng.normal(0, 50, (30, 25)) * scale
            self.check(x, self.rng.integers(0, 3, 30), elem=mb.Elem.F16, scale=scale, offset=offset)
        edge = [[1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519, 65520, 1e9, -1e9, 2 ** -24, 3e-8, -0.0]]
        msg = self.check(edge, [0], elem=mb.Elem.F16)
        stored = np.frombuffer(msg[36:], "<f2")
        np.testing.assert_array_equal(stored[:6], [1, 1 + 2 * 2 ** -10, 65504, 65504, 65504, 65504])

    def test_u8(self):
        """encode/u8: quantised features, clamped to 0..255, halves up."""
        for scale, offset in ((1 / 255, 0.0), (0.25, -1.0), (0.01, 0.5)):
            x = self.rng.uniform(-0.5, 1.2, (30, 50)) * scale * 255 + offset
            self.check(x, self.rng.integers(0, 10, 30), elem=mb.Elem.U8, scale=scale, offset=offset)
        msg = self.check([[0.5, 1.5, 2.5, 254.5, 255.5, -0.7, 300, 0.2]], [1], elem=mb.Elem.U8)
        self.assertEqual(list(msg[36:]), [1, 2, 3, 255, 255, 0, 255, 0])

    def test_u8_pixels_exact(self):
        """encode/u8-pixels: every byte b as the feature b * f32(1/255)
        travels as the stored byte b, the way IDX files read."""
        pixels = np.arange(256, dtype=np.uint8).reshape(1, 256)
        x = pixels.astype(np.float32) * np.float32(1 / 255)
        msg = self.check(x, [4], elem=mb.Elem.U8, scale=1 / 255)
        self.assertEqual(msg[36:], pixels.tobytes())

    def test_weighted(self):
        """encode/weighted: a weight leads each row, for every element type."""
        x = self.rng.uniform(0, 1, (20, 9))
        w = self.rng.uniform(0, 4, 20)
        w[3] = 0
        self.check(x, self.rng.integers(0, 5, 20), w)
        self.check(x, self.rng.normal(size=(20, 2)), w, elem=mb.Elem.F16, scale=0.125)
        self.check(x, self.rng.integers(0, 5, 20), w, elem=mb.Elem.U8, scale=1 / 255)

    def test_text_csv(self):
        """encode/csv: values that need all nine digits, extremes, -0,
        several targets and none."""
        x = self.rng.normal(0, 1, (12, 7)).astype(np.float32)
        x[0] = [0, -0.0, 1e-7, 3.4028235e38, -1.17549435e-38, 1e-45, 1 / 3]
        for y in (self.rng.integers(0, 10, 12), self.rng.normal(size=(12, 3)), None):
            py = mb.encode_text(x, y, fmt="csv")
            self.assertEqual(py, c_text("csv", x, y))
        back = [float(v) for v in py.split(b"\n")[0].split(b",")]
        np.testing.assert_array_equal(np.float32(back), x[0])

    def test_text_libsvm(self):
        """encode/libsvm: zeros left out, a line of no feature at all."""
        x = self.rng.normal(0, 1, (15, 12)).astype(np.float32)
        x[x < 0.4] = 0
        x[2] = 0
        y = self.rng.integers(0, 10, 15)
        py = mb.encode_text(x, y, fmt="libsvm")
        self.assertEqual(py, c_text("libsvm", x, y))
        self.assertEqual(py.split(b"\n")[2], str(y[2]).encode())

    def test_refusals(self):
        """encode/refusals: what the C encoder refuses, Python refuses with
        the document's reason."""
        x = np.ones((2, 3), np.float32)
        nan = x.copy()
        nan[1, 2] = np.nan
        cases = [
            ("nonfinite", "EDOM", dict(x=nan, y=[0, 1])),
            ("nonfinite", "EDOM", dict(x=x, y=[0, np.inf])),
            ("nonfinite", "EDOM", dict(x=x, y=[0, 1], w=[1, np.nan])),
            ("label", "EINVAL", dict(x=x, y=[0, 1], w=[1, -0.5])),
            ("scale", "EINVAL", dict(x=x, y=[0, 1], elem=mb.Elem.U8, scale=0.0)),
            ("scale", "EINVAL", dict(x=x, y=[0, 1], elem=mb.Elem.F16, scale=1e36)),
            ("scale", "EINVAL", dict(x=x, y=[0, 1], elem=mb.Elem.U8, scale=1.0, offset=float("inf"))),
            ("empty", "EINVAL", dict(x=np.zeros((0, 3)), y=np.zeros(0))),
        ]
        for reason, errno_name, kw in cases:
            xa, ya, wa = kw.pop("x"), kw.pop("y"), kw.pop("w", None)
            with self.assertRaises(mb.error_class(reason), msg=reason):
                mb.encode_samples(xa, ya, wa, **kw)
            ya = np.asarray(ya, np.float32)
            xa = np.asarray(xa, np.float32)
            self.assertEqual(pyref_refusal("samples", int(kw.get("elem", 1)), int(wa is not None),
                                           "%.9g" % kw.get("scale", 1), "%.9g" % kw.get("offset", 0),
                                           len(xa), xa.shape[1], 1, stdin=f32le(xa, ya, wa)), errno_name,
                             reason)
        with self.assertRaises(mb.TooBigError):
            mb.encode_samples(np.zeros((65537, 1)), np.zeros(65537))
        with self.assertRaises(mb.DimMismatchError):
            mb.encode_text(x, np.zeros((2, 2)), fmt="libsvm")
        with self.assertRaises(mb.NonfiniteError):
            mb.encode_text([[1e39]], [0])


# ---- Snapshots ----

def mlp_body(params=None, **kw) -> bytes:
    """A C-encoded MLP 5 -> 4 -> 3 -> 2: 3 layers, 47 parameters, 1 byte of padding."""
    if params is None:
        params = np.linspace(-2, 2, 47)
    return c_snapshot(mb.ModelKind.MLP, (5, 4, 3, 2),
                      (mb.Activation.RELU, mb.Activation.RELU, mb.Activation.SOFTMAX), params, **kw)


class Snapshots(unittest.TestCase):
    """snapshot/*: C-encoded snapshots, valid and broken."""

    def test_decode_every_kind(self):
        """snapshot/kinds: linear, logistic, softmax and mlp bodies decode
        to the C encoder's fields and parameters, laid out as 4.3 says."""
        rng = np.random.default_rng(3)
        A = mb.Activation
        shapes = [
            (mb.ModelKind.LINEAR, (6, 3), (A.IDENTITY,)),
            (mb.ModelKind.LOGISTIC, (9, 1), (A.SIGMOID,)),
            (mb.ModelKind.SOFTMAX, (784, 10), (A.SOFTMAX,)),
            (mb.ModelKind.MLP, (20, 8, 6, 4), (A.TANH, A.TANH, A.SOFTMAX)),
        ]
        for kind, sizes, acts in shapes:
            params = random_params(rng, sizes)
            body = c_snapshot(kind, sizes, acts, params, version=2 ** 40 + 3, samples=12345678901,
                              batches=99, cost=0.3125, timestamp=1_700_000_000_000_000_001)
            s = mb.decode_snapshot(body, b"fm")
            self.assertEqual((s.topic, s.kind, s.sizes, s.activations), ("fm", kind, sizes, acts))
            self.assertEqual((s.version, s.samples, s.batches, s.cost, s.timestamp_ns),
                             (2 ** 40 + 3, 12345678901, 99, 0.3125, 1_700_000_000_000_000_001))
            np.testing.assert_array_equal(s.params, params)
            self.assertEqual(s.crc, struct.unpack_from("<I", body, 48)[0])
            last = len(acts) - 1
            w, b = s.layer(last)
            base = sum(sizes[k + 1] * sizes[k] + sizes[k + 1] for k in range(last))
            self.assertEqual(w[-1, 2], params[base + (sizes[last + 1] - 1) * sizes[last] + 2])
            self.assertEqual(b[-1], params[base + sizes[last + 1] * sizes[last] + sizes[last + 1] - 1])

    def test_large_body(self):
        """snapshot/large: an MLP 784 -> 128 -> 10 (407 KB of parameters)
        decodes, and one flipped bit deep inside is a CRC failure."""
        rng = np.random.default_rng(4)
        sizes = (784, 128, 10)
        params = random_params(rng, sizes)
        acts = (mb.Activation.RELU, mb.Activation.SOFTMAX)
        body = bytearray(c_snapshot(mb.ModelKind.MLP, sizes, acts, params))
        t = time.monotonic()
        s = mb.decode_snapshot(body)
        elapsed = time.monotonic() - t
        self.assertEqual(s.n_params, 101770)
        np.testing.assert_array_equal(s.params, params)
        body[300_001] ^= 0x10
        with self.assertRaises(mb.CrcError):
            mb.decode_snapshot(body)
        print(f"\n  decoding a {len(body)}-byte snapshot took {elapsed * 1e3:.1f} ms", file=sys.stderr)

    def test_rejections(self):
        """snapshot/rejections: every check of 4.3 refuses with the same
        reason in Python as in the C library."""
        good = mlp_body()
        A = 76  # 56 + 4 x 4 sizes + 3 activations, padded to 76

        def patched(off, fmt, value, body=good):
            b = bytearray(body)
            struct.pack_into(fmt, b, off, value)
            return bytes(b)

        def with_param(k, value):
            b = bytearray(patched(A + 4 * k, "<f", value))
            struct.pack_into("<I", b, 48, mb.crc32c(b[A:]))
            return bytes(b)

        cases = [
            ("empty", b""),
            ("truncated", good[:55]),
            ("magic", b"MBSX" + good[4:]),
            ("version", patched(4, "B", 2)),
            ("flags", patched(5, "B", 9)),          # unknown kind
            ("flags", patched(5, "B", 0)),
            ("flags", patched(7, "B", 1)),          # flags
            ("flags", patched(52, "<I", 1)),        # reserved
            ("too_big", patched(6, "B", 0)),        # no layer
            ("too_big", patched(6, "B", 17)),
            ("truncated", good[:62]),               # sizes cut short
            ("truncated", good[:75]),               # the padding cut off
            ("too_big", patched(60, "<I", 0)),      # a width of 0
            ("too_big", patched(56, "<I", mb.MAX_FEATURES + 1)),
            ("flags", patched(73, "B", 5)),         # unknown activation
            ("flags", patched(75, "B", 1)),         # padding
            ("too_big", patched(56, "<I", 4096, patched(60, "<I", 1 << 20))),
            ("count_mismatch", patched(36, "<I", 46)),
            ("truncated", good[:-4]),
            ("trailing", good + b"\x00"),
            ("crc", patched(A + 8, "<f", 0.75)),    # a changed parameter
            ("crc", patched(48, "<I", struct.unpack_from("<I", good, 48)[0] ^ 1)),
            ("nonfinite", with_param(3, float("nan"))),
            ("nonfinite", with_param(46, float("-inf"))),
        ]
        self.assertEqual(pyref("check-snapshot", stdin=good).strip(), b"ok")
        for reason, body in cases:
            with self.subTest(reason=reason):
                with self.assertRaises(mb.error_class(reason)) as caught:
                    mb.decode_snapshot(body)
                self.assertEqual(caught.exception.reason, reason)
                self.assertIsInstance(caught.exception, ValueError)
                self.assertEqual(pyref("check-snapshot", stdin=body).decode().strip(), reason)


# ---- Models against the C model ----

class Models(unittest.TestCase):
    """model/*: numpy predictions agree with mb_model_forward within 1e-5."""

    @classmethod
    def setUpClass(cls):
        if fashion_available():
            x, y = fashion("t10k")
            cls.x, cls.y = x[:300], y[:300]
        else:  # synthetic rows in the same range
            rng = np.random.default_rng(8)
            cls.x = rng.uniform(0, 1, (300, 784)).astype(np.float32)
            cls.y = rng.integers(0, 10, 300).astype(np.uint8)

    def compare(self, kind, sizes, acts, seed, x=None):
        x = self.x if x is None else x
        params = random_params(np.random.default_rng(seed), sizes)
        body = c_snapshot(kind, sizes, acts, params)
        model = mb.decode_snapshot(body).model()
        py = model.forward(x)
        c = c_forward(body, x)
        self.assertEqual(py.shape, c.shape)
        np.testing.assert_allclose(py, c, rtol=0, atol=1e-5)
        return model, py

    def test_softmax(self):
        """model/softmax: 784 -> 10 over Fashion-MNIST rows, and the classes
        are the argmax of the C outputs."""
        model, out = self.compare(mb.ModelKind.SOFTMAX, (784, 10), (mb.Activation.SOFTMAX,), 1)
        np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-12)
        np.testing.assert_array_equal(model.predict(self.x), np.argmax(out, axis=1))
        self.assertGreater(len(set(model.predict(self.x).tolist())), 3)

    def test_mlp_relu(self):
        """model/mlp-relu: 784 -> 64 -> 32 -> 10 with relu hidden layers."""
        A = mb.Activation
        self.compare(mb.ModelKind.MLP, (784, 64, 32, 10), (A.RELU, A.RELU, A.SOFTMAX), 2)

    def test_mlp_tanh_sigmoid(self):
        """model/mlp-tanh-sigmoid: tanh and sigmoid hidden layers."""
        A = mb.Activation
        self.compare(mb.ModelKind.MLP, (784, 24, 10), (A.TANH, A.SOFTMAX), 3)
        self.compare(mb.ModelKind.MLP, (784, 24, 16, 10), (A.SIGMOID, A.SIGMOID, A.SOFTMAX), 4)

    def test_heads(self):
        """model/heads: logistic and linear, alone and as an MLP's head;
        logistic classes are probability > 0.5."""
        A = mb.Activation
        x = self.x[:, :40]
        model, p = self.compare(mb.ModelKind.LOGISTIC, (40, 1), (A.SIGMOID,), 5, x)
        np.testing.assert_array_equal(model.predict(x), (p[:, 0] > 0.5).astype(int))
        self.compare(mb.ModelKind.LINEAR, (40, 3), (A.IDENTITY,), 6, x)
        self.compare(mb.ModelKind.MLP, (40, 12, 1), (A.RELU, A.SIGMOID), 7, x)
        self.compare(mb.ModelKind.MLP, (40, 12, 2), (A.TANH, A.IDENTITY), 8, x)


# ---- Sockets, without the daemon ----

class Sockets(unittest.TestCase):
    """socket/*: producer, subscriber and control client on ipc sockets."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mb-py.")
        self.ctx = zmq.Context()

    def tearDown(self):
        try:
            self.ctx.destroy(linger=0)  # closes every socket, a test's own included
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def ep(self, name):
        return f"ipc://{self.dir}/{name}"

    def bound(self, kind, name, opts=None):
        s = self.ctx.socket(kind)
        for k, v in (opts or {}).items():
            s.setsockopt(k, v)
        s.bind(self.ep(name))
        return s

    def recv(self, s, timeout_ms=5000):
        self.assertTrue(s.poll(timeout_ms), "nothing arrived")
        return s.recv_multipart()

    def test_producer_batches(self):
        """socket/producer-batches: 250 samples with batch 100 go out as
        messages of 100, 100 and 50, each the encoding of its rows."""
        pull = self.bound(zmq.PULL, "ingest")
        rng = np.random.default_rng(9)
        x, y = rng.uniform(0, 1, (250, 6)).astype(np.float32), rng.integers(0, 4, 250)
        p = mb.Producer(self.ep("ingest"), elem=mb.Elem.U8, scale=1 / 255, batch=100, context=self.ctx)
        p.send(x[:30], y[:30])
        p.send(x[30:249], y[30:249])
        self.assertEqual((p.sent, p.messages), (200, 2))
        tail = x[249:].copy()
        p.send(tail, y[249:])
        tail[:] = -1  # what waits in the producer is its own copy
        p.close()
        self.assertEqual((p.sent, p.messages), (250, 3))
        for lo, hi in ((0, 100), (100, 200), (200, 250)):
            (frame,) = self.recv(pull)
            self.assertEqual(frame, mb.encode_samples(x[lo:hi], y[lo:hi], elem=mb.Elem.U8, scale=1 / 255))
        self.assertFalse(pull.poll(50))

    def test_producer_refuses_bad_samples(self):
        """socket/producer-refusals: a bad sample raises at once and never
        joins a message."""
        pull = self.bound(zmq.PULL, "ingest")
        p = mb.Producer(self.ep("ingest"), n_features=3, weighted=True, context=self.ctx)
        with self.assertRaises(mb.DimMismatchError):
            p.send(np.ones((2, 4)), [0, 1], [1, 1])
        with self.assertRaises(mb.NonfiniteError):
            p.send([[1, 2, np.nan]], [0], [1])
        with self.assertRaises(mb.LabelError):
            p.send([[1, 2, 3]], [0], [-1])
        p.send([[1, 2, 3]], [0], [2])
        p.close()
        (frame,) = self.recv(pull)
        self.assertEqual(frame, mb.encode_samples([[1, 2, 3]], [0], [2]))

    def test_producer_pub_topic(self):
        """socket/producer-pub: with a topic each message is two frames."""
        sub = self.bound(zmq.SUB, "ingest", {zmq.SUBSCRIBE: b"fm"})
        p = mb.Producer(self.ep("ingest"), topic="fm", batch=2, context=self.ctx)
        deadline = time.monotonic() + 5
        while not sub.poll(50):  # PUB drops what it sends before the subscription arrives
            self.assertLess(time.monotonic(), deadline, "the subscription never arrived")
            p.send(np.zeros((2, 3)), [0, 0])
        while sub.poll(50):
            sub.recv_multipart()
        p.send([[1, 2, 3], [4, 5, 6]], [1, 2])
        self.assertEqual(self.recv(sub), [b"fm", mb.encode_samples([[1, 2, 3], [4, 5, 6]], [1, 2])])
        p.close()

    def test_producer_text(self):
        """socket/producer-text: CSV samples and raw lines, batch lines a message."""
        pull = self.bound(zmq.PULL, "ingest")
        p = mb.Producer(self.ep("ingest"), fmt="csv", batch=2, context=self.ctx)
        p.send([[0.5, -1], [0.25, 0], [2, 3]], [1, 0, 2])
        p.send_line("3,1e-3,7")
        p.close()
        self.assertEqual(self.recv(pull), [b"1,0.5,-1\n0,0.25,0\n"])
        self.assertEqual(self.recv(pull), [b"2,2,3\n3,1e-3,7\n"])
        p = mb.Producer(self.ep("ingest"), fmt="libsvm", context=self.ctx)
        with self.assertRaises(mb.TooBigError):
            p.send_line("1" * (mb.MAX_LINE_BYTES + 1))
        p.close()
        self.assertEqual(p.messages, 0)

    def test_producer_timeout_keeps_samples(self):
        """socket/producer-timeout: with no daemon a send times out, and the
        samples wait for the flush that finds one."""
        p = mb.Producer(self.ep("ingest"), batch=4, timeout_ms=100, context=self.ctx)
        with self.assertRaises(TimeoutError):
            p.send(np.arange(12.0).reshape(4, 3), [0, 1, 2, 3])
        self.assertEqual(p.messages, 0)
        pull = self.bound(zmq.PULL, "ingest")
        p.timeout_ms = 5000
        p.flush()
        self.assertEqual(self.recv(pull), [mb.encode_samples(np.arange(12.0).reshape(4, 3), [0, 1, 2, 3])])
        p.close()

    def test_subscriber_latest(self):
        """socket/subscriber-latest: latest() drains the queue and keeps the
        newest; stale versions and invalid bodies are passed over."""
        pub = self.bound(zmq.XPUB, "snapshots", {zmq.XPUB_VERBOSE: 1})
        sub = mb.Subscriber(self.ep("snapshots"), "fm", rcvhwm=100, context=self.ctx)
        self.assertEqual(self.recv(pub), [b"\x01fm"])  # the subscription
        bodies = {v: mlp_body(version=v, samples=64 * v) for v in (5, 6, 7, 9)}
        broken = bytearray(bodies[9])
        broken[-1] ^= 1
        for frames in ([b"fm", bodies[5]], [b"fm", bodies[7]], [b"fm", bodies[6]], [b"fm", bytes(broken)],
                       [b"fm", bodies[9]], [b"fm", bodies[7]], [b"fm"]):
            pub.send_multipart(frames)
        time.sleep(0.1)
        s = sub.latest(2000)
        self.assertIsNotNone(s)
        self.assertEqual((s.topic, s.version, s.samples), ("fm", 9, 576))
        self.assertEqual(sub.rejected, {"crc": 1, "truncated": 1})
        self.assertIs(sub.held["fm"], s)
        self.assertGreater(s.received_ns, 0)
        self.assertIsNone(sub.latest(100))
        pub.send_multipart([b"fm", bodies[9]])  # a repeat, as for a late joiner
        with self.assertRaises(TimeoutError):
            sub.recv(200)
        pub.send_multipart([b"fm", mlp_body(version=10)])
        self.assertEqual(sub.recv(2000).version, 10)
        pub.send_multipart([b"fm", bytes(broken)])
        with self.assertRaises(mb.CrcError):
            sub.recv(2000)
        sub.close()

    def fake_control(self, replies):
        """A thread answering control requests on a ROUTER socket, one
        reply each from replies (None: never answer that one); returns the
        thread and the list the requests are recorded in."""
        requests = []
        ready = threading.Event()

        def serve():
            router = self.ctx.socket(zmq.ROUTER)
            router.bind(self.ep("control"))
            ready.set()
            try:
                for reply in replies:
                    if not router.poll(5000):
                        return
                    frames = router.recv_multipart()
                    requests.append(frames[-1])
                    if reply is not None:
                        router.send_multipart(frames[:-1] + [reply])
            finally:
                router.close(linger=0)

        t = threading.Thread(target=serve)
        t.start()
        ready.wait(5)
        return t, requests

    def test_control_timeout_recreates(self):
        """socket/control-timeout: a lost reply raises TimeoutError and the
        next request goes out on a fresh socket and gets its answer."""
        t, requests = self.fake_control([None, b'{"ok":true,"state":"paused","extra":[1,2]}'])
        ctl = mb.Control(self.ep("control"), timeout_ms=300, context=self.ctx)
        with self.assertRaises(TimeoutError):
            ctl.status()
        ctl.timeout_ms = 5000
        self.assertEqual(ctl.pause(), "paused")
        t.join(5)
        self.assertEqual(requests, [b"status", b"pause"])
        ctl.close()

    def test_control_errors(self):
        """socket/control-errors: "ok": false comes back as is from
        request() and raises ControlError from the helpers; requests the
        document forbids are never sent."""
        refusal = b'{"ok":false,"error":"unknown command"}'
        t, requests = self.fake_control([refusal, refusal, b'{"ok":true,"path":"/tmp/x.mbck"}'])
        ctl = mb.Control(self.ep("control"), timeout_ms=5000, context=self.ctx)
        with self.assertRaises(mb.TooBigError):
            ctl.request("save", "x" * 4096)
        with self.assertRaises(ValueError):
            ctl.request("save", "caf\u00e9")
        self.assertEqual(ctl.request("frobnicate"), {"ok": False, "error": "unknown command"})
        with self.assertRaises(mb.ControlError) as caught:
            ctl.reset()
        self.assertEqual(caught.exception.reply["error"], "unknown command")
        self.assertEqual(ctl.save("/tmp/x.mbck"), "/tmp/x.mbck")
        t.join(5)
        self.assertEqual(requests, [b"frobnicate", b"reset", b"save /tmp/x.mbck"])
        ctl.close()


# ---- The real daemon ----

class Daemon(unittest.TestCase):
    """daemon/*: the Python client against minibatchd."""

    def start_daemon(self, d: str) -> subprocess.Popen:
        opts = [f"daemon.runtime_dir={d}", "publish.endpoint=ipc://snapshots",
                "control.endpoint=ipc://control", "source.in.type=zmq", "source.in.endpoint=ipc://ingest"]
        log = open(os.path.join(d, "daemon.log"), "wb")
        proc = subprocess.Popen([DAEMON, *[a for o in opts for a in ("-o", o)]], stdout=log, stderr=log)
        log.close()
        return proc

    def stop_daemon(self, proc: subprocess.Popen, d: str) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.returncode:
            with open(os.path.join(d, "daemon.log"), errors="replace") as f:
                sys.stderr.write(f.read())
        self.assertEqual(proc.returncode, 0, "the daemon did not stop cleanly")

    def test_curve(self):
        """daemon/curve: with security.curve = on, a client with an allowed
        key pair feeds, reads a snapshot and controls over tcp; one with
        another key pair is refused and trains nothing."""
        self.assertTrue(os.path.exists(DAEMON), f"{DAEMON} is missing")
        import socket

        def free_port() -> int:
            with socket.socket() as so:
                so.bind(("127.0.0.1", 0))
                return so.getsockname()[1]

        def write_pair(directory: str, name: str) -> None:
            public, secret = zmq.curve_keypair()
            fd = os.open(os.path.join(directory, name + ".key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(b"# CURVE secret key\n" + secret + b"\n")
            with open(os.path.join(directory, name + ".pub"), "wb") as f:
                f.write(b"# CURVE public key\n" + public + b"\n")

        ports = [free_port() for _ in range(3)]
        ingest, snapshots, control = (f"tcp://127.0.0.1:{p}" for p in ports)
        ctx = zmq.Context()
        with TempDir() as d:
            keys = os.path.join(d, "curve")
            os.makedirs(os.path.join(keys, "clients"))
            write_pair(keys, "server")
            write_pair(os.path.join(keys, "clients"), "alice")
            write_pair(d, "mallory")
            server = os.path.join(keys, "server.pub")
            alice = mb.CurveKeys.load(server, os.path.join(keys, "clients", "alice.key"))
            mallory = mb.CurveKeys.load(server, os.path.join(d, "mallory.key"))
            self.assertEqual(alice.public_key, mb.read_key(os.path.join(keys, "clients", "alice.pub")))
            opts = [f"daemon.runtime_dir={d}", "security.curve=on", f"security.curve_dir={keys}",
                    f"publish.endpoint=ipc://snapshots,{snapshots}", f"control.endpoint=ipc://control,{control}",
                    "source.in.type=zmq", f"source.in.endpoint=ipc://ingest,{ingest}", "metrics.listen=",
                    "model.inputs=8", "batch.size=32", "batch.linger_ms=5"]
            log = open(os.path.join(d, "daemon.log"), "wb")
            proc = subprocess.Popen([DAEMON, *[a for o in opts for a in ("-o", o)]], stdout=log, stderr=log)
            log.close()
            try:
                local = mb.Control(mb.endpoint("control", d), timeout_ms=500, context=ctx)
                deadline = time.monotonic() + 20
                while True:
                    try:
                        local.status()
                        break
                    except TimeoutError:
                        self.assertLess(time.monotonic(), deadline, "the daemon never answered")
                rng = np.random.default_rng(3)
                x = rng.random((320, 8), dtype=np.float32)
                y = rng.integers(0, 10, 320).astype(np.float32)

                self.assertEqual(mb.Control(control, context=ctx, curve=alice).status()["state"], "running")
                with mb.Producer(ingest, batch=64, context=ctx, curve=alice) as p:
                    p.send(x, y)
                deadline = time.monotonic() + 20
                while local.status()["samples"] < len(x):
                    self.assertLess(time.monotonic(), deadline, "the daemon did not learn alice's samples")
                    time.sleep(0.05)
                self.assertIsNotNone(mb.Subscriber(snapshots, context=ctx, curve=alice).recv(5000))

                trained = local.status()["samples"]
                with self.assertRaises(TimeoutError):
                    mb.Control(control, timeout_ms=1000, context=ctx, curve=mallory).status()
                p = mb.Producer(ingest, batch=64, timeout_ms=1000, context=ctx, curve=mallory)
                with self.assertRaises(TimeoutError):
                    p.send(x, y)
                p.close(flush=False)
                with self.assertRaises(TimeoutError):
                    mb.Subscriber(snapshots, context=ctx, curve=mallory).recv(1000)
                status = local.status()
                self.assertEqual(status["samples"], trained)
                self.assertGreaterEqual(status["peers_refused"], 3)
            finally:
                ctx.destroy(linger=0)
                self.stop_daemon(proc, d)

    @unittest.skipUnless(fashion_available(), f"Fashion-MNIST not found in {FASHION}")
    def test_learns_fashion(self):
        """daemon/fashion: two passes over Fashion-MNIST sent from Python;
        the model rebuilt from the snapshot scores >= 0.80 on t10k and
        agrees with the snapshot's and the daemon's own figures."""
        self.assertTrue(os.path.exists(DAEMON), f"{DAEMON} is missing")
        x, y = fashion("train")
        xt, yt = fashion("t10k")
        ctx = zmq.Context()
        with TempDir() as d:
            proc = self.start_daemon(d)
            try:
                self.run_fashion(ctx, d, x, y, xt, yt)
            finally:
                ctx.destroy(linger=0)
                self.stop_daemon(proc, d)

    def run_fashion(self, ctx, d, x, y, xt, yt):
        ctl = mb.Control(mb.endpoint("control", d), timeout_ms=500, context=ctx)
        deadline = time.monotonic() + 20
        while True:
            try:
                status = ctl.status()
                break
            except TimeoutError:
                self.assertLess(time.monotonic(), deadline, "the daemon never answered")
        self.assertEqual((status["state"], status["samples"]), ("running", 0))
        t = time.monotonic()
        with mb.Producer(mb.endpoint("ingest", d), elem=mb.Elem.U8, scale=1 / 255, batch=256,
                         timeout_ms=20000, context=ctx) as p:
            for _ in range(2):
                p.send(x, y)
        sent = 2 * len(x)
        self.assertEqual(p.sent, sent)
        deadline = time.monotonic() + 60
        while ctl.status()["samples"] < sent:
            self.assertLess(time.monotonic(), deadline, "the daemon did not learn every sample")
            time.sleep(0.05)
        trained = time.monotonic() - t
        # A subscriber that joins now gets the last snapshot at once (section
        # 4.5); one published on request has the final version, or repeats
        # it and is passed over.
        sub = mb.Subscriber(mb.endpoint("snapshots", d), "softmax", context=ctx)
        snap = sub.recv(5000)
        version = ctl.snapshot()
        if snap.version != version:
            snap = sub.recv(5000)
        self.assertEqual(snap.version, version)
        self.assertIsNone(sub.latest(300))

        status = ctl.status()
        stats = ctl.stats()
        model = snap.model()
        acc = model.accuracy(xt, yt)
        cost = model.cost(xt, yt)
        print(f"\n  {sent} samples learned in {trained:.2f} s; t10k accuracy {acc:.4f}, cost {cost:.4f}; "
              f"snapshot cost {snap.cost:.4f}, progressive accuracy {status['accuracy']:.4f}",
              file=sys.stderr)
        self.assertGreaterEqual(acc, 0.80)
        self.assertEqual((snap.topic, snap.kind, snap.sizes), ("softmax", mb.ModelKind.SOFTMAX, (784, 10)))
        self.assertEqual(snap.samples, sent)
        self.assertEqual((status["version"], status["samples"], status["batches"]),
                         (snap.version, snap.samples, snap.batches))
        self.assertEqual(snap.version, version)
        self.assertLess(abs(snap.age()), 60)
        self.assertAlmostEqual(status["cost"], snap.cost, delta=1e-4)
        # The progressive figures estimate the figures on unseen data.
        self.assertLess(abs(snap.cost - cost), 0.15)
        self.assertLess(abs(status["accuracy"] - acc), 0.05)
        (source,) = stats["sources"]
        self.assertEqual((source["received"], source["queued"], source["rejected"]), (sent, sent, 0))
        sub.close()
        ctl.close()


def _overrun(signum, frame):
    raise TimeoutError(f"the tests ran over {WATCHDOG_S} s")


WATCHDOG_S = 300  # a hang fails the run, through the cleanups, instead of stalling make check

if __name__ == "__main__":
    signal.signal(signal.SIGALRM, _overrun)
    signal.alarm(WATCHDOG_S)
    unittest.main(verbosity=2)
