"""Every deployment file validated offline against the specification its tool reads:
the rendered Kubernetes manifests against the Kubernetes schemas, the compose file
against the Compose specification, the NATS configuration by nats-server itself."""

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.deploy.manifests import (
    BIN,
    KUSTOMIZATIONS,
    ROOT,
    compose,
    documented_init,
    one,
    pod_spec,
    rendered,
)

# The oldest Kubernetes still commonly run and the newest the schemas bundle.
VERSIONS = ("1.30.0", "1.37.0")


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_manifest_follows_the_kubernetes_schemas(name: str, version: str) -> None:
    manifests = rendered(name)
    kinds = {m["kind"] for m in manifests}
    assert {"Deployment", "StatefulSet", "Service", "HorizontalPodAutoscaler"} <= kinds
    assert {"PodDisruptionBudget", "ConfigMap", "Job", "NetworkPolicy"} <= kinds
    for manifest in manifests:
        # strict: an unknown or misplaced field fails, as `kubectl apply` would reject it.
        # A kind without a schema raises SchemaNotFoundError: nothing passes unchecked.
        kubernetes_validate.validate(manifest, version, strict=True)


def test_a_broken_manifest_is_refused() -> None:
    """The validation above can fail: a probe with a misspelt field does."""
    deployment = one(rendered("base"), "Deployment", "one-bus-ingest")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
         str(ROOT / "docker-compose.yml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_compose_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = (ROOT / "docker-compose.yml").read_text()
    # A misspelt key in a service: the specification allows no unknown one there.
    broken.write_text(text.replace("\n  nats:\n", "\n  nats:\n    restarts: always\n", 1))
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_nats_server_accepts_the_cluster_configuration(name: str, tmp_path: Path) -> None:
    """`nats-server -t` on the ConfigMap's nats.conf, with the files the Secret projects
    beside it taken from `security init` and the pod's environment."""
    manifests = rendered(name)
    config = one(manifests, "ConfigMap", "nats-config")["data"]["nats.conf"]
    statefulset = one(manifests, "StatefulSet", "nats")
    (container,) = pod_spec(statefulset)["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    etc, data = tmp_path / "etc", tmp_path / "data"
    etc.mkdir()
    config = config.replace(mounts["config"] + "/", f"{etc}/").replace(mounts["data"], str(data))
    (etc / "nats.conf").write_text(config)
    layout = documented_init(tmp_path / "secure") / "security"
    [projected] = [v for v in pod_spec(statefulset)["volumes"] if v["name"] == "config"]
    [secret] = [s["secret"] for s in projected["projected"]["sources"] if "secret" in s]
    files = {"auth.conf": "nats/auth.conf", "server.pem": "tls/server.pem"}
    files["server-key.pem"] = "tls/server-key.pem"
    for item in secret["items"]:
        shutil.copy(layout / files[item["key"]], etc / item["path"])
    env = {"SERVER_NAME": f"{statefulset['metadata']['name']}-0"}
    env |= {v["name"]: v["value"] for v in container["env"] if "value" in v}
    result = subprocess.run(
        [str(BIN / "nats-server"), "-t", "-c", str(etc / "nats.conf")],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    routes = {f"nats://nats-{i}.nats-headless:6222" for i in range(statefulset["spec"]["replicas"])}
    assert routes <= set(config.split()), "a route per node"


def shell_scripts() -> list[tuple[str, str, str]]:
    """(where, shell, script) for every inline script the deployment files run."""
    scripts = []
    for name in KUSTOMIZATIONS:
        for manifest in rendered(name):
            if manifest["kind"] not in ("Deployment", "StatefulSet", "Job"):
                continue
            spec = pod_spec(manifest)
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                command = container.get("command", [])
                if (
                    command[:1] in (["sh"], ["bash"])
                    and command[-1].startswith("-")
                    and "c" in command[-1]
                ):
                    where = f"{name}/{manifest['metadata']['name']}/{container['name']}"
                    scripts.append((where, command[0], container["args"][0]))
    services = compose()["services"]
    for name, service in services.items():
        if service.get("entrypoint") == ["sh", "-c"]:
            scripts.append((f"compose/{name}", "sh", service["command"][0]))
        test = service.get("healthcheck", {}).get("test")
        if isinstance(test, str):  # a string runs with /bin/sh -c; `$$` is compose's `$`
            scripts.append((f"compose/{name}/healthcheck", "sh", test.replace("$$", "$")))
    return scripts


def test_every_inline_shell_script_parses() -> None:
    scripts = shell_scripts()
    assert {where.split("/")[0] for where, _, _ in scripts} >= {"base", "production", "compose"}
    for where, shell, script in scripts:
        result = subprocess.run([shell, "-n", "-c", script], capture_output=True, text=True)
        assert result.returncode == 0, (where, result.stderr)
