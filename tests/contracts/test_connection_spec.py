import pytest
from pydantic import ValidationError

from contracts.connection_spec import ConnectionSpec


def test_a_spec_names_at_least_one_server() -> None:
    with pytest.raises(ValidationError):
        ConnectionSpec(servers=[])


def test_user_and_password_go_together() -> None:
    with pytest.raises(ValidationError, match="together"):
        ConnectionSpec(servers=["nats://h:4222"], user="acme-pub")


def test_only_one_way_to_authenticate() -> None:
    with pytest.raises(ValidationError, match="one of"):
        ConnectionSpec(servers=["nats://h:4222"], user="u", password="p", nkey_seed="SUAB")


def test_an_open_spec_is_not_authenticated() -> None:
    assert not ConnectionSpec(servers=["nats://h:4222"]).authenticated
    assert ConnectionSpec(servers=["nats://h:4222"], creds="/x.creds").authenticated


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        ConnectionSpec.model_validate({"servers": ["nats://h:4222"], "token": "t"})
