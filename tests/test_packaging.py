"""Pure tier: what `pip install .` gets. The wheel is built here with pip, as a user's install builds it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        if "hatchling" in built.stderr and ("No matching distribution" in built.stderr or "Could not" in built.stderr):
            pytest.skip(f"pip cannot get the build backend (hatchling) here: {built.stderr.strip()[-300:]}")
        raise AssertionError(built.stderr)
    (found,) = out.glob("gcp_deployer-*.whl")
    return found


def test_the_wheel_is_gcp_deployer_with_the_templates_and_the_build_config(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert metadata["Name"] == "gcp-deployer"
    for template in ("python-api", "gpu-pytorch", "batch-job"):
        assert f"deployer/templates/{template}/Dockerfile" in names
    assert "deployer/templates/github/deploy-service.yml" in names
    assert "deployer/cloudbuild.yaml" in names
    assert not [n for n in names if n.startswith("deployer_emulator/")]  # the emulator is its own distribution
    # The emulator is named by its path, never by a bare name an index could serve (dependency confusion).
    (emulator,) = [r for r in metadata.get_all("Requires-Dist") or [] if r.startswith("gcp-deployer-emulator")]
    assert " @ file:" in emulator


def test_an_installed_wheel_finds_its_templates(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    code = (
        "import deployer; from deployer.shipped import shipped; print(deployer.__file__);"
        "print(shipped('templates', 'python-api', 'Dockerfile').read_text().splitlines()[0]);"
        "print(shipped('cloudbuild.yaml').read_text().splitlines()[0])"
    )
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    where, dockerfile, build_config = result.stdout.splitlines()
    assert where.startswith(str(tmp_path / "site"))  # the wheel's copy, not this checkout
    assert dockerfile == (ROOT / "templates" / "python-api" / "Dockerfile").read_text().splitlines()[0]
    assert build_config == (ROOT / "cloudbuild.yaml").read_text().splitlines()[0]
