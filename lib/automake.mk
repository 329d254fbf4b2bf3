lib_LTLIBRARIES += lib/libminibatch.la

lib_libminibatch_la_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(ZLIB_CFLAGS)
lib_libminibatch_la_LIBADD = $(BLAS_LIBS) $(ZLIB_LIBS) -lm
# The version script exports the public API under LIBMINIBATCH_0 and keeps
# every name that is not mb_* inside the library (lib/libminibatch.sym).
lib_libminibatch_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 \
	-Wl,--version-script=$(srcdir)/lib/libminibatch.sym
EXTRA_lib_libminibatch_la_DEPENDENCIES = $(srcdir)/lib/libminibatch.sym
EXTRA_DIST += lib/libminibatch.sym

# The public API, installed in $(pkgincludedir) beside proto/mb_proto.h. The
# headers include each other and mb_proto.h with quotes, so they find one
# another there as they do in the tree (-I lib -I proto). Every other header
# of the library is private and never installed.
pkginclude_HEADERS += \
	lib/client.h \
	lib/dataset.h \
	lib/diag.h \
	lib/model.h \
	lib/sample.h \
	lib/snapshot.h

# formats
lib_libminibatch_la_SOURCES = \
	lib/wire.h lib/cpu_clones.h \
	lib/diag.c \
	lib/crc32c.c lib/crc32c.h \
	lib/sample_bin.c lib/sample_text.c lib/f16.c \
	lib/idx.c lib/idx.h \
	lib/dataset.c \
	lib/snapshot.c \
	lib/checkpoint.c lib/checkpoint.h

# learning
lib_libminibatch_la_SOURCES += \
	lib/model.c lib/model_priv.h \
	lib/kernels.c lib/kernels.h \
	lib/blas_core.c lib/blas_core.h \
	lib/model_linear.c lib/model_logistic.c lib/model_softmax.c lib/model_mlp.c \
	lib/optim.c lib/optim.h \
	lib/learner.c lib/learner.h

# batching, evaluation, queues
lib_libminibatch_la_SOURCES += \
	lib/rng.c lib/rng.h \
	lib/batch.c lib/batch.h \
	lib/shuffle.c lib/shuffle.h \
	lib/eval.c lib/eval.h \
	lib/ring.c lib/ring.h \
	lib/doorbell.c lib/doorbell.h \
	lib/feed.c lib/feed.h

# clients
lib_libminibatch_la_SOURCES += \
	lib/client.c

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = lib/libminibatch.pc
