# tools: minibatchctl, and the ZeroMQ side of libminibatch's client API

# lib/client.c talks ZeroMQ, so the library links it.
lib_libminibatch_la_LIBADD += $(ZMQ_LIBS)
lib_libminibatch_la_CFLAGS += $(ZMQ_CFLAGS)

bin_PROGRAMS += tools/minibatchctl
tools_minibatchctl_SOURCES = \
	tools/minibatchctl.c tools/ctl.h \
	tools/ctl_common.c \
	tools/ctl_data.c \
	tools/ctl_json.c \
	tools/ctl_progress.c \
	tools/ctl_feed.c \
	tools/ctl_watch.c \
	tools/ctl_eval.c \
	tools/ctl_predict.c \
	tools/ctl_control.c \
	tools/ctl_plot.c tools/ctl_plot.h \
	tools/ctl_svg.c tools/ctl_svg.h
tools_minibatchctl_CFLAGS = $(AM_CFLAGS) $(ZMQ_CFLAGS) $(ZLIB_CFLAGS)
tools_minibatchctl_LDADD = lib/libminibatch.la $(ZMQ_LIBS) $(ZLIB_LIBS) -lm

# ./run demo runs it on the configured build tree.
EXTRA_DIST += examples/demo.sh
