# examples: small complete programs a library user can start from (built by make check)
check_PROGRAMS += examples/train_fashion

examples_train_fashion_SOURCES = examples/train_fashion.c
examples_train_fashion_LDADD = lib/libminibatch.la $(BLAS_LIBS) -lm
