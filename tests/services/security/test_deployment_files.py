"""docker-compose.yml and k8s/one-bus.yaml: parsed, secure layout, consistent with the
files `one-bus security init` writes and with the settings the service reads. (No
container engine runs here: this is what can be checked without one.)"""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from services.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
ONE_BUS = str(Path(sys.executable).parent / "one-bus")
SETTINGS = {f"ONE_{name.upper()}" for name in Settings.model_fields}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def k8s() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((ROOT / "k8s" / "one-bus.yaml").read_text()))


def test_compose_publishes_nothing_on_all_interfaces() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    assert "ports" not in services["mongo"]
    nats_command = services["nats"]["command"]
    assert "-c" in nats_command  # the generated users, permissions and TLS


def test_compose_mounts_what_security_init_writes(tmp_path: Path) -> None:
    secure = tmp_path / "secure"
    subprocess.run(
        [ONE_BUS, "security", "init", "--data-dir", str(secure), "--nats-url",
         "tls://nats:4222", "--host", "mongo"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    text = (ROOT / "docker-compose.yml").read_text()
    paths = set(re.findall(r"/secure/security/[\w./-]+", text))
    assert paths
    for path in paths:
        assert (secure / path.removeprefix("/secure/")).exists(), path
    for subpath in re.findall(r"subpath: ([\w/]+)", text):
        assert (secure / subpath).is_dir(), subpath


def test_the_service_gets_known_settings_and_no_secret_in_plain_text() -> None:
    environment = compose()["services"]["one-bus"]["environment"]
    assert set(environment) <= SETTINGS
    assert "@" not in environment["ONE_MONGODB_URI"]
    assert "ONE_NATS_CREDENTIALS_FILE" in environment
    assert "ONE_MONGODB_PASSWORD_FILE" in environment
    config_map, deployment, _ = k8s()
    assert set(config_map["data"]) <= SETTINGS
    assert not any("PASSWORD" in key and not key.endswith("_FILE") for key in config_map["data"])
    assert config_map["data"]["ONE_NATS_URL"].startswith("tls://")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for variable in container["env"]:
        assert variable["name"] in SETTINGS
        assert "value" not in variable  # from Secrets only
    secrets = {volume["secret"]["secretName"] for volume in pod["volumes"]}
    secrets |= {v["valueFrom"]["secretKeyRef"]["name"] for v in container["env"]}
    assert secrets == {"one-bus-nats", "one-bus-mongodb"}
    mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
    for key in ("ONE_NATS_CREDENTIALS_FILE", "ONE_NATS_TLS_CA", "ONE_MONGODB_PASSWORD_FILE"):
        assert str(Path(config_map["data"][key]).parent) in mounted, key


def test_the_pod_starts_as_a_kubelet_requires_and_is_probed_on_the_health_paths() -> None:
    _, deployment, service = k8s()
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    # runAsNonRoot needs a numeric user: the image's uid, and the pod runs as it.
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile)
    assert uid is not None
    assert f"\nUSER {uid[1]}\n" in dockerfile
    assert pod["securityContext"]["runAsUser"] == int(uid[1])
    assert container["securityContext"]["runAsNonRoot"] is True
    assert not container["image"].endswith(":latest")
    assert container["imagePullPolicy"] == "IfNotPresent"
    config_map = k8s()[0]["data"]
    [port] = container["ports"]
    assert port["containerPort"] == int(config_map["ONE_METRICS_PORT"])
    probes = {name: container[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert all(probe["port"] == port["name"] for probe in probes.values())
    assert service["kind"] == "Service"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]


def test_compose_checks_health_and_restarts() -> None:
    services = compose()["services"]
    for name in ("nats", "mongo", "one-bus"):
        assert "healthcheck" in services[name], name
    assert services["one-bus"]["restart"] == "unless-stopped"
    assert services["one-bus"]["depends_on"]["nats"]["condition"] == "service_healthy"
    # The store's check fails unless the replica set has a primary: `rs.status().ok` alone
    # printed 1 or 0 and exited 0 either way.
    assert "quit(" in services["mongo"]["healthcheck"]["test"]
    readyz = " ".join(services["one-bus"]["healthcheck"]["test"])
    assert f"127.0.0.1:{services['one-bus']['environment']['ONE_METRICS_PORT']}/readyz" in readyz
