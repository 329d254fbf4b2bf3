# tests: python
