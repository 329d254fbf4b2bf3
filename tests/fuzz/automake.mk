# tests/fuzz
fuzz-smoke:
.PHONY: fuzz-smoke
