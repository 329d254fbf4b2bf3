# tests: proto examples
