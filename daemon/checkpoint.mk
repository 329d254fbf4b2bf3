# daemon: checkpoints. The files (write, list, choose, keep), what goes into
# them (sections, restore) and the start (directory, carrying on); the
# trainer writes them.
daemon_libminibatchd_la_SOURCES += \
	daemon/checkpoint_store.c daemon/checkpoint_store.h \
	daemon/checkpoint_state.c daemon/checkpoint_state.h \
	daemon/checkpoint_setup.c daemon/checkpoint_setup.h
