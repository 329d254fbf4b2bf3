# daemon: minibatchd. Everything but main.c is a convenience library too, so
# tests can drive the configuration and the control code without a process.
noinst_LTLIBRARIES += daemon/libminibatchd.la
daemon_libminibatchd_la_SOURCES = \
	daemon/blas_reexec.c daemon/blas_reexec.h \
	daemon/config.c daemon/config.h daemon/config_keys.c \
	daemon/log.c daemon/log.h \
	daemon/zsock.c daemon/zsock.h \
	daemon/curve.c daemon/curve.h daemon/zap.c daemon/zap.h \
	daemon/ingest.c daemon/ingest.h \
	daemon/source.c daemon/source.h \
	daemon/source_zmq.c \
	daemon/source_file.c daemon/source_file.h daemon/file_rows.c \
	daemon/file_reader.c daemon/file_reader.h \
	daemon/file_stream.c daemon/file_stream.h \
	daemon/file_store.c daemon/file_store.h \
	daemon/handover.c daemon/handover.h \
	daemon/trainer.c daemon/trainer.h daemon/holdout.c daemon/holdout.h \
	daemon/publisher.c daemon/publisher.h \
	daemon/control.c daemon/control.h daemon/control_parse.c daemon/control_parse.h
daemon_libminibatchd_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon \
	$(ZMQ_CFLAGS) $(URING_CFLAGS) $(SYSTEMD_CFLAGS)
daemon_libminibatchd_la_LIBADD = lib/libminibatch.la $(ZMQ_LIBS) $(URING_LIBS) $(ZLIB_LIBS) -lm

sbin_PROGRAMS += daemon/minibatchd
daemon_minibatchd_SOURCES = daemon/main.c
daemon_minibatchd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon -DMB_VERSION='"$(PACKAGE_VERSION)"' \
	$(ZMQ_CFLAGS) $(SYSTEMD_CFLAGS)
daemon_minibatchd_LDADD = daemon/libminibatchd.la lib/libminibatch.la \
	$(ZMQ_LIBS) $(URING_LIBS) $(SYSTEMD_LIBS) $(BLAS_LIBS) $(ZLIB_LIBS) -lm

include daemon/checkpoint.mk
include daemon/ops.mk
