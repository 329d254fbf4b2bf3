# tests: ops
