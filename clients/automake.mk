# clients: the Python client is one module with nothing to build; it is
# tested by tests/python.mk.
EXTRA_DIST += clients/python/minibatch.py clients/python/README.md
