"""Dockerfile, docker-compose.yml and the k8s/ kustomizations: secure layout, consistent
with the files `one-bus security init` writes, with the settings the service reads and
with each other. (No container engine and no cluster run here: this is what can be
checked without one; tests/deploy/ validates the files against their specifications.)"""

import re
import subprocess
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dockerfile  # type: ignore[import-not-found]
import pytest
from cryptography import x509
from prometheus_client import CollectorRegistry

from services.runtime.health import HealthServer, HealthState
from services.settings import Settings
from tests.deploy.manifests import (
    BIN,
    KUSTOMIZATIONS,
    ROOT,
    Manifest,
    compose,
    documented_init,
    documented_secrets,
    of_kind,
    one,
    pod_spec,
    rendered,
)

SETTINGS = {f"ONE_{name.upper()}" for name in Settings.model_fields}
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PARTS = {"ingest": "--no-query", "query": "--no-ingest"}


def instructions() -> list[Any]:
    """The Dockerfile as BuildKit's own parser reads it (the `dockerfile` package)."""
    return list(dockerfile.parse_file(str(ROOT / "Dockerfile")))


def runtime_stage() -> list[Any]:
    commands = instructions()
    starts = [i for i, command in enumerate(commands) if command.cmd == "FROM"]
    return commands[starts[-1] :]


def image_uid() -> int:
    [user] = [command.value[0] for command in runtime_stage() if command.cmd == "USER"]
    assert user.isdigit(), "numeric: runAsNonRoot needs no passwd lookup"
    assert re.search(rf"useradd .*--uid {user} ", DOCKERFILE)
    return int(user)


def workloads(manifests: tuple[Manifest, ...]) -> list[Manifest]:
    kinds = ("Deployment", "StatefulSet", "Job")
    return [m for m in manifests if m["kind"] in kinds]


def containers(workload: Manifest) -> list[dict[str, Any]]:
    pod = pod_spec(workload)
    return [*pod.get("initContainers", []), *pod["containers"]]


def secret_refs(workload: Manifest) -> set[tuple[str, str]]:
    """(Secret, key) for every Secret key the pod reads, as env or as a file."""
    refs: set[tuple[str, str]] = set()
    for volume in pod_spec(workload).get("volumes", []):
        sources = [volume] if "secret" in volume else volume.get("projected", {}).get("sources", [])
        for source in sources:
            if "secret" in source:
                secret = source["secret"]
                name = secret.get("secretName") or secret["name"]
                assert "items" in secret, (name, "mount the keys it needs, by name")
                refs |= {(name, item["key"]) for item in secret["items"]}
    for container in containers(workload):
        for variable in container.get("env", []):
            if ref := variable.get("valueFrom", {}).get("secretKeyRef"):
                refs.add((ref["name"], ref["key"]))
        assert not any("secretRef" in source for source in container.get("envFrom", []))
    return refs


# --- the image -----------------------------------------------------------------------


def test_the_image_is_built_apart_runs_as_a_numeric_user_and_checks_readiness() -> None:
    stages = [command.value for command in instructions() if command.cmd == "FROM"]
    assert [stage[1:] for stage in stages] == [("AS", "build"), ()]
    runtime = runtime_stage()
    runs = [command for command in runtime if command.cmd == "RUN"]
    # Only the wheels built in the first stage, mounted (not copied), installed offline.
    assert all(not command.cmd.startswith("COPY") for command in runtime)
    assert all("pip wheel" not in command.value[0] for command in runs)
    [install] = [command for command in runs if "pip install" in command.value[0]]
    assert "--mount=type=bind,from=build,source=/wheels,target=/wheels" in install.flags
    assert "--no-index" in install.value[0]
    image_uid()
    [expose] = [command.value for command in runtime if command.cmd == "EXPOSE"]
    [env] = [command.value for command in runtime if command.cmd == "ENV"]
    assert expose == (dict(zip(env[::2], env[1::2], strict=True))["ONE_METRICS_PORT"],)
    [healthcheck] = [command for command in runtime if command.cmd == "HEALTHCHECK"]
    assert healthcheck.json  # exec form: no shell needed
    assert healthcheck.value[:2] == ("CMD", "python")
    assert healthcheck.value[-1].count("/readyz") == 1


def test_the_build_context_holds_only_what_the_build_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line for line in lines if line and not line.startswith("#")]
    assert ignored[0] == "*", "everything ignored first, then what the build copies"
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    copies = [command.value[:-1] for command in instructions() if command.cmd == "COPY"]
    assert {source for sources in copies for source in sources} == allowed


def health_check_exit(command: list[str], port: int, *, ready: bool) -> int:
    """Run a health check command against the service's own health server."""
    state = HealthState()
    if ready:
        state.checks = dict.fromkeys(state.checks)
    server = HealthServer(0, state, CollectorRegistry())
    server.start()
    try:
        command = [word.replace(str(port), str(server.port)) for word in command]
        env = {"ONE_METRICS_PORT": str(server.port), "PATH": str(BIN)}
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode
    finally:
        server.stop()


@pytest.mark.parametrize("ready", [True, False])
def test_the_image_and_compose_health_checks_pass_only_when_ready(ready: bool) -> None:
    [healthcheck] = [command for command in runtime_stage() if command.cmd == "HEALTHCHECK"]
    image_check = list(healthcheck.value[1:])
    assert (health_check_exit(image_check, 9464, ready=ready) == 0) is ready
    for part in PARTS:
        test = compose()["services"][part]["healthcheck"]["test"]
        assert test[0] == "CMD"
        assert (health_check_exit(test[1:], 9464, ready=ready) == 0) is ready


# --- compose ---------------------------------------------------------------------------


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
        [str(BIN / "one-bus"), "security", "init", "--data-dir", str(secure), "--nats-url",
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
    # The spec and password files are handed to the image's user, who alone may read them.
    assert f"chown -R {image_uid()}:{image_uid()} /secure/security/specs" in text


def test_compose_runs_ingest_and_query_apart_as_their_own_identities() -> None:
    services = compose()["services"]
    for part, flag in PARTS.items():
        service = services[part]
        assert service["command"] == ["serve", flag]
        environment = service["environment"]
        assert set(environment) <= SETTINGS
        assert environment["ONE_NATS_CREDENTIALS_FILE"].endswith(f"/specs/{part}.json")
        assert "@" not in environment["ONE_MONGODB_URI"]
        assert "ONE_MONGODB_PASSWORD_FILE" in environment
        assert not any("PASSWORD" in key and not key.endswith("_FILE") for key in environment)
    assert services["query"]["deploy"]["replicas"] == 2
    assert "one-bus" not in services  # no process holds both identities


def test_compose_checks_health_and_restarts() -> None:
    services = compose()["services"]
    for name in ("nats", "mongo", "ingest", "query"):
        assert "healthcheck" in services[name], name
        assert services[name]["restart"] == "unless-stopped", name
    for part in PARTS:
        depends = services[part]["depends_on"]
        assert depends == {
            "nats": {"condition": "service_healthy"},
            "mongo": {"condition": "service_healthy"},
        }
        readyz = " ".join(services[part]["healthcheck"]["test"])
        port = services[part]["environment"]["ONE_METRICS_PORT"]
        assert f"127.0.0.1:{port}/readyz" in readyz
    # The store's check fails unless the replica set has a primary: `rs.status().ok` alone
    # printed 1 or 0 and exited 0 either way.
    mongo_check = services["mongo"]["healthcheck"]["test"]
    assert "quit(rs.status().myState === 1 ? 0 : 1)" in mongo_check
    assert "--replSet=rs0" in services["mongo"]["command"]


# --- Kubernetes ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_each_part_runs_alone_with_its_own_identity(name: str) -> None:
    manifests = rendered(name)
    config = one(manifests, "ConfigMap", "one-bus")
    for part, flag in PARTS.items():
        deployment = one(manifests, "Deployment", f"one-bus-{part}")
        (container,) = pod_spec(deployment)["containers"]
        assert container["args"] == ["serve", flag]
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "nats-credentials"]
        [volume] = [v for v in pod_spec(deployment)["volumes"] if v["name"] == "nats-credentials"]
        spec = config["data"]["ONE_NATS_CREDENTIALS_FILE"]
        files = {
            f"{mount['mountPath']}/{item['path']}": item["key"]
            for item in volume["secret"]["items"]
        }
        assert files[spec] == f"{part}.json"  # its identity, and no other
        assert not {"service.json", "operator.json"} & set(files.values())
        assert not ({"ingest.json", "query.json"} - {f"{part}.json"}) & set(files.values())
        # Query answers as the responder identity, on a second connection; ingest never.
        responder = config["data"]["ONE_NATS_RESPONDER_CREDENTIALS_FILE"]
        if part == "query":
            assert files[responder] == "responder.json"
        else:
            assert "responder.json" not in files.values()


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_the_service_gets_known_settings_and_secrets_only_from_secrets(name: str) -> None:
    manifests = rendered(name)
    config = one(manifests, "ConfigMap", "one-bus")["data"]
    assert set(config) <= SETTINGS
    assert not any("PASSWORD" in key and not key.endswith("_FILE") for key in config)
    assert config["ONE_NATS_URL"].startswith("tls://")
    for part in PARTS:
        deployment = one(manifests, "Deployment", f"one-bus-{part}")
        (container,) = pod_spec(deployment)["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": config_name(manifests)}}]
        for variable in container["env"]:
            assert variable["name"] in SETTINGS
            assert "value" not in variable  # from Secrets only
        mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
        for key in ("ONE_NATS_CREDENTIALS_FILE", "ONE_NATS_TLS_CA", "ONE_MONGODB_PASSWORD_FILE"):
            assert str(Path(config[key]).parent) in mounted, key
        assert {secret for secret, _ in secret_refs(deployment)} == {
            "one-bus-nats",
            "one-bus-mongodb",
        }


def config_name(manifests: tuple[Manifest, ...]) -> str:
    name: str = one(manifests, "ConfigMap", "one-bus")["metadata"]["name"]
    return name


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_the_pods_start_as_a_kubelet_requires_and_are_probed_on_the_health_paths(
    name: str,
) -> None:
    manifests = rendered(name)
    port = int(one(manifests, "ConfigMap", "one-bus")["data"]["ONE_METRICS_PORT"])
    for part in PARTS:
        deployment = one(manifests, "Deployment", f"one-bus-{part}")
        pod = pod_spec(deployment)
        (container,) = pod["containers"]
        assert pod["securityContext"]["runAsUser"] == image_uid()
        assert container["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        [container_port] = container["ports"]
        assert container_port["containerPort"] == port
        probes = {probe: container[probe]["httpGet"] for probe in ("startupProbe", "livenessProbe")}
        probes["readinessProbe"] = container["readinessProbe"]["httpGet"]
        assert probes["startupProbe"]["path"] == "/healthz"
        assert probes["livenessProbe"]["path"] == "/healthz"
        assert probes["readinessProbe"]["path"] == "/readyz"
        assert all(probe["port"] == container_port["name"] for probe in probes.values())
        assert container["resources"]["requests"]
        assert container["resources"]["limits"]
        assert pod["terminationGracePeriodSeconds"] > Settings().drain_timeout_s


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_every_image_is_versioned_and_pulled_only_when_missing(name: str) -> None:
    for workload in workloads(rendered(name)):
        for container in containers(workload):
            image = container["image"]
            assert ":" in image, image
            assert not image.endswith(":latest"), image
            assert container["imagePullPolicy"] == "IfNotPresent", image
            # What the "restricted" pod security level (the production namespace) requires.
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod_spec(workload)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_metrics_are_scraped_from_both_parts_and_query_scales(name: str) -> None:
    manifests = rendered(name)
    service = one(manifests, "Service", "one-bus-metrics")
    [port] = service["spec"]["ports"]
    pdbs = of_kind(manifests, "PodDisruptionBudget")
    for part in PARTS:
        deployment = one(manifests, "Deployment", f"one-bus-{part}")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        (container,) = pod_spec(deployment)["containers"]
        assert port["targetPort"] in {p["name"] for p in container["ports"]}
        assert pdbs[f"one-bus-{part}"]["spec"]["selector"]["matchLabels"] == labels
    hpa = one(manifests, "HorizontalPodAutoscaler", "one-bus-query")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "one-bus-query"
    assert hpa["spec"]["minReplicas"] >= 2
    # The HPA owns the count: a replica count in the Deployment would reset it on apply.
    assert "replicas" not in one(manifests, "Deployment", "one-bus-query")["spec"]
    ingest = one(manifests, "Deployment", "one-bus-ingest")
    assert ingest["spec"]["replicas"] > pdbs["one-bus-ingest"]["spec"]["minAvailable"]
    assert hpa["spec"]["minReplicas"] > pdbs["one-bus-query"]["spec"]["minAvailable"]


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_nats_and_mongodb_are_replicated_and_match_the_service_settings(name: str) -> None:
    manifests = rendered(name)
    config = one(manifests, "ConfigMap", "one-bus")["data"]
    nats = one(manifests, "StatefulSet", "nats")
    mongo = one(manifests, "StatefulSet", "mongo")
    assert nats["spec"]["replicas"] == mongo["spec"]["replicas"] == 3
    assert int(config["ONE_STREAM_REPLICAS"]) <= nats["spec"]["replicas"]
    assert urlsplit(config["ONE_NATS_URL"]).hostname in of_kind(manifests, "Service")
    for workload in (nats, mongo):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        pdb = of_kind(manifests, "PodDisruptionBudget")[workload["metadata"]["name"]]
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"] == labels
        assert pod_spec(workload)["securityContext"]["runAsUser"] != 0
    members = [f"mongo-{i}.mongo:27017" for i in range(mongo["spec"]["replicas"])]
    job = one(manifests, "Job", "mongo-rs-init")
    script = pod_spec(job)["containers"][0]["args"][0]
    assert all(f'host: "{member}"' in script for member in members)
    uri = documented_secrets()["one-bus-mongodb"]["uri"]
    assert urlsplit(uri).netloc == ",".join(members)
    assert parse_qs(urlsplit(uri).query)["replicaSet"] == ["rs0"]
    assert "--replSet=rs0" in pod_spec(mongo)["containers"][0]["args"]


def test_production_keeps_every_message_on_three_nodes() -> None:
    base, production = rendered("base"), rendered("production")
    assert one(production, "ConfigMap", "one-bus")["data"]["ONE_STREAM_REPLICAS"] == "3"
    assert {m["metadata"].get("namespace") for m in production} - {None} == {"one-bus"}
    labels = one(production, "Namespace", "one-bus")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for kind, name in (
        ("Deployment", "one-bus-ingest"),
        ("HorizontalPodAutoscaler", "one-bus-query"),
    ):
        count = "replicas" if kind == "Deployment" else "minReplicas"
        assert one(production, kind, name)["spec"][count] > one(base, kind, name)["spec"][count]
    for name in ("nats", "mongo"):
        affinity = pod_spec(one(production, "StatefulSet", name))["affinity"]["podAntiAffinity"]
        assert "requiredDuringSchedulingIgnoredDuringExecution" in affinity


# --- Secrets: documented, made from what `security init` writes -------------------------


def test_every_secret_key_a_pod_reads_is_made_by_the_documented_commands(
    tmp_path: Path,
) -> None:
    secrets = documented_secrets()
    layout = documented_init(tmp_path / "secure")
    for name in KUSTOMIZATIONS:
        for workload in workloads(rendered(name)):
            for secret, key in secret_refs(workload):
                assert key in secrets.get(secret, {}), (workload["metadata"]["name"], secret, key)
    for secret, keys in secrets.items():
        for key, source in keys.items():
            if source.startswith("$DIR/"):
                assert (layout / source.removeprefix("$DIR/")).is_file(), (secret, key, source)
            else:
                assert "@" not in source, (secret, key)  # no user or password in a literal
                assert "password" not in source.lower(), (secret, key)


def test_the_documented_certificate_names_every_server_clients_reach(tmp_path: Path) -> None:
    layout = documented_init(tmp_path / "secure") / "security"
    certificate = x509.load_pem_x509_certificate((layout / "tls" / "server.pem").read_bytes())
    names = set(
        certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
    )
    manifests = rendered("base")
    config = one(manifests, "ConfigMap", "one-bus")["data"]
    assert urlsplit(config["ONE_NATS_URL"]).hostname in names
    uri = documented_secrets()["one-bus-mongodb"]["uri"]
    hosts = {host.split(":")[0] for host in urlsplit(uri).netloc.split(",")}
    assert hosts <= names
    # The MongoDB readiness probe asks the member on 127.0.0.1 over TLS.
    addresses = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert ip_address("127.0.0.1") in addresses.value.get_values_for_type(x509.IPAddress)
    # The MongoDB certificate is the same server certificate with its key.
    combined = (layout / "mongo" / "server-combined.pem").read_text()
    assert combined.startswith((layout / "tls" / "server.pem").read_text())
