/* SPDX-License-Identifier: MIT */
/*
 * file_ingest.c - how fast the file source's reader pulls a file in.
 *
 * Reads one large file three ways with the same block size and prints the
 * throughput of each: (a) a plain read(2) loop, (b) daemon/file_reader.c
 * on io_uring with registered buffers and several reads in flight, (c) the
 * same with an SQPOLL kernel thread. Without a FILE argument it inflates
 * the Fashion-MNIST training images once and writes them repeatedly into a
 * temporary file of --mib MiB (default 1024), removed at the end.
 *
 *	bench/file_ingest [--mib N] [--block-kib N] [--depth N] [--runs N]
 *	                  [--cold] [--syscalls] [--only read|uring|sqpoll] [FILE]
 *
 * Every run after the first reads from the page cache: the figures are the
 * reader's own cost, not the disk's. --cold drops the file's pages from the
 * cache (posix_fadvise DONTNEED) before each pass, so each pass reads the
 * disk, which is where several reads in flight pay off. --syscalls runs each way once more
 * under `perf stat -e raw_syscalls:sys_enter` (or `strace -c -f` when perf
 * is missing) and prints the system calls each made; by hand:
 *	perf stat -e raw_syscalls:sys_enter bench/file_ingest --only uring FILE
 *	strace -c -f bench/file_ingest --only read FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "file_reader.h"

#define DEFAULT_FASHION "/usr/share/datasets/fashion-mnist"

enum mode { MODE_READ, MODE_URING, MODE_SQPOLL, MODE_N };
static const char *const mode_name[MODE_N] = {"read", "uring", "sqpoll"};

/* What the command line asked for. */
struct opts {
	unsigned mib;        /* size of the generated file */
	unsigned block_kib;  /* bytes per read */
	unsigned depth;      /* reads in flight for io_uring */
	unsigned runs;       /* best of this many */
	int only;            /* one mode (for perf/strace), or -1 for all */
	int syscalls;        /* count system calls of each mode */
	int cold;            /* drop the file from the page cache before each pass */
	const char *file;    /* given file, or NULL to generate one */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Inflate the training images once and write them out until the file has mib MiB. */
static int make_file(const char *path, unsigned mib)
{
	const char *dir = getenv("FASHION_MNIST_DIR");
	char src[4096];
	snprintf(src, sizeof src, "%s/train-images-idx3-ubyte.gz", dir && *dir ? dir : DEFAULT_FASHION);
	gzFile gz = gzopen(src, "rb");
	if (!gz) {
		fprintf(stderr, "cannot open %s (or give a FILE)\n", src);
		return -1;
	}
	size_t cap = 64u << 20, len = 0;
	unsigned char *buf = malloc(cap);
	int got;
	while (buf && (got = gzread(gz, buf + len, (unsigned)(cap - len))) > 0)
		len += (size_t)got;
	gzclose(gz);
	if (!buf || !len) {
		free(buf);
		fprintf(stderr, "cannot inflate %s\n", src);
		return -1;
	}
	FILE *f = fopen(path, "wb");
	if (!f) {
		free(buf);
		return -1;
	}
	for (unsigned long long done = 0; done < (unsigned long long)mib << 20; done += len)
		if (fwrite(buf, 1, len, f) != len)
			break;
	free(buf);
	/* Clean pages, so --cold can drop them from the cache. */
	if (fflush(f) || fsync(fileno(f))) {
		fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}

/* One pass of mode over path; bytes read, or -1. */
static long long one_pass(const struct opts *o, enum mode m, const char *path)
{
	size_t block = (size_t)o->block_kib << 10;
	long long total = 0;
	unsigned sink = 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (o->cold)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (m == MODE_READ) {
		unsigned char *buf = malloc(block);
		ssize_t n;
		while (buf && (n = read(fd, buf, block)) > 0) {
			sink += buf[0];
			total += n;
		}
		free(buf);
	} else {
		struct mb_file_reader_cfg rc = {.queue_depth = o->depth, .block_bytes = block,
						.sqpoll = m == MODE_SQPOLL};
		struct mb_file_reader *r;
		const uint8_t *p;
		long n;
		if (mb_file_reader_new(&rc, &r) < 0 || mb_file_reader_start(r, fd, 0) < 0) {
			close(fd);
			return -1;
		}
		if (!mb_file_reader_uses_uring(r) || (m == MODE_SQPOLL && (mb_file_reader_notes(r, NULL) &
									  MB_FILE_READER_NO_SQPOLL)))
			fprintf(stderr, "note: %s fell back (notes 0x%x)\n", mode_name[m], mb_file_reader_notes(r, NULL));
		while ((n = mb_file_reader_next(r, &p)) > 0) {
			sink += p[0];
			total += n;
		}
		mb_file_reader_free(r);
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", mode_name[m], strerror((int)-n));
			total = -1;
		}
	}
	close(fd);
	/* Keep the compiler from dropping the touch of each block. */
	if (sink == 0xdeadbeef)
		fputc(' ', stderr);
	return total;
}

/* Run the bench binary itself under perf (or strace) for one mode; the count, or -1. */
static long long count_syscalls(const struct opts *o, enum mode m, const char *path)
{
	char tmp[] = "/tmp/mb-syscalls-XXXXXX";
	int fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	close(fd);
	char cmd[8192];
	long long count = -1;
	const char *self = "/proc/self/exe";
	char exe[4096];
	ssize_t n = readlink(self, exe, sizeof exe - 1);
	if (n <= 0)
		goto out_unlink;
	exe[n] = 0;
	snprintf(cmd, sizeof cmd,
		 "perf stat -x, -o '%s' -e raw_syscalls:sys_enter -- '%s' --only %s --block-kib %u --depth %u "
		 "--runs 1 '%s' >/dev/null 2>&1",
		 tmp, exe, mode_name[m], o->block_kib, o->depth, path);
	if (system(cmd) == 0) {
		FILE *f = fopen(tmp, "r");
		char line[512];
		while (f && fgets(line, sizeof line, f))
			if (strstr(line, "raw_syscalls:sys_enter"))
				count = strtoll(line, NULL, 10);
		if (f)
			fclose(f);
		if (count >= 0)
			goto out_unlink;
	}
	snprintf(cmd, sizeof cmd,
		 "strace -f -c -o '%s' '%s' --only %s --block-kib %u --depth %u --runs 1 '%s' >/dev/null 2>&1", tmp,
		 exe, mode_name[m], o->block_kib, o->depth, path);
	if (system(cmd) == 0) {
		FILE *f = fopen(tmp, "r");
		char line[512];
		while (f && fgets(line, sizeof line, f))
			if (strstr(line, "total")) {
				/* "100.00 secs usecs/call calls errors total": calls is the fourth column. */
				double pct, secs;
				long long usec, calls;
				if (sscanf(line, "%lf %lf %lld %lld", &pct, &secs, &usec, &calls) == 4)
					count = calls;
			}
		if (f)
			fclose(f);
	}
out_unlink:
	unlink(tmp);
	return count;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.mib = 1024, .block_kib = 256, .depth = 8, .runs = 3, .only = -1};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--syscalls")) {
			o->syscalls = 1;
		} else if (!strcmp(a, "--cold")) {
			o->cold = 1;
		} else if (!strcmp(a, "--only") && v) {
			for (int m = 0; m < MODE_N; m++)
				if (!strcmp(v, mode_name[m]))
					o->only = m;
			if (o->only < 0)
				return -1;
			i++;
		} else if ((!strcmp(a, "--mib") || !strcmp(a, "--block-kib") || !strcmp(a, "--depth") ||
			    !strcmp(a, "--runs")) && v) {
			unsigned long n = strtoul(v, NULL, 10);
			if (!n || n > 1u << 20)
				return -1;
			if (!strcmp(a, "--mib"))
				o->mib = (unsigned)n;
			else if (!strcmp(a, "--block-kib"))
				o->block_kib = (unsigned)n;
			else if (!strcmp(a, "--depth"))
				o->depth = (unsigned)n;
			else
				o->runs = (unsigned)n;
			i++;
		} else if (a[0] != '-' && !o->file) {
			o->file = a;
		} else {
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	char dir[] = "/tmp/mb-bench-XXXXXX", path[64];
	const char *file;
	double gbs[MODE_N] = {0};
	int rc = 1;

	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: %s [--mib N] [--block-kib N] [--depth N] [--runs N] [--cold] [--syscalls] "
				"[--only read|uring|sqpoll] [FILE]\n", argv[0]);
		return 2;
	}
	if (o.file) {
		file = o.file;
	} else {
		if (!mkdtemp(dir))
			return 1;
		snprintf(path, sizeof path, "%s/images", dir);
		if (make_file(path, o.mib) < 0)
			goto out_rmdir;
		file = path;
	}
	struct stat st;
	if (stat(file, &st) < 0)
		goto out_unlink;
	if (o.only < 0)
		printf("file %s: %.1f MiB, block %u KiB, io_uring depth %u, best of %u, %s\n", file,
		       (double)st.st_size / (1 << 20), o.block_kib, o.depth, o.runs,
		       o.cold ? "cold (read from disk)" : "warm (page cache)");
	for (int m = 0; m < MODE_N; m++) {
		if (o.only >= 0 && m != o.only)
			continue;
		double best = 0;
		for (unsigned r = 0; r < o.runs; r++) {
			double t0 = now_s();
			long long n = one_pass(&o, (enum mode)m, file);
			double t = now_s() - t0;
			if (n < 0) {
				fprintf(stderr, "%s: read failed\n", mode_name[m]);
				goto out_unlink;
			}
			if (t > 0 && n / t / 1e9 > best)
				best = (double)n / t / 1e9;
		}
		gbs[m] = best;
		if (o.only < 0)
			printf("%-7s %6.2f GB/s\n", mode_name[m], best);
	}
	if (o.only < 0 && gbs[MODE_READ] > 0)
		printf("ratio io_uring/read %.2f, sqpoll/read %.2f\n", gbs[MODE_URING] / gbs[MODE_READ],
		       gbs[MODE_SQPOLL] / gbs[MODE_READ]);
	if (o.syscalls && o.only < 0)
		for (int m = 0; m < MODE_N; m++) {
			long long c = count_syscalls(&o, (enum mode)m, file);
			if (c < 0)
				printf("%-7s system calls: neither perf nor strace could count them\n", mode_name[m]);
			else
				printf("%-7s %lld system calls for one pass (%.1f per MiB)\n", mode_name[m], c,
				       (double)c / ((double)st.st_size / (1 << 20)));
		}
	rc = 0;
out_unlink:
	if (!o.file)
		unlink(path);
out_rmdir:
	if (!o.file)
		rmdir(dir);
	return rc;
}
