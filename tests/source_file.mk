# tests: file source
