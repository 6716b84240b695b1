"""Whose client it is: the tenant a `ConnectionSpec` names (what `one-bus tenant add`
issues), or the one named beside a spec that names none; a conflict is refused before
anything connects. The secure stack's test (tests/services/security/test_sdk_secure.py)
connects with such a spec file."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts.connection_spec import ConnectionSpec
from one_bus import OneClient
from services.security.layout import write_role_specs

SPEC_OF_ACME = ConnectionSpec(
    servers=["nats://127.0.0.1:1"], user="u", password="p", tenant="acme", role="publisher"
)


def test_a_spec_naming_its_tenant_is_the_client_s_tenant() -> None:
    client = OneClient(SPEC_OF_ACME)
    assert (client.tenant, client.spec) == ("acme", SPEC_OF_ACME)
    # Naming the same tenant again is allowed: older code keeps working.
    assert OneClient("acme", SPEC_OF_ACME).tenant == "acme"
    # A spec of no tenant (an open server's, a service identity's) needs it named.
    open_spec = ConnectionSpec(servers=["nats://127.0.0.1:1"])
    assert OneClient("beta", open_spec).tenant == "beta"
    assert OneClient("beta").spec == ConnectionSpec(servers=["nats://127.0.0.1:4222"])


def test_a_tenant_the_spec_does_not_act_for_is_refused_before_connecting() -> None:
    with pytest.raises(ValueError, match="'beta', but the connection spec is an identity of "
                       "tenant 'acme'"):  # fmt: skip
        OneClient("beta", SPEC_OF_ACME)
    with pytest.raises(ValueError, match="names no tenant"):
        OneClient(ConnectionSpec(servers=["nats://127.0.0.1:1"]))
    with pytest.raises(TypeError, match="once"):
        OneClient(SPEC_OF_ACME, SPEC_OF_ACME)


def test_a_spec_file_gives_the_tenant_and_the_connection(tmp_path: Path) -> None:
    # Written as `one-bus tenant add acme --out DIR` writes it.
    answer = {"tenant": "acme", "publisher": SPEC_OF_ACME.model_dump(exclude_none=True)}
    [path] = write_role_specs(tmp_path, answer)
    client = OneClient.from_spec_file(path, request_timeout_s=3)
    assert (client.tenant, client.spec, client.request_timeout_s) == ("acme", SPEC_OF_ACME, 3)
    assert OneClient.from_spec_file(str(path), tenant="acme").tenant == "acme"
    with pytest.raises(ValueError, match="identity of tenant 'acme'"):
        OneClient.from_spec_file(path, tenant="beta")
    # The combined answer of `tenant add` holds several roles: not one spec.
    combined = tmp_path / "combined.json"
    combined.write_text(json.dumps(answer))
    with pytest.raises(ValidationError):
        OneClient.from_spec_file(combined)
