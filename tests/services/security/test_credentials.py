"""The service's credentials from settings: files, fields, overrides; no secret in URLs."""

from pathlib import Path

from faststream.nats.security import NatsUserPassword

from contracts.connection_spec import ConnectionSpec
from services.security.credentials import (
    broker_options,
    mongo_credentials,
    nats_spec,
)
from services.settings import Settings


def spec_file(tmp_path: Path) -> Path:
    spec = ConnectionSpec(
        servers=["tls://nats:4222"], user="svc-service", password="p4ss",
        inbox_prefix="_INBOX_SERVICE.service", tls_ca="/written/ca.pem",
    )  # fmt: skip
    path = tmp_path / "service.json"
    path.write_text(spec.model_dump_json(exclude_none=True))
    return path


def test_a_spec_file_keeps_its_servers_unless_the_url_is_set(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    assert nats_spec(Settings(nats_credentials_file=path)).servers == ["tls://nats:4222"]
    both = Settings(nats_credentials_file=path, nats_url="tls://a:1,tls://b:2")
    assert nats_spec(both).servers == ["tls://a:1", "tls://b:2"]
    mounted = Settings(nats_credentials_file=path, nats_tls_ca="/mounted/ca.pem")
    assert nats_spec(mounted).tls_ca == "/mounted/ca.pem"
    assert nats_spec(mounted).password == "p4ss"


def test_fields_and_password_files(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("from-a-file\n")
    spec = nats_spec(Settings(nats_user="u", nats_password_file=password))
    assert (spec.user, spec.password) == ("u", "from-a-file")
    assert not nats_spec(Settings()).authenticated
    assert mongo_credentials(Settings()) == {}
    password.write_text("mongo-secret")
    assert mongo_credentials(Settings(mongodb_user="one-bus", mongodb_password_file=password)) == {
        "username": "one-bus",
        "password": "mongo-secret",
    }


def test_broker_options_carry_user_and_inbox() -> None:
    spec = ConnectionSpec(servers=["nats://x:4222"], user="u", password="p", inbox_prefix="_I")
    options = broker_options(spec)
    assert options["servers"] == ["nats://x:4222"]
    assert options["inbox_prefix"] == "_I"
    assert isinstance(options["security"], NatsUserPassword)
