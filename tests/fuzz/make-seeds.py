#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz targets: tests/fuzz/corpus/<name>/.

Each seed is a small input that reaches one part of a decoder: a valid
message of every element type and model kind, and each count or length
field at 0, at its limit and one past it (proto/mb_proto.h), plus the
usual faults (magic, version, flags, truncation, trailing bytes, NaN).
Run it again after a format change; it replaces the seeds it writes.

    python3 tests/fuzz/make-seeds.py [OUTDIR]
"""
import gzip
import os
import re
import shutil
import struct
import sys
import zlib

# ---- limits and constants, as in proto/mb_proto.h ----
MAX_FEATURES = 1 << 24
MAX_TARGETS = 4096
MAX_CLASSES = 4096
MAX_SAMPLES_PER_MSG = 65536
MAX_LINE_BYTES = 1 << 20
MAX_LAYERS = 16
MAX_SECTIONS = 64
MAX_CONTROL_BYTES = 4096
MAX_MSG_BYTES = 64 << 20
MAX_SOURCES = 32          # daemon/source.h
CFG_NAME_BYTES = 64       # daemon/config.h: a source name, with its NUL
CFG_VALUE_BYTES = 4096    # daemon/config.h: one value, with its NUL

F32, F16, U8 = 1, 2, 3
LINEAR, LOGISTIC, SOFTMAX, MLP = 1, 2, 3, 4
IDENTITY, RELU, TANH, SIGMOID, SOFTMAX_ACT = 0, 1, 2, 3, 4

# The bound fuzz_gzip.c passes to mb_inflate_mem.
GZIP_MAX_OUT = 64 << 10


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), reflected, as lib/crc32c.c computes it."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def f16(x):
    return struct.pack('<e', x)


# ---- binary sample messages ----
def sample_header(count, nf, nt, elem=F32, flags=0, scale=1.0, offset=0.0,
                  magic=b'MBSM', version=1, reserved=0, reserved2=0):
    return (magic + struct.pack('<BBBB', version, flags, elem, reserved)
            + struct.pack('<III', count, nf, nt)
            + struct.pack('<ff', scale, offset) + struct.pack('<I', reserved2))


def sample_row(nf, nt, elem, weighted, i):
    row = struct.pack('<f', 0.5 + i) if weighted else b''
    row += b''.join(struct.pack('<f', float(t + i)) for t in range(nt))
    if elem == F32:
        row += b''.join(struct.pack('<f', (j - 1.5) * 0.25) for j in range(nf))
    elif elem == F16:
        row += b''.join(f16((j - 1.5) * 0.25) for j in range(nf))
    else:
        row += bytes((j * 37 + i) & 0xFF for j in range(nf))
    return row


def sample_msg(count, nf, nt, elem=F32, weighted=False, **kw):
    flags = kw.pop('flags', 1 if weighted else 0)
    scale = kw.pop('scale', 1.0 / 255 if elem == U8 else 1.0)
    body = b''.join(sample_row(nf, nt, elem, weighted, i) for i in range(count))
    return sample_header(count, nf, nt, elem, flags, scale, **kw) + body


def sample_bin_seeds():
    s = {}
    for elem, ename in ((F32, 'f32'), (F16, 'f16'), (U8, 'u8')):
        for weighted in (False, True):
            w = 'weighted' if weighted else 'plain'
            s[f'{ename}-{w}'] = sample_msg(3, 4, 1, elem, weighted)
            s[f'{ename}-{w}-no-targets'] = sample_msg(2, 5, 0, elem, weighted)
    s['u8-unscaled'] = sample_msg(2, 6, 1, U8, scale=1.0)
    s['u8-offset'] = sample_msg(2, 6, 1, U8, scale=0.5, offset=-3.0)
    s['f16-scaled'] = sample_msg(2, 3, 2, F16, scale=2.0, offset=1.0)
    # count: 0, the limit (one-byte rows keep it small), one past it
    s['count-0'] = sample_header(0, 4, 1)
    s['count-max'] = sample_msg(MAX_SAMPLES_PER_MSG, 1, 0, U8)
    s['count-max+1'] = sample_header(MAX_SAMPLES_PER_MSG + 1, 1, 0, U8) + bytes(MAX_SAMPLES_PER_MSG + 1)
    # n_features: 0, the limit and one past it (too long to carry whole rows)
    s['features-0'] = sample_header(1, 0, 1) + struct.pack('<f', 1.0)
    s['features-max'] = sample_header(1, MAX_FEATURES, 0, U8) + bytes(64)
    s['features-max+1'] = sample_header(1, MAX_FEATURES + 1, 0, U8) + bytes(64)
    s['features-overflow'] = sample_header(MAX_SAMPLES_PER_MSG, MAX_FEATURES, MAX_TARGETS, F32, 1)
    # n_targets: 0 above, the limit and one past it
    s['targets-max'] = sample_msg(1, 1, MAX_TARGETS)
    s['targets-max+1'] = sample_msg(1, 1, MAX_TARGETS + 1)
    # faults
    good = sample_msg(2, 3, 1)
    s['empty'] = b''
    s['header-only'] = good[:32]
    s['header-short'] = good[:31]
    s['truncated'] = good[:-1]
    s['trailing'] = good + b'\0'
    s['magic'] = sample_msg(2, 3, 1, magic=b'MBSN')
    s['version-0'] = sample_msg(2, 3, 1, version=0)
    s['version-2'] = sample_msg(2, 3, 1, version=2)
    s['flags-sparse'] = sample_msg(2, 3, 1, flags=2)
    s['flags-unknown'] = sample_msg(2, 3, 1, flags=0x80)
    s['elem-0'] = sample_header(2, 3, 1, elem=0) + bytes(2 * 16)
    s['elem-4'] = sample_header(2, 3, 1, elem=4) + bytes(2 * 16)
    s['reserved'] = sample_msg(2, 3, 1, reserved=1)
    s['reserved2'] = sample_msg(2, 3, 1, reserved2=1)
    s['f32-scale-2'] = sample_msg(2, 3, 1, scale=2.0)
    s['u8-scale-0'] = sample_msg(2, 3, 1, U8, scale=0.0)
    s['u8-scale-nan'] = sample_msg(2, 3, 1, U8, scale=float('nan'))
    s['f16-offset-inf'] = sample_msg(2, 3, 1, F16, offset=float('inf'))
    nan = struct.pack('<f', float('nan'))
    inf = struct.pack('<f', float('inf'))
    s['feature-nan'] = good[:-4] + nan
    s['target-inf'] = good[:32] + inf + good[36:]
    s['weight-nan'] = sample_header(1, 1, 0, F32, 1) + nan + struct.pack('<f', 1.0)
    s['f16-inf'] = sample_header(1, 2, 0, F16) + f16(1.0) + b'\x00\x7c'
    s['f16-nan'] = sample_header(1, 2, 0, F16) + f16(1.0) + b'\x01\x7e'
    s['f16-subnormal'] = sample_header(1, 2, 0, F16) + b'\x01\x00\x01\x80'
    s['u8-overflow-scale'] = sample_msg(1, 2, 0, U8, scale=3.0e38, offset=3.0e38)
    return s


# ---- text messages: first byte = format, n_features, targets ----
def text_seed(fmt, nf, three_targets, body):
    b = (1 if fmt == 'libsvm' else 0) | ((nf - 1) << 1) | (0x80 if three_targets else 0)
    return bytes([b]) + body.encode() if isinstance(body, str) else bytes([b]) + body


def sample_text_seeds():
    s = {}
    c = lambda name, body, nf=3, t3=False: s.__setitem__('csv-' + name, text_seed('csv', nf, t3, body))
    l = lambda name, body, nf=3, t3=False: s.__setitem__('libsvm-' + name, text_seed('libsvm', nf, t3, body))
    c('good', '1,0.5,-2,3e-1\n0,1,2,3\n')
    c('comments', '# label,a,b,c\n\n1,0.5,-2,3\n#end\n')
    c('crlf', '1,0.5,-2,3\r\n0,1,2,3\r\n')
    c('no-final-newline', '1,0.5,-2,3')
    c('three-targets', '1,2,3,0.5,-2,3\n', t3=True)
    c('features-1', '1,0.5\n', nf=1)
    c('features-64', ','.join(['1'] + [str(j) for j in range(64)]) + '\n', nf=64)
    c('columns-0', '1\n')
    c('columns-short', '1,2,3\n')
    c('columns-long', '1,2,3,4,5\n')
    c('empty-field', '1,,3,4\n')
    c('nan', '1,nan,2,3\n')
    c('inf', '1,inf,2,-inf\n')
    c('huge', '1,1e39,2,3\n')
    c('tiny', '1,1e-46,2,3\n')
    c('hex', '1,0x10,2,3\n')
    c('spaces', ' 1 , 2 ,3 ,4 \n')
    c('text', 'a,b,c,d\n')
    c('sign-only', '-,+,.,e\n')
    c('nul', '1,2\x003,4\n')
    c('empty', '')
    c('blank-lines', '\n\n\n')
    c('comment-only', '# nothing here')
    c('bad-then-good', '1,x,2,3\n1,2,3,4\n')
    c('long-number', '1,' + '0' * 400 + '1,2,3\n')
    # line length: the limit and one past it (features padded with zeros)
    for name, n in (('line-max', MAX_LINE_BYTES), ('line-max+1', MAX_LINE_BYTES + 1)):
        tail = ',2,3\n'
        c(name, '1,' + '0' * (n - 2 - len(tail) + 1) + '1' + tail)
    l('good', '1 1:0.5 3:2\n0 2:1\n')
    l('no-features', '1\n')
    l('comments', '# x\n1 1:0.5\n\n')
    l('index-0', '1 0:1\n')
    l('index-max', '1 3:1\n')
    l('index-max+1', '1 4:1\n')
    l('index-64', '1 64:1\n', nf=64)
    l('index-65', '1 65:1\n', nf=64)
    l('index-huge', '1 4294967297:1\n')
    l('index-negative', '1 -1:1\n')
    l('descending', '1 2:1 1:1\n')
    l('repeated', '1 2:1 2:1\n')
    l('colon-only', '1 :\n')
    l('no-value', '1 2:\n')
    l('no-index', '1 :2\n')
    l('nan', '1 1:nan\n')
    l('label-inf', 'inf 1:1\n')
    l('tabs', '1\t1:0.5\t2:1\n')
    l('three-targets', '1,2,3 1:0.5\n', t3=True)
    l('crlf', '1 1:1\r\n')
    l('empty', '')
    return s


# ---- snapshots ----
def snap(kind, sizes, acts, params=None, n_layers=None, n_params=None, magic=b'MBSN',
         version=1, flags=0, reserved=0, pad=0, crc=None, trailing=b''):
    nl = len(sizes) - 1 if n_layers is None else n_layers
    count = sum(sizes[i + 1] * sizes[i] + sizes[i + 1] for i in range(len(sizes) - 1))
    if params is None:
        params = [((k * 7919) % 97 - 48) / 64.0 for k in range(count)]
    pbytes = b''.join(struct.pack('<f', p) for p in params)
    npar = len(params) if n_params is None else n_params
    shape = b''.join(struct.pack('<I', x) for x in sizes)
    act = bytes(acts)
    act += bytes([pad]) * ((-len(act)) % 4)
    head = magic + struct.pack('<BBBB', version, kind, nl, flags)
    head += struct.pack('<QQQ', 1234, 56789, 321)
    head += struct.pack('<fI', 0.6931, npar)
    head += struct.pack('<Q', 1700000000123456789)
    head += struct.pack('<II', crc32c(pbytes) if crc is None else crc, reserved)
    return head + shape + act + pbytes + trailing


def snapshot_seeds():
    s = {}
    s['linear'] = snap(LINEAR, [3, 1], [IDENTITY])
    s['logistic'] = snap(LOGISTIC, [4, 1], [SIGMOID])
    s['softmax'] = snap(SOFTMAX, [5, 3], [SOFTMAX_ACT])
    s['mlp'] = snap(MLP, [4, 6, 3], [RELU, SOFTMAX_ACT])
    s['mlp-tanh'] = snap(MLP, [2, 3, 3, 1], [TANH, TANH, IDENTITY])
    # n_layers: 0, the limit, one past it
    s['layers-0'] = snap(LINEAR, [3], [], n_layers=0)
    s['layers-max'] = snap(MLP, [2] * (MAX_LAYERS + 1), [RELU] * (MAX_LAYERS - 1) + [SOFTMAX_ACT])
    s['layers-max+1'] = snap(MLP, [2] * (MAX_LAYERS + 2), [RELU] * MAX_LAYERS + [SOFTMAX_ACT])
    # sizes: 0, the limits, one past them (header and shape only: too long whole)
    s['size-0'] = snap(LINEAR, [0, 1], [IDENTITY])
    s['output-0'] = snap(LINEAR, [3, 0], [IDENTITY])
    s['input-max'] = snap(LINEAR, [MAX_FEATURES, 1], [IDENTITY], params=[0.0] * 8, n_params=MAX_FEATURES + 1)
    s['input-max+1'] = snap(LINEAR, [MAX_FEATURES + 1, 1], [IDENTITY], params=[0.0] * 8, n_params=MAX_FEATURES + 2)
    s['classes-max'] = snap(SOFTMAX, [1, MAX_CLASSES], [SOFTMAX_ACT])
    s['classes-max+1'] = snap(SOFTMAX, [1, MAX_CLASSES + 1], [SOFTMAX_ACT])
    s['params-overflow'] = snap(MLP, [0xFFFFFFFF, 0xFFFFFFFF, 2], [RELU, SOFTMAX_ACT], params=[0.0] * 4, n_params=4)
    # faults
    s['empty'] = b''
    good = snap(SOFTMAX, [5, 3], [SOFTMAX_ACT])
    s['header-only'] = good[:56]
    s['truncated'] = good[:-1]
    s['trailing'] = snap(SOFTMAX, [5, 3], [SOFTMAX_ACT], trailing=b'\0\0\0\0')
    s['magic'] = snap(LINEAR, [3, 1], [IDENTITY], magic=b'MBSM')
    s['version-2'] = snap(LINEAR, [3, 1], [IDENTITY], version=2)
    s['kind-0'] = snap(0, [3, 1], [IDENTITY])
    s['kind-5'] = snap(5, [3, 1], [IDENTITY])
    s['flags'] = snap(LINEAR, [3, 1], [IDENTITY], flags=1)
    s['reserved'] = snap(LINEAR, [3, 1], [IDENTITY], reserved=1)
    s['act-5'] = snap(LINEAR, [3, 1], [5])
    s['pad-nonzero'] = snap(LINEAR, [3, 1], [IDENTITY], pad=1)
    s['n-params-short'] = snap(LINEAR, [3, 1], [IDENTITY], n_params=3)
    s['n-params-long'] = snap(LINEAR, [3, 1], [IDENTITY], n_params=5)
    s['crc'] = snap(LINEAR, [3, 1], [IDENTITY], crc=0)
    s['param-nan'] = snap(LINEAR, [1, 1], [IDENTITY], params=[float('nan'), 0.0])
    s['linear-softmax'] = snap(LINEAR, [3, 2], [SOFTMAX_ACT])
    return s


# ---- IDX: first byte = length of the labels file, then labels, then images ----
IDX_U8, IDX_F32 = 0x08, 0x0D
FASHION = os.environ.get('FASHION_MNIST_DIR', '/usr/share/datasets/fashion-mnist')


def idx(type_, dims, data=None, zero=b'\0\0'):
    head = zero + bytes([type_, len(dims)]) + b''.join(struct.pack('>I', d) for d in dims)
    if data is None:
        n = 1
        for d in dims:
            n *= d
        if type_ == IDX_F32:
            data = b''.join(struct.pack('>f', (k % 11) / 4.0 - 1.0) for k in range(n))
        else:
            data = bytes((k * 29) & 0xFF for k in range(n))
    return head + data


def idx_pair(labels, images):
    assert len(labels) <= 255
    return bytes([len(labels)]) + labels + images


def idx_seeds():
    s = {}
    labels3 = idx(IDX_U8, [3], b'\x00\x09\x04')
    s['u8-pair'] = idx_pair(labels3, idx(IDX_U8, [3, 2, 2]))
    s['f32-pair'] = idx_pair(labels3, idx(IDX_F32, [3, 2, 2]))
    s['u8-28x28'] = idx_pair(labels3, idx(IDX_U8, [3, 28, 28]))
    s['f32-flat'] = idx_pair(labels3, idx(IDX_F32, [3, 5]))
    s['f32-nan'] = idx_pair(labels3, idx(IDX_F32, [3, 1], struct.pack('>fff', 1.0, float('nan'), 2.0)))
    s['f32-inf'] = idx_pair(labels3, idx(IDX_F32, [3, 1], struct.pack('>fff', float('-inf'), 0.0, 2.0)))
    # n_dims: 0, the limit and one past it
    s['dims-0'] = idx_pair(labels3, idx(IDX_U8, [], b''))
    s['dims-max'] = idx_pair(labels3, idx(IDX_U8, [3, 2, 2, 2]))
    s['dims-max+1'] = idx_pair(labels3, idx(IDX_U8, [3, 2, 2, 2, 2]))
    # sizes: 0, the largest u32, products that overflow
    s['size-0'] = idx_pair(labels3, idx(IDX_U8, [3, 0, 2], b''))
    s['count-0'] = idx_pair(idx(IDX_U8, [0], b''), idx(IDX_U8, [0, 2, 2], b''))
    s['count-max'] = idx_pair(idx(IDX_U8, [0xFFFFFFFF], b'\x01'), idx(IDX_U8, [0xFFFFFFFF, 28, 28], bytes(784)))
    s['size-max'] = idx_pair(labels3, idx(IDX_U8, [3, 0xFFFFFFFF], bytes(16)))
    s['overflow'] = idx_pair(labels3, idx(IDX_F32, [0xFFFFFFFF] * 4, bytes(16)))
    # pairing faults
    s['count-mismatch'] = idx_pair(idx(IDX_U8, [2], b'\x01\x02'), idx(IDX_U8, [3, 2, 2]))
    s['labels-2d'] = idx_pair(idx(IDX_U8, [3, 1], b'\x01\x02\x03'), idx(IDX_U8, [3, 2, 2]))
    s['labels-f32'] = idx_pair(idx(IDX_F32, [3]), idx(IDX_U8, [3, 2, 2]))
    s['labels-empty'] = idx_pair(b'', idx(IDX_U8, [3, 2, 2]))
    s['images-empty'] = idx_pair(labels3, b'')
    # header faults
    for t in (0x09, 0x0B, 0x0C, 0x0E, 0x00):
        s[f'type-{t:02x}'] = idx_pair(labels3, idx(t, [3, 2, 2], bytes(12)))
    s['magic'] = idx_pair(labels3, idx(IDX_U8, [3, 2, 2], zero=b'\x01\x00'))
    s['header-short'] = idx_pair(labels3, idx(IDX_U8, [3, 2, 2])[:11])
    s['magic-short'] = idx_pair(labels3, b'\0\0\x08')
    s['truncated'] = idx_pair(labels3, idx(IDX_U8, [3, 2, 2])[:-1])
    s['trailing'] = idx_pair(labels3 + b'\0', idx(IDX_U8, [3, 2, 2]) + b'\0')
    # the real thing: the first records of Fashion-MNIST's test set
    try:
        with gzip.open(os.path.join(FASHION, 't10k-images-idx3-ubyte.gz')) as f:
            images = f.read(16 + 2 * 784)
        with gzip.open(os.path.join(FASHION, 't10k-labels-idx1-ubyte.gz')) as f:
            labels = f.read(8 + 2)
        s['fashion-t10k-head'] = idx_pair(labels, images)
        n = struct.pack('>I', 2)
        s['fashion-2-records'] = idx_pair(labels[:4] + n + labels[8:], images[:4] + n + images[8:])
    except OSError:
        pass
    return s


# ---- checkpoints ----
SEC_MODEL, SEC_OPTIM, SEC_COUNTERS, SEC_RNG, SEC_SOURCES, SEC_CONFIG = 1, 2, 3, 4, 5, 6


def ckpt(sections, n=None, magic=b'MBCK', version=1, reserved=b'\0\0\0', pad=0,
         section_crc=None, file_crc=None, lengths=None, trailer=True):
    """sections: (id, payload) pairs; lengths and section_crc override the announced values."""
    out = magic + bytes([version]) + reserved + struct.pack('<I', len(sections) if n is None else n)
    for i, (sid, data) in enumerate(sections):
        plen = len(data) if lengths is None or lengths[i] is None else lengths[i]
        crc = crc32c(data) if section_crc is None else section_crc
        out += struct.pack('<IIQ', sid, crc, plen) + data + bytes([pad]) * ((-len(data)) % 8)
    if trailer:
        out += struct.pack('<I', crc32c(out) if file_crc is None else file_crc)
    return out


def checkpoint_seeds():
    s = {}
    model = snap(MLP, [4, 6, 3], [RELU, SOFTMAX_ACT])
    full = [
        (SEC_MODEL, model),
        (SEC_OPTIM, struct.pack('<I', 2) + bytes(4 * 45)),
        (SEC_COUNTERS, struct.pack('<QQQ', 1000, 20, 3)),
        (SEC_RNG, struct.pack('<QQ', 0x853C49E6748FEA9B, 0xDA3E39CB94B95BDB)),
        (SEC_SOURCES, b'/var/lib/minibatchd/train.csv\0' + struct.pack('<Q', 4096)),
        (SEC_CONFIG, b'model = softmax\nbatch = 64\nrate = 0.05\n'),
    ]
    s['all-sections'] = ckpt(full)
    s['model-only'] = ckpt([(SEC_MODEL, snap(LINEAR, [3, 1], [IDENTITY]))])
    s['model-bad-snapshot'] = ckpt([(SEC_MODEL, snap(LINEAR, [3, 1], [IDENTITY], crc=1))])
    s['model-truncated-snapshot'] = ckpt([(SEC_MODEL, model[:-4])])
    # payload lengths around the 8-byte padding
    for k in (0, 1, 7, 8, 9):
        s[f'payload-{k}'] = ckpt([(SEC_CONFIG, b'x' * k)])
    # n_sections: 0, the limit, one past it
    s['sections-0'] = ckpt([])
    s['sections-max'] = ckpt([(100 + i, bytes([i])) for i in range(MAX_SECTIONS)])
    s['sections-max+1'] = ckpt([(100 + i, bytes([i])) for i in range(MAX_SECTIONS + 1)])
    s['sections-more-than-present'] = ckpt([(SEC_CONFIG, b'abc')], n=2)
    s['sections-all-ones'] = ckpt([(SEC_CONFIG, b'abc')], n=0xFFFFFFFF)
    # section length: one past what is left, the largest u64
    s['length-left+1'] = ckpt([(SEC_CONFIG, b'abcdefgh')], lengths=[13])
    s['length-max'] = ckpt([(SEC_CONFIG, b'abcdefgh')], lengths=[0xFFFFFFFFFFFFFFFF])
    s['length-into-padding'] = ckpt([(SEC_CONFIG, b'abc')], lengths=[6])
    # ids: unknown, zero, twice
    s['id-unknown'] = ckpt([(SEC_MODEL, model), (0xFFFFFFFF, b'future')])
    s['id-0'] = ckpt([(0, b'zero')])
    s['id-twice'] = ckpt([(SEC_CONFIG, b'a = 1\n'), (SEC_CONFIG, b'a = 2\n')])
    # faults
    good = ckpt(full[1:3])
    s['empty'] = b''
    s['header-only'] = good[:12]
    s['header-short'] = good[:11]
    s['section-header-short'] = good[:12 + 15]
    s['no-trailer'] = ckpt(full[1:3], trailer=False)
    s['trailer-short'] = good[:-1]
    s['trailing'] = good + b'\0'
    s['magic'] = ckpt(full[1:3], magic=b'MBSN')
    s['version-0'] = ckpt(full[1:3], version=0)
    s['version-2'] = ckpt(full[1:3], version=2)
    s['reserved'] = ckpt(full[1:3], reserved=b'\0\1\0')
    s['padding-nonzero'] = ckpt([(SEC_CONFIG, b'abc')], pad=0xFF)
    s['section-crc'] = ckpt(full[1:3], section_crc=0)
    s['file-crc'] = ckpt(full[1:3], file_crc=0)
    return s


# ---- gzip ----
def gz(data, **kw):
    return gzip.compress(data, mtime=0, **kw)


def gzip_seeds():
    s = {}
    text = b'1,0.5,2,3\n' * 20
    s['plain'] = text
    s['plain-empty'] = b''
    s['plain-max'] = bytes(GZIP_MAX_OUT)
    s['plain-max+1'] = bytes(GZIP_MAX_OUT + 1)
    s['gzip'] = gz(text)
    s['gzip-empty'] = gz(b'')
    s['gzip-stored'] = gz(text, compresslevel=0)
    s['gzip-max'] = gz(bytes(GZIP_MAX_OUT))
    s['gzip-max+1'] = gz(bytes(GZIP_MAX_OUT + 1))
    s['gzip-bomb'] = gz(bytes(256 * GZIP_MAX_OUT))
    s['two-members'] = gz(text[:50]) + gz(text[50:])
    s['member-then-garbage'] = gz(text) + b'junk'
    g = gz(text)
    s['truncated'] = g[:-5]
    s['bad-crc'] = g[:-8] + bytes(4) + g[-4:]
    s['bad-size'] = g[:-4] + struct.pack('<I', 12345)
    s['magic-only'] = b'\x1f\x8b'
    s['header-only'] = g[:10]
    s['method-7'] = g[:2] + b'\x07' + g[3:]
    # optional header fields: FEXTRA, FNAME, FCOMMENT, FHCRC
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = body.compress(text) + body.flush()
    trailer = struct.pack('<II', zlib.crc32(text), len(text))
    head = b'\x1f\x8b\x08\x1e' + bytes(4) + b'\x00\x03'
    extra = struct.pack('<H', 4) + b'ab\x00\x00'
    names = b'train.csv\x00' + b'a comment\x00'
    hcrc = struct.pack('<H', zlib.crc32(head + extra + names) & 0xFFFF)
    s['header-fields'] = head + extra + names + hcrc + raw + trailer
    s['zlib-not-gzip'] = zlib.compress(text)
    # a real file as gzip wrote it: Fashion-MNIST's test labels
    try:
        with open(os.path.join(FASHION, 't10k-labels-idx1-ubyte.gz'), 'rb') as f:
            s['fashion-t10k-labels'] = f.read()
    except OSError:
        pass
    return s

# ---- control requests (daemon/control_parse.h) ----
CONTROL_COMMANDS = ['status', 'stats', 'snapshot', 'pause', 'resume', 'reload', 'save', 'reset']


def control_seeds():
    s = {}
    for c in CONTROL_COMMANDS:
        s[c] = c.encode()
        s[c + '-lf'] = c.encode() + b'\n'
        s[c + '-crlf'] = c.encode() + b'\r\n'
        s[c + '-argument'] = c.encode() + b' now'
    s['empty'] = b''
    s['lf-only'] = b'\n'
    s['space-first'] = b' status'
    s['space-after'] = b'status '
    s['upper-case'] = b'STATUS'
    s['prefix'] = b'stat'
    s['longer-word'] = b'statuses'
    s['unknown'] = b'frobnicate'
    s['nul-inside'] = b'sta\0tus'
    s['tab-inside'] = b'status\tnow'
    s['high-byte'] = b'status\xff'
    s['cr-inside'] = b'sta\rtus'
    s['reload-override'] = b'reload -o optimizer.lr=0.1'
    pad = MAX_CONTROL_BYTES - len('status ')
    s['length-0'] = b''
    s['length-max'] = b'status ' + b'x' * pad
    s['length-max+1'] = b'status ' + b'x' * (pad + 1)
    s['length-max-lf'] = b'x' * (MAX_CONTROL_BYTES - 1) + b'\n'
    s['length-max+1-lf'] = b'status' + b'\n' * (MAX_CONTROL_BYTES - len('status') + 1)
    return s


# ---- configuration files (daemon/config.c, daemon/config_keys.c) ----
def config_keys():
    """The key table, read from daemon/config_keys.c so the seeds follow it."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, '..', '..', 'daemon', 'config_keys.c')
    with open(path) as f:
        text = f.read()
    consts = {'MB_MAX_FEATURES': MAX_FEATURES, 'MB_MAX_TARGETS': MAX_TARGETS,
              'MB_MAX_CLASSES': MAX_CLASSES, 'MB_MAX_MSG_BYTES': MAX_MSG_BYTES,
              'U32_MAX_D': 2**32 - 1, 'U64_MAX_D': 2**64 - 1}
    row = re.compile(r'\{"(\w+)", "(\w+)", (NULL|"\w+"), MB_CFG_(\w+), (NULL|"[^"]*"), '
                     r'([\w.+-]+), ([\w.+-]+), (NULL|"[^"]*"),')
    keys = []
    for m in row.finditer(text):
        section, name, stype, typ, default, lo, hi, choices = m.groups()
        num = lambda v: consts[v] if v in consts else float(v)
        keys.append({'section': section, 'name': name,
                     'stype': None if stype == 'NULL' else stype.strip('"'),
                     'type': typ, 'default': None if default == 'NULL' else default.strip('"'),
                     'min': num(lo), 'max': num(hi),
                     'choices': None if choices == 'NULL' else choices.strip('"').split('|')})
    if len(keys) < 40:
        sys.exit('make-seeds.py: cannot read the key table of daemon/config_keys.c')
    return keys


def ini(sections):
    """An INI text of [(section, [(key, value), ...]), ...]."""
    out = []
    for name, kvs in sections:
        out.append(f'[{name}]')
        out.extend(f'{k} = {v}' for k, v in kvs)
        out.append('')
    return '\n'.join(out).encode()


def number(x):
    return str(int(x)) if float(x).is_integer() and abs(x) < 2**64 else repr(float(x))


def config_seeds():
    keys = config_keys()
    zmq_src = ('source.in', [('type', 'zmq'), ('endpoint', 'ipc://in')])
    file_src = ('source.files', [('type', 'file'), ('path', '/tmp/a.idx,/tmp/b.csv'),
                                 ('format', 'idx'), ('labels', '/tmp/labels.idx')])
    s = {}
    s['empty'] = b''
    s['comments'] = b'# a comment\n; another\n\n   \n'
    s['one-source'] = ini([zmq_src])
    s['file-source'] = ini([file_src])
    # every global key at its default, written out
    groups = {}
    for k in keys:
        if k['section'] != 'source' and k['default'] is not None:
            groups.setdefault(k['section'], []).append((k['name'], k['default'] or '""'))
    s['defaults'] = ini(list(groups.items()) + [zmq_src, file_src])
    # each numeric key at 0, min, max and max+1; each enum at every word and a wrong one
    for k in keys:
        sect = k['section']
        if sect == 'source':
            base = zmq_src if k['stype'] in (None, 'zmq') else file_src
            sect = base[0]
            wrap = lambda kv, base=base: ini([(base[0], [p for p in base[1] if p[0] != kv[0]] + [kv])])
        else:
            wrap = lambda kv, sect=sect: ini([(sect, [kv])])
        tag = f'{k["section"]}.{k["name"]}'
        if k['type'] in ('U32', 'U64', 'DOUBLE'):
            for label, v in (('0', 0), ('min', k['min']), ('max', k['max'])):
                s[f'{tag}-{label}'] = wrap((k['name'], number(v)))
            over = k['max'] + 1 if k['type'] != 'DOUBLE' else k['max'] * 2 or 1
            s[f'{tag}-max+1'] = wrap((k['name'], number(over)))
            if k['min'] > 0:
                under = k['min'] - 1 if k['type'] != 'DOUBLE' else k['min'] / 2
                s[f'{tag}-min-1'] = wrap((k['name'], number(under)))
        elif k['type'] == 'ENUM':
            for word in k['choices']:
                s[f'{tag}-{word}'] = wrap((k['name'], word))
            s[f'{tag}-wrong'] = wrap((k['name'], 'wrong'))
        elif k['type'] == 'BOOL':
            for word in ('true', 'off', 'YES', 'maybe'):
                s[f'{tag}-{word}'] = wrap((k['name'], word))
        else:
            s[f'{tag}-empty'] = wrap((k['name'], '""'))
            s[f'{tag}-quoted'] = wrap((k['name'], '" spaced value "'))
    # lengths and counts: a value of CFG_VALUE_BYTES - 1 and CFG_VALUE_BYTES,
    # source names of 63 and 64 bytes, MAX_SOURCES and one more sources,
    # MB_MAX_LAYERS - 1 and MB_MAX_LAYERS hidden layers
    s['value-max'] = ini([('model', [('name', 'v' * (CFG_VALUE_BYTES - 1))])])
    s['value-max+1'] = ini([('model', [('name', 'v' * CFG_VALUE_BYTES)])])
    for label, n in (('max', CFG_NAME_BYTES - 1), ('max+1', CFG_NAME_BYTES)):
        s[f'source-name-{label}'] = ini([('source.' + 'n' * n, zmq_src[1])])
    for label, n in (('max', MAX_SOURCES), ('max+1', MAX_SOURCES + 1)):
        s[f'sources-{label}'] = ini([(f'source.s{i}', [('type', 'zmq'), ('endpoint', f'ipc://s{i}')])
                                     for i in range(n)])
    for label, n in (('0', 0), ('max', MAX_LAYERS - 1), ('max+1', MAX_LAYERS)):
        s[f'hidden-{label}'] = ini([('model', [('kind', 'mlp'), ('hidden', ','.join(['8'] * n))])])
    s['hidden-width-max+1'] = ini([('model', [('kind', 'mlp'), ('hidden', str(MAX_FEATURES + 1))])])
    # the usual faults of an INI file
    s['set-twice'] = b'[batch]\nsize = 1\nsize = 2\n'
    s['key-outside-section'] = b'size = 1\n[batch]\n'
    s['unknown-section'] = b'[nosuch]\nkey = 1\n'
    s['unknown-key'] = b'[batch]\nnosuch = 1\n'
    s['header-junk'] = b'[batch] junk\n'
    s['no-equals'] = b'[batch]\nsize\n'
    s['empty-key'] = b'[batch]\n = 1\n'
    s['nul-byte'] = b'[batch]\nsize = 1\0\n'
    s['crlf'] = b'[batch]\r\nsize = 32\r\n'
    s['no-final-newline'] = b'[batch]\nsize = 32'
    s['source-without-type'] = b'[source.x]\nendpoint = ipc://x\n'
    s['source-key-of-other-type'] = b'[source.x]\ntype = zmq\nendpoint = ipc://x\npath = /tmp/x\n'
    s['source-without-endpoint'] = b'[source.x]\ntype = zmq\n'
    s['metrics-ipv6'] = b'[metrics]\nlisten = [::1]:0\n'
    s['metrics-bad'] = b'[metrics]\nlisten = nowhere\n'
    # values mb_config_print once wrote ambiguously: in quotes of their own, and with a line break
    s['value-in-quotes-quoted'] = b'[model]\nname = ""x""\n'
    s['override-line-break'] = b'\0model.name=a\nb'
    # after the file and a NUL byte, -o overrides, NUL-separated
    s['overrides'] = ini([zmq_src]) + b'\0optimizer.lr=0.1\0source.in.rcvhwm=10\0batch.size=128'
    s['override-no-equals'] = b'\0batch.size'
    s['override-unknown'] = b'\0nosuch.key=1'
    s['override-source'] = b'\0source.o.type=file\0source.o.path=/tmp/x'
    s['override-long-key'] = b'\0' + b'k' * 300 + b'=1'
    return s


SEEDS = {
    'sample_bin': sample_bin_seeds,
    'sample_text': sample_text_seeds,
    'idx': idx_seeds,
    'snapshot': snapshot_seeds,
    'gzip': gzip_seeds,
    'checkpoint': checkpoint_seeds,
    'control': control_seeds,
    'config': config_seeds,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'corpus')
    for target, make in SEEDS.items():
        d = os.path.join(out, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in make().items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)
        print(f'{target}: {len(os.listdir(d))} seeds')


if __name__ == '__main__':
    main()
