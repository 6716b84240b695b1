"""`make run` and `make test` install what each needs, quietly unless the install fails.

Run against a stand-in interpreter (it records what it was asked to install and prints
pip-like noise), so the Makefile's own behaviour is what is tested, not pip's.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# `python -m venv DIR` makes DIR/bin/{python,one-bus}; DIR/bin/python records each
# `pip install` it is asked for, prints 500 lines, and fails when PIP_FAILS is set.
FAKE_PYTHON = r"""#!/usr/bin/env bash
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"
    cp "$0" "$3/bin/python"
    printf '#!/usr/bin/env bash\necho "one-bus $*"\n' > "$3/bin/one-bus"
    chmod +x "$3/bin/python" "$3/bin/one-bus"
    exit 0
fi
echo "$*" >> "$(dirname "$0")/../installs"
for i in $(seq 500); do echo "Collecting package-$i"; done
if [ -n "$PIP_FAILS" ]; then echo "ERROR: No matching distribution found" >&2; exit 1; fi
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return tmp_path


def make(project: Path, target: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target, f"PYTHON={project / 'fake-python'}"],
        cwd=project,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        check=False,
    )


def installs(project: Path) -> list[str]:
    return (project / ".venv" / "installs").read_text().splitlines()


def test_make_run_installs_the_runtime_and_embedded_servers_only_and_quietly(
    project: Path,
) -> None:
    ran = make(project, "run")

    assert ran.returncode == 0, ran.stderr
    assert [line.split()[-1] for line in installs(project)] == [".[embedded]"]
    assert "Collecting" not in ran.stdout + ran.stderr
    assert ran.stdout.splitlines()[-1] == "one-bus dev"
    assert "Collecting package-500" in (project / ".venv" / "pip-install.log").read_text()

    again = make(project, "run")  # installed already: nothing reinstalled
    assert (again.returncode, len(installs(project))) == (0, 1)


def test_make_test_still_installs_the_dev_toolchain(project: Path) -> None:
    make(project, "install")
    assert [line.split()[-1] for line in installs(project)] == [".[dev]"]
    # .[dev] includes .[embedded]: `make run` after it installs nothing more.
    assert make(project, "run").returncode == 0
    assert len(installs(project)) == 1


def test_a_failed_install_shows_pips_output_and_fails(project: Path) -> None:
    ran = make(project, "run", PIP_FAILS="1")

    assert ran.returncode != 0
    assert "No matching distribution found" in ran.stdout + ran.stderr
    assert "Collecting package-500" in ran.stdout
    assert "one-bus dev" not in ran.stdout
