# examples: small complete programs a library user can start from (built by
# make check, installed as sources in $(docdir)/examples with an example
# configuration that lists every key)
check_PROGRAMS += examples/train_fashion

examples_train_fashion_SOURCES = examples/train_fashion.c
examples_train_fashion_LDADD = lib/libminibatch.la $(BLAS_LIBS) -lm

# The client API, one program per object: producer, subscriber, model view,
# control client. They use the installed headers only.
check_PROGRAMS += examples/produce examples/subscribe examples/predict examples/control
examples_produce_SOURCES = examples/produce.c
examples_produce_LDADD = lib/libminibatch.la
examples_subscribe_SOURCES = examples/subscribe.c
examples_subscribe_LDADD = lib/libminibatch.la
examples_predict_SOURCES = examples/predict.c
examples_predict_LDADD = lib/libminibatch.la
examples_control_SOURCES = examples/control.c
examples_control_LDADD = lib/libminibatch.la

exampledir = $(docdir)/examples
dist_example_DATA = \
	examples/produce.c \
	examples/subscribe.c \
	examples/predict.c \
	examples/control.c \
	examples/minibatchd.conf
