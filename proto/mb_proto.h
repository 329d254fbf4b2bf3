/* SPDX-License-Identifier: MIT */
/*
 * mb_proto.h - constants of the minibatchd wire and file formats.
 *
 * proto/minibatch-proto.md is the authority; this header restates its
 * numbers for C. Every multi-byte integer and float on the wire is
 * little-endian (IDX files excepted: that format is big-endian by its own
 * definition). Offsets are from the start of the message or file.
 */
#ifndef MB_PROTO_H
#define MB_PROTO_H

#include <stdint.h>

/* ---- Limits: every size a peer or a file controls has one. ---- */
#define MB_MAX_FEATURES       (1u << 24)  /* features per sample */
#define MB_MAX_TARGETS        4096u       /* target values per sample */
#define MB_MAX_CLASSES        4096u       /* classes of a softmax output */
#define MB_MAX_SAMPLES_PER_MSG 65536u     /* samples in one binary message */
#define MB_MAX_MSG_BYTES      (64u << 20) /* one message (sample or snapshot) */
#define MB_MAX_LINE_BYTES     (1u << 20)  /* one CSV or libsvm line */
#define MB_MAX_LAYERS         16u         /* weight layers of a model */
#define MB_MAX_TOPIC_BYTES    255u        /* a snapshot topic (model name) */
#define MB_MAX_CONTROL_BYTES  4096u       /* one control request */
#define MB_MAX_SECTIONS       64u         /* sections of a checkpoint */

/* ---- Sample message, binary (one ZeroMQ frame, or a record in a file) ----
 *
 *  off size field
 *    0   4  magic "MBSM"
 *    4   1  version (1)
 *    5   1  flags (enum mb_smp_flag); unknown bits are refused
 *    6   1  element type of the features (enum mb_elem)
 *    7   1  reserved, 0
 *    8   4  count: samples in this message, 1..MB_MAX_SAMPLES_PER_MSG
 *   12   4  n_features, 1..MB_MAX_FEATURES
 *   16   4  n_targets, 0..MB_MAX_TARGETS
 *   20   4  scale  (float32): feature = stored * scale + offset
 *   24   4  offset (float32); for float32 elements scale is 1 and offset 0
 *   28   4  reserved, 0
 *   32      count rows, each: [weight f32 if MB_SMP_F_WEIGHTS]
 *           n_targets x f32, n_features x element
 * The message ends exactly after the last row.
 */
#define MB_SMP_MAGIC          "MBSM"
#define MB_SMP_VERSION        1u
#define MB_SMP_HEADER_BYTES   32u

enum mb_smp_flag {
	MB_SMP_F_WEIGHTS = 1u << 0, /* each row starts with a float32 sample weight */
	MB_SMP_F_SPARSE  = 1u << 1, /* reserved for binary sparse rows; refused in version 1 */
};
#define MB_SMP_F_KNOWN        (MB_SMP_F_WEIGHTS)

enum mb_elem {
	MB_ELEM_F32 = 1, /* IEEE 754 binary32 */
	MB_ELEM_F16 = 2, /* IEEE 754 binary16, then scale and offset */
	MB_ELEM_U8  = 3, /* unsigned byte, then scale and offset */
};

/* ---- Snapshot message (PUB socket): two frames ----
 * Frame 1: the topic, the model's name (1..MB_MAX_TOPIC_BYTES bytes).
 * Frame 2:
 *  off size field
 *    0   4  magic "MBSN"
 *    4   1  version (1)
 *    5   1  model kind (enum mb_model_kind)
 *    6   1  n_layers: weight layers, 1..MB_MAX_LAYERS
 *    7   1  flags, 0
 *    8   8  model version: +1 per optimizer step, monotonic
 *   16   8  samples seen (trained)
 *   24   8  batches seen (optimizer steps taken)
 *   32   4  recent cost (float32): moving average of the progressive cost
 *   36   4  n_params
 *   40   8  timestamp, nanoseconds since the Unix epoch
 *   48   4  CRC32C of the parameter bytes
 *   52   4  reserved, 0
 *   56      (n_layers + 1) x u32 layer sizes: input, hidden..., output
 *           n_layers x u8 activation of each layer's output (enum mb_act),
 *           zero-padded to a multiple of 4 bytes
 *           n_params x f32 parameters: for each layer l in order,
 *           W_l (sizes[l+1] rows x sizes[l] columns, row-major), then b_l.
 */
#define MB_SNAP_MAGIC         "MBSN"
#define MB_SNAP_VERSION       1u
#define MB_SNAP_HEADER_BYTES  56u

enum mb_model_kind {
	MB_MODEL_LINEAR   = 1, /* linear regression, squared error */
	MB_MODEL_LOGISTIC = 2, /* logistic regression, binary cross-entropy */
	MB_MODEL_SOFTMAX  = 3, /* softmax regression, multi-class cross-entropy */
	MB_MODEL_MLP      = 4, /* hidden layers, then one of the three above */
};

enum mb_act {
	MB_ACT_IDENTITY = 0,
	MB_ACT_RELU     = 1,
	MB_ACT_TANH     = 2,
	MB_ACT_SIGMOID  = 3,
	MB_ACT_SOFTMAX  = 4,
};

/* ---- Checkpoint file ----
 *  off size field
 *    0   4  magic "MBCK"
 *    4   1  version (1)
 *    5   3  reserved, 0
 *    8   4  n_sections, 1..MB_MAX_SECTIONS
 *   12      sections, each: u32 id (enum mb_ckpt_section_id), u32 CRC32C of
 *           the payload, u64 payload length, payload, zero-padded to 8 bytes
 *   end-4 4 CRC32C of every byte before it
 */
#define MB_CKPT_MAGIC         "MBCK"
#define MB_CKPT_VERSION       1u
#define MB_CKPT_HEADER_BYTES  12u
#define MB_CKPT_SECTION_HEADER_BYTES 16u

enum mb_ckpt_section_id {
	MB_CKPT_SEC_MODEL    = 1, /* a snapshot body (frame 2 above) */
	MB_CKPT_SEC_OPTIM    = 2, /* optimizer state (lib/optim.h) */
	MB_CKPT_SEC_COUNTERS = 3, /* daemon counters */
	MB_CKPT_SEC_RNG      = 4, /* random generator states */
	MB_CKPT_SEC_SOURCES  = 5, /* file source positions */
	MB_CKPT_SEC_CONFIG   = 6, /* the effective configuration, as text */
};

/* ---- IDX (MNIST, Fashion-MNIST): big-endian by definition ----
 * u16 zero, u8 type (0x08 unsigned byte ... 0x0D float32), u8 dims,
 * dims x u32 sizes, then the data. Images (3 dims) and labels (1 dim)
 * are read as one source; bytes are scaled by 1/255.
 */
#define MB_IDX_TYPE_U8        0x08u
#define MB_IDX_TYPE_F32       0x0Du
#define MB_IDX_MAX_DIMS       4u

/* ---- Control (REQ/REP): one frame each way ----
 * Request: an ASCII command word, optionally a space and an argument,
 * at most MB_MAX_CONTROL_BYTES. Reply: a JSON object with "ok": true and
 * the figures, or "ok": false and "error": a sentence.
 */
#define MB_CTL_STATUS   "status"
#define MB_CTL_STATS    "stats"
#define MB_CTL_SAVE     "save"
#define MB_CTL_SNAPSHOT "snapshot"
#define MB_CTL_RELOAD   "reload"
#define MB_CTL_PAUSE    "pause"
#define MB_CTL_RESUME   "resume"
#define MB_CTL_RESET    "reset"

#endif /* MB_PROTO_H */
