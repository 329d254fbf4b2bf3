#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""proto-examples.py - the hex examples of proto/minibatch-proto.md.

A second implementation of the minibatchd formats, written from the
document alone with nothing but the Python standard library, so that the
examples in the document do not merely repeat what the C library does.

Usage:
  proto-examples.py               check that the document holds every example
                                  exactly, and no hex block this file does not make
  proto-examples.py --check DOC   the same for the document DOC
  proto-examples.py --print       print every example as Markdown, ready to paste
  proto-examples.py --print NAME  print one example

Without --check the document is found at $top_srcdir/proto/minibatch-proto.md,
or next to this file at ../proto/minibatch-proto.md. Exit status: 0 when
the document agrees, 1 when it does not (with the differences on stderr),
2 on a usage error.
"""

import os
import re
import struct
import sys

# ---- Conventions -----------------------------------------------------------

# CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and
# final xor 0xFFFFFFFF.
CRC32C_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    CRC32C_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def f32(x):
    """x rounded to the nearest float32, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def fmt_num(x):
    """A float the way the decoded-value lists print it: shortest exact form."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def fmt_list(xs):
    return ", ".join(fmt_num(x) for x in xs)


class Writer:
    """Little-endian bytes, and a name for each field for the comments."""

    def __init__(self):
        self.buf = bytearray()
        self.fields = []  # (offset, label)

    def _note(self, label):
        if label:
            self.fields.append((len(self.buf), label))

    def raw(self, data, label=None):
        self._note(label)
        self.buf += data

    def u8(self, v, label=None):
        self.raw(struct.pack("<B", v), label)

    def u16be(self, v, label=None):
        self.raw(struct.pack(">H", v), label)

    def u32(self, v, label=None):
        self.raw(struct.pack("<I", v), label)

    def u32be(self, v, label=None):
        self.raw(struct.pack(">I", v), label)

    def u64(self, v, label=None):
        self.raw(struct.pack("<Q", v), label)

    def f32(self, v, label=None):
        self.raw(struct.pack("<f", v), label)

    def pad(self, align, label=None):
        n = -len(self.buf) % align
        if n:
            self.raw(bytes(n), label)


# ---- Sample messages, binary -----------------------------------------------

ELEM_F32, ELEM_F16, ELEM_U8 = 1, 2, 3
ELEM_NAME = {ELEM_F32: "F32", ELEM_F16: "F16", ELEM_U8: "U8"}
F_WEIGHTS = 1


def sample_bin(rows, n_features, n_targets, elem, scale=1.0, offset=0.0, weighted=False):
    """rows: list of (weight, targets, features) with features as decoded values."""
    w = Writer()
    w.raw(b"MBSM", 'magic "MBSM"')
    w.u8(1, "version 1")
    w.u8(F_WEIGHTS if weighted else 0, "flags %d" % (F_WEIGHTS if weighted else 0))
    w.u8(elem, "element %s" % ELEM_NAME[elem])
    w.u8(0, "reserved")
    w.u32(len(rows), "count %d" % len(rows))
    w.u32(n_features, "n_features %d" % n_features)
    w.u32(n_targets, "n_targets %d" % n_targets)
    w.f32(scale, "scale %s" % fmt_num(scale))
    w.f32(offset, "offset %s" % fmt_num(offset))
    w.u32(0, "reserved")
    for i, (weight, targets, features) in enumerate(rows):
        assert len(targets) == n_targets and len(features) == n_features
        prefix = "sample %d: " % i
        if weighted:
            w.f32(weight, prefix + "weight %s" % fmt_num(weight))
            prefix = ""
        for j, t in enumerate(targets):
            w.f32(t, prefix + "targets" if j == 0 else None)
        if n_targets:
            prefix = ""
        for j, x in enumerate(features):
            first = prefix + "features" if j == 0 else None
            stored = (x - offset) / scale
            if elem == ELEM_F32:
                w.f32(x, first if j == 0 else None)
            elif elem == ELEM_F16:
                w.raw(struct.pack("<e", stored), first if j == 0 else None)
                back = f32(f32(struct.unpack("<e", struct.pack("<e", stored))[0] * scale) + offset)
                assert back == x, "F16 example value %r is not exact" % x
            else:
                q = int(round(stored))
                assert 0 <= q <= 255 and f32(f32(q * scale) + offset) == x, "U8 value %r" % x
                w.u8(q, first if j == 0 else None)
    return w


def sample_lines(rows, n_features, n_targets, elem, scale, offset, weighted):
    out = [
        "- count %d, n_features %d, n_targets %d, element %s, scale %s, offset %s, %s"
        % (len(rows), n_features, n_targets, ELEM_NAME[elem], fmt_num(scale), fmt_num(offset),
           "weighted" if weighted else "no weights")
    ]
    for i, (weight, targets, features) in enumerate(rows):
        s = "- sample %d: " % i
        if weighted:
            s += "weight %s, " % fmt_num(weight)
        s += "target%s %s, features %s" % ("s" if n_targets != 1 else "", fmt_list(targets),
                                         fmt_list(features))
        out.append(s)
    return out


def ex_sample(name, rows, n_features, n_targets, elem, scale=1.0, offset=0.0, weighted=False):
    w = sample_bin(rows, n_features, n_targets, elem, scale, offset, weighted)
    return name, sample_lines(rows, n_features, n_targets, elem, scale, offset, weighted), w


# ---- Sample messages, text -------------------------------------------------

def ex_text(name, text, lines):
    w = Writer()
    for i, line in enumerate(text.splitlines(keepends=True)):
        w.raw(line.encode("ascii"), "line %d" % (i + 1))
    return name, lines, w


# ---- Snapshot --------------------------------------------------------------

SNAP_KIND = {"linear": 1, "logistic": 2, "softmax": 3, "mlp": 4}
ACT = {"identity": 0, "relu": 1, "tanh": 2, "sigmoid": 3, "softmax": 4}


def param_count(sizes):
    return sum(sizes[l + 1] * sizes[l] + sizes[l + 1] for l in range(len(sizes) - 1))


def snapshot_body(kind, sizes, acts, version, samples, batches, cost, timestamp_ns, params):
    n_layers = len(sizes) - 1
    assert len(acts) == n_layers and len(params) == param_count(sizes)
    pbytes = b"".join(struct.pack("<f", p) for p in params)
    w = Writer()
    w.raw(b"MBSN", 'magic "MBSN"')
    w.u8(1, "version 1")
    w.u8(SNAP_KIND[kind], "kind %s" % kind)
    w.u8(n_layers, "n_layers %d" % n_layers)
    w.u8(0, "flags")
    w.u64(version, "model version %d" % version)
    w.u64(samples, "samples %d" % samples)
    w.u64(batches, "batches %d" % batches)
    w.f32(cost, "cost %s" % fmt_num(cost))
    w.u32(len(params), "n_params %d" % len(params))
    w.u64(timestamp_ns, "timestamp")
    w.u32(crc32c(pbytes), "params CRC32C %08x" % crc32c(pbytes))
    w.u32(0, "reserved")
    w.raw(b"".join(struct.pack("<I", s) for s in sizes), "sizes %s" % fmt_list(sizes))
    w.raw(bytes(ACT[a] for a in acts), "activations %s" % ", ".join(acts))
    w.pad(4, "padding")
    off = 0
    for l in range(n_layers):
        n_w = sizes[l + 1] * sizes[l]
        w.raw(pbytes[4 * off:4 * (off + n_w)], "W_%d" % l)
        off += n_w
        w.raw(pbytes[4 * off:4 * (off + sizes[l + 1])], "b_%d" % l)
        off += sizes[l + 1]
    return w


SNAP_EXAMPLE = dict(kind="softmax", sizes=[2, 2], acts=["softmax"], version=42, samples=1344,
                    batches=42, cost=0.6875, timestamp_ns=1700000000123456789,
                    params=[0.5, -0.25, -0.5, 0.25, 0.125, -0.125])


def snapshot_lines(s):
    p = s["params"]
    return [
        "- kind %s (%d), n_layers 1, sizes %s, activation %s"
        % (s["kind"], SNAP_KIND[s["kind"]], fmt_list(s["sizes"]), ", ".join(s["acts"])),
        "- model version %d, samples %d, batches %d, cost %s"
        % (s["version"], s["samples"], s["batches"], fmt_num(s["cost"])),
        "- timestamp %d ns (2023-11-14T22:13:20.123456789Z)" % s["timestamp_ns"],
        "- n_params 6: W_0 = [[%s], [%s]], b_0 = [%s]"
        % (fmt_list(p[0:2]), fmt_list(p[2:4]), fmt_list(p[4:6])),
        "- parameter CRC32C 0x%08x" % crc32c(b"".join(struct.pack("<f", x) for x in p)),
    ]


def ex_snapshot():
    w = snapshot_body(**SNAP_EXAMPLE)
    return "snapshot-body", snapshot_lines(SNAP_EXAMPLE), w


def ex_topic():
    w = Writer()
    w.raw(b"demo", 'topic "demo"')
    return "snapshot-topic", ["- the model name \"demo\", 4 bytes"], w


# ---- Control ---------------------------------------------------------------

CTL_REQUEST = "status"
CTL_REPLY = ('{"ok":true,"state":"running","model":"softmax","version":42,"samples":1344,'
             '"batches":42,"skipped":0,"cost":0.6875,"accuracy":0.75,"samples_per_s":12000.5,'
             '"snapshots":3}')


def ex_control(name, text, lines):
    w = Writer()
    w.raw(text.encode("ascii"))
    return name, lines, w


# ---- Checkpoint ------------------------------------------------------------

def checkpoint(sections):
    """sections: list of (id, name, payload bytes)."""
    w = Writer()
    w.raw(b"MBCK", 'magic "MBCK"')
    w.u8(1, "version 1")
    w.raw(bytes(3), "reserved")
    w.u32(len(sections), "n_sections %d" % len(sections))
    for sid, name, payload in sections:
        w.u32(sid, "section id %d (%s)" % (sid, name))
        w.u32(crc32c(payload), "payload CRC32C %08x" % crc32c(payload))
        w.u64(len(payload), "length %d" % len(payload))
        w.raw(payload, "payload")
        if len(payload) % 8:
            w.raw(bytes(-len(payload) % 8), "padding")
    w.u32(crc32c(bytes(w.buf)), "file CRC32C %08x" % crc32c(bytes(w.buf)))
    return w


def ex_checkpoint():
    body = bytes(snapshot_body(**SNAP_EXAMPLE).buf)
    w = checkpoint([(1, "MODEL", body)])
    lines = [
        "- version 1, one section",
        "- section MODEL (1): %d bytes, the snapshot-body example above, "
        "then %d bytes of padding" % (len(body), -len(body) % 8),
        "- file CRC32C 0x%08x over the first %d bytes" % (crc32c(bytes(w.buf[:-4])), len(w.buf) - 4),
    ]
    return "checkpoint", lines, w


# ---- IDX -------------------------------------------------------------------

def idx(type_code, dims, data, what):
    w = Writer()
    w.u16be(0, "zero")
    w.u8(type_code, "type 0x%02X" % type_code)
    w.u8(len(dims), "%d dim%s" % (len(dims), "s" if len(dims) > 1 else ""))
    for i, d in enumerate(dims):
        w.u32be(d, "dim %d: %d" % (i, d))
    w.raw(bytes(data), what)
    return w


IDX_PIXELS = [[0, 51, 102, 255], [255, 204, 153, 0]]
IDX_LABELS = [3, 9]


def ex_idx_images():
    w = idx(0x08, [2, 2, 2], IDX_PIXELS[0] + IDX_PIXELS[1], "pixels")
    lines = ["- type 0x08 (unsigned byte), 3 dims: 2 images of 2 x 2"]
    for i, px in enumerate(IDX_PIXELS):
        lines.append("- image %d: bytes %s, features %s"
                     % (i, fmt_list(px), fmt_list([round(b / 255, 6) for b in px])))
    return "idx-images", lines, w


def ex_idx_labels():
    w = idx(0x08, [2], IDX_LABELS, "labels")
    lines = ["- type 0x08 (unsigned byte), 1 dim: 2 labels",
             "- labels %s: the targets of images 0 and 1" % fmt_list(IDX_LABELS)]
    return "idx-labels", lines, w


# ---- Every example, in document order ---------------------------------------

CSV_TEXT = "# target,x1,x2,x3\n1,0.5,-1,2\n\n0,0.25,0,-3.5\n"
LIBSVM_TEXT = "1 1:0.5 2:-1 3:2\n# the second sample has no feature 2\n0 1:0.25 3:-3.5\n"


def examples():
    rows3 = [(1.0, [1.0], [0.5, -1.0, 2.0]), (1.0, [0.0], [0.25, 0.0, -3.5])]
    return [
        ex_sample("sample-f32", rows3, 3, 1, ELEM_F32),
        ex_sample("sample-f16",
                  [(1.0, [2.0], [1.5, 0.0, 1.25]), (1.0, [7.0], [3.0, 1.0, -0.5])],
                  3, 1, ELEM_F16, scale=0.5, offset=1.0),
        ex_sample("sample-u8",
                  [(1.0, [3.0], [-1.0, 0.0, 31.0, 62.75]), (1.0, [9.0], [-0.75, -0.5, -0.25, 1.0])],
                  4, 1, ELEM_U8, scale=0.25, offset=-1.0),
        ex_sample("sample-weighted",
                  [(1.0, [1.5, -2.0], [0.0, 1.0]), (0.5, [0.125, 4.0], [-1.0, 8.0])],
                  2, 2, ELEM_F32, weighted=True),
        ex_text("text-csv", CSV_TEXT,
                ["- CSV, 1 target then 3 features; line 1 is a comment, line 3 is blank",
                 "- sample 0: target 1, features 0.5, -1, 2",
                 "- sample 1: target 0, features 0.25, 0, -3.5"]),
        ex_text("text-libsvm", LIBSVM_TEXT,
                ["- libsvm, 3 features (from the configuration); line 2 is a comment",
                 "- sample 0: target 1, features 0.5, -1, 2",
                 "- sample 1: target 0, features 0.25, 0, -3.5"]),
        ex_topic(),
        ex_snapshot(),
        ex_control("control-request", CTL_REQUEST,
                   ['- the request "%s", %d bytes, no terminating zero' % (CTL_REQUEST, len(CTL_REQUEST))]),
        ex_control("control-reply", CTL_REPLY,
                   ["- ok true, state running, model softmax",
                    "- version 42, samples 1344, batches 42, skipped 0",
                    "- cost 0.6875, accuracy 0.75, samples_per_s 12000.5, snapshots 3"]),
        ex_checkpoint(),
        ex_idx_images(),
        ex_idx_labels(),
    ]


# ---- Formatting ------------------------------------------------------------

def hex_block(name, w):
    data = bytes(w.buf)
    out = ["```hex " + name]
    for start in range(0, len(data), 16):
        chunk = data[start:start + 16]
        line = "%04x: %s" % (start, " ".join("%02x" % b for b in chunk))
        labels = [lab for off, lab in w.fields if start <= off < start + 16]
        if labels:
            line = line.ljust(6 + 16 * 3 - 1) + "  | " + "; ".join(labels)
        out.append(line.rstrip())
    out.append("```")
    return out


def markdown(example):
    name, lines, w = example
    return "\n".join(lines + [""] + hex_block(name, w)) + "\n"


# ---- The document ------------------------------------------------------------

BLOCK_RE = re.compile(r"^```hex ([A-Za-z0-9_-]+)\n(.*?)^```$", re.M | re.S)


def parse_hex(body):
    """The bytes of a hex block: OFFSET: bytes, comments after '  |'."""
    data = bytearray()
    for line in body.splitlines():
        line = line.split("  |", 1)[0].strip()
        if not line:
            continue
        off, _, rest = line.partition(":")
        if int(off, 16) != len(data):
            raise ValueError("offset %s where %04x was expected" % (off, len(data)))
        data += bytes(int(tok, 16) for tok in rest.split())
    return bytes(data)


def check(doc_path):
    try:
        with open(doc_path, encoding="utf-8") as f:
            doc = f.read()
    except OSError as e:
        print("%s: %s" % (doc_path, e.strerror), file=sys.stderr)
        return 1
    ok = True
    made = {ex[0]: ex for ex in examples()}
    seen = set()
    for m in BLOCK_RE.finditer(doc):
        name = m.group(1)
        if name in seen:
            print("%s: hex block %s appears twice" % (doc_path, name), file=sys.stderr)
            ok = False
        seen.add(name)
        if name not in made:
            print("%s: hex block %s is not one this tool makes" % (doc_path, name), file=sys.stderr)
            ok = False
            continue
        try:
            data = parse_hex(m.group(2))
        except ValueError as e:
            print("%s: hex block %s: %s" % (doc_path, name, e), file=sys.stderr)
            ok = False
            continue
        if data != bytes(made[name][2].buf):
            print("%s: hex block %s differs from the bytes this tool makes" % (doc_path, name),
                  file=sys.stderr)
            ok = False
        elif markdown(made[name]) not in doc:
            print("%s: the values or comments of %s differ; paste `%s --print %s`"
                  % (doc_path, name, sys.argv[0], name), file=sys.stderr)
            ok = False
    for name in made:
        if name not in seen:
            print("%s: hex block %s is missing" % (doc_path, name), file=sys.stderr)
            ok = False
    return 0 if ok else 1


def default_doc():
    top = os.environ.get("top_srcdir")
    if top:
        return os.path.join(top, "proto", "minibatch-proto.md")
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, os.pardir, "proto", "minibatch-proto.md")


def main(argv):
    if len(argv) == 0:
        return check(default_doc())
    if argv[0] == "--check" and len(argv) == 2:
        return check(argv[1])
    if argv[0] == "--print" and len(argv) <= 2:
        chosen = [ex for ex in examples() if len(argv) == 1 or ex[0] == argv[1]]
        if not chosen:
            print("no example named %s" % argv[1], file=sys.stderr)
            return 2
        print("\n".join(markdown(ex) for ex in chosen), end="")
        return 0
    usage = [part for part in __doc__.split("\n\n") if part.startswith("Usage:")]
    print(usage[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
