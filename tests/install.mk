# tests: install
