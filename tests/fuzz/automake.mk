# libFuzzer targets, one per decoder (configure --enable-fuzzers CC=clang).
# `make fuzz-smoke` runs each for FUZZ_SECONDS over a scratch copy of its
# seed corpus (tests/fuzz/smoke.sh); tests/fuzz/make-seeds.py writes the
# seeds. The targets are separate make goals, so `make -j2` runs two at once.
FUZZ_SECONDS = 30

EXTRA_DIST += \
	tests/fuzz/README.md \
	tests/fuzz/smoke.sh \
	tests/fuzz/long-run.sh \
	tests/fuzz/make-seeds.py \
	tests/fuzz/corpus \
	tests/fuzz/crashes \
	tests/fuzz/sample_bin.dict \
	tests/fuzz/sample_text.dict \
	tests/fuzz/idx.dict \
	tests/fuzz/snapshot.dict \
	tests/fuzz/gzip.dict \
	tests/fuzz/checkpoint.dict \
	tests/fuzz/control.dict \
	tests/fuzz/config.dict

FUZZ_SOURCES = tests/fuzz/fuzz.h tests/fuzz/fuzz_check.c
FUZZ_SMOKE = $(SHELL) $(srcdir)/tests/fuzz/smoke.sh
# Reproducers libFuzzer leaves when a target fails.
CLEANFILES += tests/fuzz/*-crash-* tests/fuzz/*-leak-* tests/fuzz/*-timeout-* tests/fuzz/*-oom-*
# Logs of long-run.sh.
CLEANFILES += tests/fuzz/long-*.log

if FUZZERS
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/fuzz
FUZZ_LINK = $(AM_LDFLAGS) $(FUZZ_LDFLAGS) -static
FUZZ_LIBS = lib/libminibatch.la $(BLAS_LIBS) $(ZLIB_LIBS) -lm
# The daemon's parsers (control requests, configuration) come from its
# convenience library, with what that library links.
FUZZ_DAEMON_CPPFLAGS = $(FUZZ_CPPFLAGS) -I$(top_srcdir)/daemon
FUZZ_DAEMON_LIBS = daemon/libminibatchd.la $(FUZZ_LIBS) $(ZMQ_LIBS) $(URING_LIBS) $(SYSTEMD_LIBS) $(MHD_LIBS)

noinst_PROGRAMS += \
	tests/fuzz/fuzz_sample_bin \
	tests/fuzz/fuzz_sample_text \
	tests/fuzz/fuzz_idx \
	tests/fuzz/fuzz_snapshot \
	tests/fuzz/fuzz_gzip \
	tests/fuzz/fuzz_checkpoint \
	tests/fuzz/fuzz_control \
	tests/fuzz/fuzz_config

tests_fuzz_fuzz_sample_bin_SOURCES = tests/fuzz/fuzz_sample_bin.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_sample_bin_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_sample_bin_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_sample_bin_LDADD = $(FUZZ_LIBS)

tests_fuzz_fuzz_sample_text_SOURCES = tests/fuzz/fuzz_sample_text.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_sample_text_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_sample_text_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_sample_text_LDADD = $(FUZZ_LIBS)

tests_fuzz_fuzz_idx_SOURCES = tests/fuzz/fuzz_idx.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_idx_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_idx_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_idx_LDADD = $(FUZZ_LIBS)

tests_fuzz_fuzz_snapshot_SOURCES = tests/fuzz/fuzz_snapshot.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_snapshot_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_snapshot_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_snapshot_LDADD = $(FUZZ_LIBS)

tests_fuzz_fuzz_gzip_SOURCES = tests/fuzz/fuzz_gzip.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_gzip_CPPFLAGS = $(FUZZ_CPPFLAGS) $(ZLIB_CFLAGS)
tests_fuzz_fuzz_gzip_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_gzip_LDADD = $(FUZZ_LIBS)

tests_fuzz_fuzz_checkpoint_SOURCES = tests/fuzz/fuzz_checkpoint.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_checkpoint_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_checkpoint_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_checkpoint_LDADD = $(FUZZ_LIBS)

tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz_control.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_control_CPPFLAGS = $(FUZZ_DAEMON_CPPFLAGS)
tests_fuzz_fuzz_control_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_control_LDADD = $(FUZZ_DAEMON_LIBS)

tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_config_CPPFLAGS = $(FUZZ_DAEMON_CPPFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_config_LDADD = $(FUZZ_DAEMON_LIBS)

fuzz-smoke: fuzz-smoke-sample_bin fuzz-smoke-sample_text fuzz-smoke-idx fuzz-smoke-snapshot \
	fuzz-smoke-gzip fuzz-smoke-checkpoint fuzz-smoke-control fuzz-smoke-config
	@echo "fuzz-smoke: every target ran $(FUZZ_SECONDS) s without a crash"
fuzz-smoke-sample_bin: tests/fuzz/fuzz_sample_bin
	@$(FUZZ_SMOKE) sample_bin $(srcdir) $(FUZZ_SECONDS)
fuzz-smoke-sample_text: tests/fuzz/fuzz_sample_text
	@$(FUZZ_SMOKE) sample_text $(srcdir) $(FUZZ_SECONDS)
fuzz-smoke-idx: tests/fuzz/fuzz_idx
	@$(FUZZ_SMOKE) idx $(srcdir) $(FUZZ_SECONDS)
fuzz-smoke-snapshot: tests/fuzz/fuzz_snapshot
	@$(FUZZ_SMOKE) snapshot $(srcdir) $(FUZZ_SECONDS)
fuzz-smoke-gzip: tests/fuzz/fuzz_gzip
	@$(FUZZ_SMOKE) gzip $(srcdir) $(FUZZ_SECONDS)
fuzz-smoke-checkpoint: tests/fuzz/fuzz_checkpoint
	@$(FUZZ_SMOKE) checkpoint $(srcdir) $(FUZZ_SECONDS)
fuzz-smoke-control: tests/fuzz/fuzz_control
	@$(FUZZ_SMOKE) control $(srcdir) $(FUZZ_SECONDS)
fuzz-smoke-config: tests/fuzz/fuzz_config
	@$(FUZZ_SMOKE) config $(srcdir) $(FUZZ_SECONDS)
else
fuzz-smoke:
	@echo "fuzz-smoke: fuzzing is not configured here (configure --enable-fuzzers CC=clang); nothing to run"
endif

.PHONY: fuzz-smoke fuzz-smoke-sample_bin fuzz-smoke-sample_text fuzz-smoke-idx \
	fuzz-smoke-snapshot fuzz-smoke-gzip fuzz-smoke-checkpoint fuzz-smoke-control fuzz-smoke-config
