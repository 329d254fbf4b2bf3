# tests: learning
