lib_LTLIBRARIES += lib/libminibatch.la

lib_libminibatch_la_CFLAGS = $(AM_CFLAGS) $(BLAS_CFLAGS) $(ZLIB_CFLAGS)
lib_libminibatch_la_LIBADD = $(BLAS_LIBS) $(ZLIB_LIBS) -lm
lib_libminibatch_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0

# formats
lib_libminibatch_la_SOURCES = \
	lib/wire.h \
	lib/diag.c lib/diag.h \
	lib/crc32c.c lib/crc32c.h \
	lib/sample_bin.c lib/sample_text.c lib/f16.c lib/sample.h \
	lib/idx.c lib/idx.h \
	lib/dataset.c lib/dataset.h \
	lib/snapshot.c lib/snapshot.h \
	lib/checkpoint.c lib/checkpoint.h

# learning
lib_libminibatch_la_SOURCES += \
	lib/model.c lib/model.h lib/model_priv.h \
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
	lib/client.c lib/client.h

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = lib/libminibatch.pc
