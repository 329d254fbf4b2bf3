pkginclude_HEADERS += proto/mb_proto.h
EXTRA_DIST += proto/minibatch-proto.md
