# tests: queues
check-tsan:
.PHONY: check-tsan
