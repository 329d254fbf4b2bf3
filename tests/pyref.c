/* SPDX-License-Identifier: MIT */
/*
 * pyref.c - the C library's answers, for the Python client's tests.
 *
 * clients/python/test_minibatch.py runs this program to compare the Python
 * client with libminibatch byte for byte and value for value. Every
 * subcommand reads raw little-endian float32 values (or a snapshot body)
 * on stdin and writes raw bytes on stdout:
 *
 *   pyref samples ELEM WEIGHTED SCALE OFFSET COUNT NF NT
 *       stdin: x (COUNT x NF), y (COUNT x NT), w (COUNT, if WEIGHTED)
 *       stdout: the binary sample message of mb_sample_bin_encode
 *   pyref text csv|libsvm COUNT NF NT
 *       stdin: x, y as above; stdout: the lines of mb_text_encode
 *   pyref snapshot KIND L SIZE_0..SIZE_L ACT_0..ACT_L-1 VERSION SAMPLES BATCHES COST TIME
 *       stdin: the parameters; stdout: the body of mb_snap_encode
 *   pyref check-snapshot
 *       stdin: a snapshot body; stdout: "ok" or mb_snap_decode's reason name
 *   pyref forward BODY_BYTES ROWS
 *       stdin: a snapshot body of BODY_BYTES, then ROWS x n_inputs features;
 *       stdout: ROWS x n_outputs outputs of mb_model_forward
 *   pyref reasons
 *       stdout: the name of each enum mb_reason but MB_R_OK, one a line
 *
 * A failure prints the errno name and a sentence on stderr and exits 3;
 * bad usage exits 2.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "sample.h"
#include "snapshot.h"
#include "wire.h"

/* stdin, read whole. */
struct input {
	uint8_t *data; /* the bytes, malloc'd */
	size_t len;    /* how many */
	size_t pos;    /* how many the subcommand has taken */
};

static void usage(void)
{
	fputs("usage: pyref samples|text|snapshot|check-snapshot|forward|reasons ARGS (see tests/pyref.c)\n",
	      stderr);
	exit(2);
}

/* The symbolic name of the errno values the encoders return. */
static const char *errno_name(int err)
{
	switch (err) {
	case E2BIG: return "E2BIG";
	case EDOM: return "EDOM";
	case EINVAL: return "EINVAL";
	case ENOBUFS: return "ENOBUFS";
	case EBADMSG: return "EBADMSG";
	case ENODATA: return "ENODATA";
	case ENOMEM: return "ENOMEM";
	case ERANGE: return "ERANGE";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	default: return "E?";
	}
}

static void fail(int neg_err, const char *what)
{
	fprintf(stderr, "%s: %s\n", errno_name(-neg_err), what);
	exit(3);
}

static void read_all(struct input *in)
{
	size_t cap = 1 << 16;
	in->data = malloc(cap);
	in->len = in->pos = 0;
	for (;;) {
		if (!in->data)
			fail(-ENOMEM, "reading stdin");
		size_t n = fread(in->data + in->len, 1, cap - in->len, stdin);
		in->len += n;
		if (n == 0)
			break;
		if (in->len == cap) {
			cap *= 2;
			uint8_t *grown = realloc(in->data, cap);
			if (!grown)
				free(in->data);
			in->data = grown;
		}
	}
}

/* The next n float32 values of stdin, copied to a new array (NULL for 0). */
static float *take_floats(struct input *in, size_t n)
{
	if (n == 0)
		return NULL;
	if ((in->len - in->pos) / 4 < n)
		fail(-EINVAL, "stdin holds fewer values than the arguments announce");
	float *v = malloc(n * sizeof *v);
	if (!v)
		fail(-ENOMEM, "taking values");
	for (size_t i = 0; i < n; i++)
		v[i] = mb_lef32(in->data + in->pos + 4 * i);
	in->pos += 4 * n;
	return v;
}

static unsigned long long arg_u64(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		usage();
	return v;
}

static uint32_t arg_u32(const char *s)
{
	unsigned long long v = arg_u64(s);
	if (v > UINT32_MAX)
		usage();
	return (uint32_t)v;
}

/* A float written with enough digits (%.9g) to come back exactly. */
static float arg_f32(const char *s)
{
	char *end;
	float v = strtof(s, &end);
	if (end == s || *end)
		usage();
	return v;
}

static void write_out(const void *buf, size_t len)
{
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout))
		fail(-EIO, "writing stdout");
}

static int cmd_samples(int argc, char **argv, struct input *in)
{
	if (argc != 9)
		usage();
	struct mb_sample_batch b = {
		.elem = (enum mb_elem)arg_u32(argv[2]),
		.scale = arg_f32(argv[4]),
		.offset = arg_f32(argv[5]),
		.count = arg_u32(argv[6]),
		.n_features = arg_u32(argv[7]),
		.n_targets = arg_u32(argv[8]),
	};
	bool weighted = arg_u32(argv[3]) != 0;
	float *x = take_floats(in, (size_t)b.count * b.n_features);
	float *y = take_floats(in, (size_t)b.count * b.n_targets);
	float *w = weighted ? take_floats(in, b.count) : NULL;
	b.x = x;
	b.y = y;
	b.w = w;
	size_t cap = mb_sample_bin_size(b.count, b.n_features, b.n_targets,
					b.elem >= MB_ELEM_F32 && b.elem <= MB_ELEM_U8 ? b.elem : MB_ELEM_F32,
					weighted);
	void *buf = malloc(cap ? cap : 1);
	if (!buf)
		fail(-ENOMEM, "sizing the message");
	long n = mb_sample_bin_encode(buf, cap, &b);
	if (n < 0)
		fail((int)n, "mb_sample_bin_encode");
	write_out(buf, (size_t)n);
	free(buf);
	free(w);
	free(y);
	free(x);
	return 0;
}

static int cmd_text(int argc, char **argv, struct input *in)
{
	if (argc != 6)
		usage();
	enum mb_text_fmt fmt;
	if (!strcmp(argv[2], "csv"))
		fmt = MB_TEXT_CSV;
	else if (!strcmp(argv[2], "libsvm"))
		fmt = MB_TEXT_LIBSVM;
	else
		usage();
	uint32_t count = arg_u32(argv[3]), nf = arg_u32(argv[4]), nt = arg_u32(argv[5]);
	float *x = take_floats(in, (size_t)count * nf);
	float *y = take_floats(in, (size_t)count * nt);
	/* %.9g takes at most 15 bytes; libsvm adds an index and a colon. */
	size_t cap = 32 * ((size_t)nf + nt) + 16;
	char *line = malloc(cap);
	if (!line)
		fail(-ENOMEM, "sizing a line");
	for (uint32_t i = 0; i < count; i++) {
		long n = mb_text_encode(line, cap, fmt, x + (size_t)i * nf, nf, y ? y + (size_t)i * nt : NULL, nt);
		if (n < 0)
			fail((int)n, "mb_text_encode");
		write_out(line, (size_t)n);
	}
	free(line);
	free(y);
	free(x);
	return 0;
}

static int cmd_snapshot(int argc, char **argv, struct input *in)
{
	if (argc < 4)
		usage();
	struct mb_snap_info info = {.kind = (enum mb_model_kind)arg_u32(argv[2]), .n_layers = arg_u32(argv[3])};
	if (info.n_layers < 1 || info.n_layers > MB_MAX_LAYERS)
		usage();
	int want = 4 + (int)(info.n_layers + 1) + (int)info.n_layers + 5;
	if (argc != want)
		usage();
	int a = 4;
	for (uint32_t l = 0; l <= info.n_layers; l++)
		info.sizes[l] = arg_u32(argv[a++]);
	for (uint32_t l = 0; l < info.n_layers; l++)
		info.act[l] = (enum mb_act)arg_u32(argv[a++]);
	info.version = arg_u64(argv[a++]);
	info.samples = arg_u64(argv[a++]);
	info.batches = arg_u64(argv[a++]);
	info.cost = arg_f32(argv[a++]);
	info.timestamp_ns = arg_u64(argv[a++]);
	size_t n_params = mb_snap_param_count(&info);
	size_t cap = mb_snap_size(&info);
	if (!n_params || !cap)
		fail(-EINVAL, "the shape on the command line");
	float *params = take_floats(in, n_params);
	void *buf = malloc(cap);
	if (!buf)
		fail(-ENOMEM, "sizing the body");
	long n = mb_snap_encode(buf, cap, &info, params);
	if (n < 0)
		fail((int)n, "mb_snap_encode");
	write_out(buf, (size_t)n);
	free(buf);
	free(params);
	return 0;
}

static int cmd_check_snapshot(int argc, struct input *in)
{
	if (argc != 2)
		usage();
	struct mb_snap_info info;
	const uint8_t *params;
	struct mb_diag diag = {0};
	int r = mb_snap_decode(in->data, in->len, &info, &params, &diag);
	printf("%s\n", r == 0 ? "ok" : mb_reason_name(diag.reason));
	return 0;
}

static int cmd_forward(int argc, char **argv, struct input *in)
{
	if (argc != 4)
		usage();
	size_t body_len = (size_t)arg_u64(argv[2]);
	uint32_t rows = arg_u32(argv[3]);
	if (body_len > in->len || rows == 0)
		usage();
	struct mb_snap_info info;
	const uint8_t *params;
	struct mb_diag diag = {0};
	int r = mb_snap_decode(in->data, body_len, &info, &params, &diag);
	if (r < 0)
		fail(r, diag.text);
	struct mb_model *m;
	r = mb_model_from_snap(&info, params, rows, &m);
	if (r < 0)
		fail(r, "mb_model_from_snap");
	in->pos = body_len;
	float *x = take_floats(in, (size_t)rows * info.sizes[0]);
	r = mb_model_forward(m, x, rows);
	if (r < 0)
		fail(r, "mb_model_forward");
	uint32_t n_out = info.sizes[info.n_layers];
	const float *out = mb_model_output(m);
	for (size_t i = 0; i < (size_t)rows * n_out; i++) {
		uint8_t le[4];
		mb_put_lef32(le, out[i]);
		write_out(le, sizeof le);
	}
	free(x);
	mb_model_free(m);
	return 0;
}

static int cmd_reasons(int argc)
{
	if (argc != 2)
		usage();
	for (int r = MB_R_OK + 1; r < MB_R_MAX_; r++)
		printf("%s\n", mb_reason_name((enum mb_reason)r));
	return 0;
}

/* Run one subcommand on stdin; see the top of this file. */
int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "reasons"))
		return cmd_reasons(argc);
	struct input in;
	read_all(&in);
	int r;
	if (!strcmp(argv[1], "samples"))
		r = cmd_samples(argc, argv, &in);
	else if (!strcmp(argv[1], "text"))
		r = cmd_text(argc, argv, &in);
	else if (!strcmp(argv[1], "snapshot"))
		r = cmd_snapshot(argc, argv, &in);
	else if (!strcmp(argv[1], "check-snapshot"))
		r = cmd_check_snapshot(argc, &in);
	else if (!strcmp(argv[1], "forward"))
		r = cmd_forward(argc, argv, &in);
	else
		usage();
	free(in.data);
	return r;
}
