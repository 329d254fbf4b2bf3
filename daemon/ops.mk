# daemon: metrics and reload
daemon_libminibatchd_la_SOURCES += \
	daemon/config_args.c daemon/config_args.h \
	daemon/metrics.c daemon/metrics.h \
	daemon/metrics_text.c daemon/metrics_text.h \
	daemon/reload.c daemon/reload.h
daemon_libminibatchd_la_CPPFLAGS += $(MHD_CFLAGS)
daemon_libminibatchd_la_LIBADD += $(MHD_LIBS) $(SYSTEMD_LIBS)
daemon_minibatchd_LDADD += $(MHD_LIBS)
daemon_libminibatchd_la_SOURCES += daemon/divergence.c daemon/divergence.h
