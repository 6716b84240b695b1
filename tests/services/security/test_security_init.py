"""`one-bus security init`: the files a container deployment mounts, valid and private."""

import stat
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from contracts.connection_spec import ConnectionSpec
from services.runtime.embedded import find_executable
from services.security.roles import SERVICE_ROLES

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


def test_init_writes_a_valid_layout_with_private_secrets(tmp_path: Path) -> None:
    data_dir = tmp_path / "secure"
    args = [ONE_BUS, "security", "init", "--nats-url", "tls://nats:4222", "--host", "mongo",
            "--data-dir", str(data_dir)]  # fmt: skip
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    root = data_dir / "security"
    check = subprocess.run(
        [str(find_executable("nats-server")), "-c", str(root / "nats" / "nats.conf"), "-t"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    cert = x509.load_pem_x509_certificate((root / "tls" / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"nats", "mongo", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    for role in SERVICE_ROLES:
        spec = ConnectionSpec.model_validate_json(
            (root / "specs" / f"{role.value}.json").read_text()
        )
        assert spec.servers == ["tls://nats:4222"]
        assert spec.user
        assert spec.tls_ca
    private = [
        root / "identities.json",
        root / "nats" / "auth.conf",
        root / "tls" / "server-key.pem",
        root / "mongo" / "service-password",
        root / "mongo" / "keyfile",
        *(root / "specs").iterdir(),
    ]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Hashes only: no password of a spec is in the server's configuration.
    auth = (root / "nats" / "auth.conf").read_text()
    for spec_file in (root / "specs").iterdir():
        password = ConnectionSpec.model_validate_json(spec_file.read_text()).password
        assert password
        assert password not in auth
    # Run again: secrets and certificates are kept.
    before = (root / "specs" / "service.json").read_text(), (root / "tls" / "ca.pem").read_text()
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    after = (root / "specs" / "service.json").read_text(), (root / "tls" / "ca.pem").read_text()
    assert before == after
