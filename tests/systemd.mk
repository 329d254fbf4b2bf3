# tests: the systemd unit (systemd-analyze verify and security, and a run of
# the daemon under the unit's seccomp filters). A script, run as is.
TESTS += tests/test_systemd_unit.sh
EXTRA_DIST += tests/test_systemd_unit.sh
