# man: the manual pages, in mdoc. tests/test_man.sh lints them with mandoc and
# checks them against the programs and headers they describe.
MB_MAN_PAGES = \
	man/minibatchctl.1 \
	man/libminibatch.3 \
	man/mb_client_curve_load.3 \
	man/mb_client_model.3 \
	man/mb_client_new.3 \
	man/mb_client_runtime_dir.3 \
	man/mb_producer_append.3 \
	man/mb_producer_new.3 \
	man/mb_subscriber_new.3 \
	man/mb_subscriber_recv.3 \
	man/minibatchd.conf.5 \
	man/minibatch-proto.7 \
	man/minibatchd.8

# One line each, ".so man3/PAGE.3": the other functions a page documents, so
# `man mb_producer_flush` finds mb_producer_append(3).
MB_MAN_LINKS = \
	man/mb_client_endpoint.3 \
	man/mb_client_key_read.3 \
	man/mb_client_keypair_write.3 \
	man/mb_client_new_curve.3 \
	man/mb_client_free.3 \
	man/mb_client_n_classes.3 \
	man/mb_client_predict.3 \
	man/mb_client_request.3 \
	man/mb_client_score.3 \
	man/mb_client_snap_free.3 \
	man/mb_producer_close.3 \
	man/mb_producer_flush.3 \
	man/mb_producer_free.3 \
	man/mb_producer_messages.3 \
	man/mb_producer_new_curve.3 \
	man/mb_producer_send_line.3 \
	man/mb_producer_sent.3 \
	man/mb_subscriber_free.3 \
	man/mb_subscriber_new_curve.3 \
	man/mb_subscriber_latest.3

dist_man_MANS += $(MB_MAN_PAGES) $(MB_MAN_LINKS)

# The protocol specification minibatch-proto(7) points to.
dist_doc_DATA = proto/minibatch-proto.md

# minibatchd.conf(5)'s key list and examples/minibatchd.conf come from the
# daemon's key table. After changing the table, regenerate both in the source
# tree; tests/test_man.sh fails while they differ from it.
EXTRA_DIST += man/config-doc.py
update-config-docs: daemon/minibatchd$(EXEEXT)
	$(AM_V_GEN)daemon/minibatchd$(EXEEXT) --help-config | python3 $(srcdir)/man/config-doc.py \
		--man $(srcdir)/man/minibatchd.conf.5 --conf $(srcdir)/examples/minibatchd.conf
.PHONY: update-config-docs
