from services.query.reply_guard import reply_allowed


def test_answers_go_to_inboxes_only() -> None:
    subject = "one.v1.acme.query.entities.get"
    assert reply_allowed(subject, "_INBOX.abc.def")
    assert reply_allowed(subject, "_INBOX_SERVICE.operator.abc")
    assert reply_allowed(subject, "_INBOX_TENANT.acme.pub.abc.def")
    assert not reply_allowed(subject, "_INBOX_TENANT.beta.pub.abc.def")
    assert not reply_allowed(subject, "one.v1.beta.changes.entities.creator")
    assert not reply_allowed(subject, "one.v1.acme.entities.creator.upsert")
    assert not reply_allowed(subject, "$JS.API.STREAM.DELETE.ONE_INGEST")
    assert not reply_allowed(subject, "")
