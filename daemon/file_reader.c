/* SPDX-License-Identifier: MIT */
/*
 * file_reader.c - ordered block reads with several in flight.
 *
 * The buffers form a circle of queue_depth slots. Slot h holds the oldest
 * read, the n slots after it the younger ones, each one block further into
 * the file. Completions may arrive in any order; a block is handed out only
 * when every block before it has been, so the caller sees the file in
 * order. A short read means the end of the file as it was when the read
 * ran; the younger reads were issued at offsets that assumed a full block,
 * so they are waited for and thrown away, and reading resumes right after
 * the short block's last byte. That is also what lets a followed file grow
 * between two calls without leaving a hole.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "file_reader.h"

/* How long an idle SQPOLL kernel thread spins before it sleeps, ms. */
#define SQPOLL_IDLE_MS 100u

struct slot {
	uint64_t off; /* file offset the read was issued at */
	int res;      /* its result: bytes, or -errno */
	bool busy;    /* submitted and not yet completed */
	bool done;    /* completed, res is valid */
};

struct mb_file_reader {
	struct mb_file_reader_cfg cfg; /* as given, checked */
	struct io_uring ring;          /* valid when uring is true */
	bool uring;                    /* reads go through the ring */
	bool fixed;                    /* the buffers are registered with the ring */
	unsigned notes;                /* enum mb_file_reader_note bits */
	int uring_err;                 /* why io_uring was refused, when it was */
	uint8_t *mem;                  /* queue_depth blocks, page aligned */
	struct slot *slots;            /* queue_depth of them, one per block of mem */
	unsigned head;                 /* oldest slot in the window */
	unsigned n;                    /* slots in the window, head first */
	unsigned outstanding;          /* reads queued whose completion is not reaped */
	unsigned unsubmitted;          /* reads queued but not yet handed to the kernel */
	bool held;                     /* the caller holds the head slot's data */
	int fd;                        /* file being read, -1 before start */
	uint64_t next_off;             /* offset for the next read to issue */
	uint64_t done_off;             /* offset past the last byte handed out */
};

static uint8_t *slot_buf(struct mb_file_reader *r, unsigned i)
{
	return r->mem + (size_t)i * r->cfg.block_bytes;
}

static int setup_ring(struct mb_file_reader *r)
{
	struct io_uring_params p;
	int ret = -EINVAL;

	if (r->cfg.sqpoll) {
		memset(&p, 0, sizeof p);
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = SQPOLL_IDLE_MS;
		ret = io_uring_queue_init_params(r->cfg.queue_depth, &r->ring, &p);
		if (ret < 0)
			r->notes |= MB_FILE_READER_NO_SQPOLL;
	}
	if (ret < 0) {
		memset(&p, 0, sizeof p);
		ret = io_uring_queue_init_params(r->cfg.queue_depth, &r->ring, &p);
	}
	if (ret < 0)
		return ret;
	r->uring = true;

	struct iovec *iov = calloc(r->cfg.queue_depth, sizeof *iov);
	if (!iov) {
		io_uring_queue_exit(&r->ring);
		r->uring = false;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < r->cfg.queue_depth; i++) {
		iov[i].iov_base = slot_buf(r, i);
		iov[i].iov_len = r->cfg.block_bytes;
	}
	/* Pinning can fail under a tight RLIMIT_MEMLOCK; unregistered reads still work. */
	if (io_uring_register_buffers(&r->ring, iov, r->cfg.queue_depth) == 0)
		r->fixed = true;
	else
		r->notes |= MB_FILE_READER_NO_FIXED;
	free(iov);
	return 0;
}

/*
 * Allocate the blocks and bring up the ring; io_uring refused by policy
 * (-EPERM, -ENOSYS) turns into pread(2), anything else is an error.
 */
int mb_file_reader_new(const struct mb_file_reader_cfg *cfg, struct mb_file_reader **ret)
{
	struct mb_file_reader *r;
	int err;

	if (!cfg || cfg->queue_depth < 1 || cfg->queue_depth > MB_FILE_READER_MAX_DEPTH ||
	    cfg->block_bytes < MB_FILE_READER_MIN_BLOCK || cfg->block_bytes > MB_FILE_READER_MAX_BLOCK)
		return -EINVAL;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->fd = -1;
	r->slots = calloc(cfg->queue_depth, sizeof *r->slots);
	if (!r->slots) {
		err = -ENOMEM;
		goto out_free_reader;
	}
	if (posix_memalign((void **)&r->mem, 4096, (size_t)cfg->queue_depth * cfg->block_bytes)) {
		err = -ENOMEM;
		goto out_free_slots;
	}
	if (!cfg->use_pread) {
		err = setup_ring(r);
		if (err == -EPERM || err == -ENOSYS) {
			r->notes |= MB_FILE_READER_NO_URING;
			r->uring_err = -err;
		} else if (err < 0) {
			goto out_free_mem;
		}
	}
	*ret = r;
	return 0;

out_free_mem:
	free(r->mem);
out_free_slots:
	free(r->slots);
out_free_reader:
	free(r);
	return err;
}

/* Note a completion in its slot. */
static void complete(struct mb_file_reader *r, struct io_uring_cqe *cqe)
{
	struct slot *s = &r->slots[io_uring_cqe_get_data64(cqe)];
	s->res = cqe->res;
	s->busy = false;
	s->done = true;
	r->outstanding--;
	io_uring_cqe_seen(&r->ring, cqe);
}

/* Reap one completion, waiting for it; 0 or -errno from the ring. */
static int reap_one(struct mb_file_reader *r)
{
	struct io_uring_cqe *cqe;
	int ret;

	do
		ret = io_uring_wait_cqe(&r->ring, &cqe);
	while (ret == -EINTR);
	if (ret < 0)
		return ret;
	complete(r, cqe);
	return 0;
}

/* Reap every completion already posted, without a system call. */
static void reap_ready(struct mb_file_reader *r)
{
	struct io_uring_cqe *cqe;

	while (r->outstanding && io_uring_peek_cqe(&r->ring, &cqe) == 0)
		complete(r, cqe);
}

/* Hand queued reads to the kernel. */
static int submit_pending(struct mb_file_reader *r)
{
	while (r->unsubmitted) {
		int ret = io_uring_submit(&r->ring);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			return ret;
		r->unsubmitted = 0;
	}
	return 0;
}

/* Wait for every read in flight and forget the window. */
static int drain(struct mb_file_reader *r)
{
	int ret = submit_pending(r);
	if (ret < 0)
		return ret;
	while (r->outstanding) {
		ret = reap_one(r);
		if (ret < 0)
			return ret;
	}
	for (unsigned i = 0; i < r->cfg.queue_depth; i++)
		r->slots[i].done = false;
	r->n = 0;
	r->held = false;
	return 0;
}

/* Queue a read of slot i at off (not yet submitted). */
static int queue_read(struct mb_file_reader *r, unsigned i, uint64_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	while (!sqe) {
		/*
		 * Only with SQPOLL: the kernel thread may post a completion before it
		 * publishes that it took the entry, so the ring can look full for a
		 * moment. Wait for it to take the entries.
		 */
		int ret = io_uring_submit(&r->ring);
		if (ret < 0 && ret != -EINTR)
			return ret;
		r->unsubmitted = 0;
		ret = io_uring_sqring_wait(&r->ring);
		if (ret < 0 && ret != -EINTR)
			return ret;
		sqe = io_uring_get_sqe(&r->ring);
	}
	if (r->fixed)
		io_uring_prep_read_fixed(sqe, r->fd, slot_buf(r, i), (unsigned)r->cfg.block_bytes, off, (int)i);
	else
		io_uring_prep_read(sqe, r->fd, slot_buf(r, i), (unsigned)r->cfg.block_bytes, off);
	io_uring_sqe_set_data64(sqe, i);
	r->slots[i] = (struct slot){.off = off, .busy = true};
	r->outstanding++;
	r->unsubmitted++;
	return 0;
}

/*
 * Release the held block and fill the window. Reads are handed to the
 * kernel in groups of half the window (or when the caller must wait
 * anyway, together with the wait): one io_uring_enter for several blocks
 * is where io_uring saves system calls over read(2).
 */
static int top_up(struct mb_file_reader *r)
{
	int ret;

	if (r->held) {
		r->slots[r->head].done = false;
		r->head = (r->head + 1) % r->cfg.queue_depth;
		r->n--;
		r->held = false;
	}
	while (r->n < r->cfg.queue_depth) {
		unsigned i = (r->head + r->n) % r->cfg.queue_depth;
		ret = queue_read(r, i, r->next_off);
		if (ret < 0)
			return ret;
		r->next_off += r->cfg.block_bytes;
		r->n++;
	}
	if (2 * r->unsubmitted >= r->cfg.queue_depth)
		return submit_pending(r);
	return 0;
}

static long next_uring(struct mb_file_reader *r, const uint8_t **ret_data)
{
	int ret = top_up(r);
	if (ret < 0)
		return ret;

	struct slot *h = &r->slots[r->head];
	for (;;) {
		reap_ready(r);
		while (!h->done) {
			if (r->unsubmitted) {
				/* Submit and wait in one system call. */
				ret = io_uring_submit_and_wait(&r->ring, 1);
				if (ret == -EINTR)
					continue;
				if (ret < 0)
					return ret;
				r->unsubmitted = 0;
			}
			ret = reap_one(r);
			if (ret < 0)
				return ret;
		}
		if (h->res != -EINTR && h->res != -EAGAIN)
			break;
		/* Transient: issue the same read again. */
		ret = queue_read(r, r->head, h->off);
		if (ret < 0)
			return ret;
	}

	uint64_t off = h->off;
	int res = h->res;
	if (res < 0 || (size_t)res < r->cfg.block_bytes) {
		/* End of file (or an error): the younger reads assumed a full block. */
		unsigned keep = r->head;
		ret = drain(r);
		if (ret < 0)
			return ret;
		if (res <= 0) {
			r->next_off = off;
			return res;
		}
		r->head = keep;
		r->n = 1;
		r->slots[keep].done = true;
		r->next_off = off + (uint64_t)res;
	}
	r->held = true;
	r->done_off = off + (uint64_t)res;
	*ret_data = slot_buf(r, r->head);
	return res;
}

static long next_pread(struct mb_file_reader *r, const uint8_t **ret_data)
{
	ssize_t got;

	do
		got = pread(r->fd, r->mem, r->cfg.block_bytes, (off_t)r->next_off);
	while (got < 0 && (errno == EINTR || errno == EAGAIN));
	if (got < 0)
		return -errno;
	r->next_off += (uint64_t)got;
	r->done_off = r->next_off;
	if (got > 0)
		*ret_data = r->mem;
	return got;
}

/* Hand out the next block in file order; see file_reader.h. */
long mb_file_reader_next(struct mb_file_reader *r, const uint8_t **ret_data)
{
	if (r->fd < 0)
		return -EBADF;
	return r->uring ? next_uring(r, ret_data) : next_pread(r, ret_data);
}

/* Point the reader at a new file; reads of the old one are dropped. */
int mb_file_reader_start(struct mb_file_reader *r, int fd, uint64_t offset)
{
	if (fd < 0)
		return -EBADF;
	if (r->uring) {
		int ret = drain(r);
		if (ret < 0)
			return ret;
		r->head = 0;
	}
	r->fd = fd;
	r->next_off = offset;
	r->done_off = offset;
	return 0;
}

/* Offset just past the last block handed out. */
uint64_t mb_file_reader_offset(const struct mb_file_reader *r)
{
	return r->done_off;
}

/* The notes on how reading works, and the errno behind NO_URING. */
unsigned mb_file_reader_notes(const struct mb_file_reader *r, int *ret_err)
{
	if (ret_err)
		*ret_err = r->uring_err;
	return r->notes;
}

/* Whether reads go through io_uring. */
bool mb_file_reader_uses_uring(const struct mb_file_reader *r)
{
	return r->uring;
}

/* Wait out reads in flight, tear down the ring, free the blocks. */
struct mb_file_reader *mb_file_reader_free(struct mb_file_reader *r)
{
	if (!r)
		return NULL;
	if (r->uring) {
		/* The kernel may still write into the buffers: wait before freeing them. */
		(void)drain(r);
		if (r->fixed)
			io_uring_unregister_buffers(&r->ring);
		io_uring_queue_exit(&r->ring);
	}
	free(r->mem);
	free(r->slots);
	free(r);
	return NULL;
}
