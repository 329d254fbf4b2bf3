# tests: formats
