# tests: checkpoint
