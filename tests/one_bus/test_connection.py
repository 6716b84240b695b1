from contracts.connection_spec import ConnectionSpec
from one_bus.connection import nats_options


def test_user_password_and_inbox_prefix_map_to_nats_py_options() -> None:
    spec = ConnectionSpec(
        servers=["nats://a:4222", "nats://b:4222"],
        user="acme-pub",
        password="secret",
        inbox_prefix="_INBOX_acme_pub",
    )
    assert nats_options(spec) == {
        "servers": ["nats://a:4222", "nats://b:4222"],
        "user": "acme-pub",
        "password": "secret",
        "inbox_prefix": "_INBOX_acme_pub",
    }


def test_nkey_and_creds_map_to_nats_py_options() -> None:
    assert (
        nats_options(ConnectionSpec(servers=["nats://a"], nkey_seed="SUX"))["nkeys_seed_str"]
        == "SUX"
    )
    assert (
        nats_options(ConnectionSpec(servers=["nats://a"], creds="/u.creds"))["user_credentials"]
        == "/u.creds"
    )
