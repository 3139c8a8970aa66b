"""The local container engine (podman or docker CLI) that really builds and runs images for the emulator.

Chosen by ``DEPLOYER_EMULATOR_ENGINE`` (podman, docker or none), else the first of podman and docker that answers
``info``. Without one the emulator says so: builds are recorded as not executed and no URL pretends to serve.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

LABEL = "dev.deployer_emulator"  # every container the emulator starts carries it, so all can be found and removed


@dataclass(frozen=True)
class Engine:
    name: str  # "podman" or "docker"
    binary: str

    def _run(self, args: Sequence[str], *, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=timeout, check=False)

    def build(
        self,
        context_dir: Path,
        args: Sequence[str],
        on_line: Callable[[str], None],
        *,
        timeout_s: float,
    ) -> int:
        """Run ``<engine> build ARGS`` in ``context_dir``, streaming each output line; return the exit code."""
        env = dict(os.environ)
        # The docker CLI would use BuildKit and need buildx; the classic builder is what Cloud Build's docker runs.
        env.setdefault("DOCKER_BUILDKIT", "0")
        proc = subprocess.Popen(
            [self.binary, "build", *args],
            cwd=context_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=env,
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                on_line(line.rstrip("\n"))
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return 124

    def image_id(self, reference: str) -> str | None:
        """The image's config digest (``sha256:…``), or None when the engine does not have it."""
        result = self._run(["image", "inspect", "--format", "{{.Id}}", reference])
        if result.returncode != 0:
            return None
        image_id = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
        return image_id if image_id.startswith("sha256:") else f"sha256:{image_id}" if image_id else None

    def image_size(self, reference: str) -> int:
        result = self._run(["image", "inspect", "--format", "{{.Size}}", reference])
        try:
            return int(result.stdout.strip().splitlines()[0])
        except (ValueError, IndexError):
            return 0

    def tag(self, source: str, target: str) -> bool:
        return self._run(["tag", source, target]).returncode == 0

    def run_detached(
        self,
        image: str,
        *,
        name: str,
        env: dict[str, str],
        publish: dict[int, int],
        command: Sequence[str] = (),
        args: Sequence[str] = (),
        labels: dict[str, str] | None = None,
    ) -> tuple[str | None, str]:
        """Start a container in the background; (container id, engine output). Ports bind to 127.0.0.1 only."""
        argv = ["run", "-d", "--name", name, "--label", f"{LABEL}=1"]
        for key, value in (labels or {}).items():
            argv += ["--label", f"{key}={value}"]
        for key, value in env.items():
            argv += ["-e", f"{key}={value}"]
        for host_port, container_port in publish.items():
            argv += ["-p", f"127.0.0.1:{host_port}:{container_port}"]
        if command:
            argv += ["--entrypoint", command[0]]
        argv.append(image)
        argv += [*command[1:], *args]
        result = self._run(argv)
        if result.returncode != 0:
            return None, (result.stderr or result.stdout).strip()
        return result.stdout.strip().splitlines()[-1], ""

    def state(self, container_id: str) -> tuple[bool, int | None]:
        """(running, exit code when it has exited)."""
        result = self._run(["inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", container_id])
        if result.returncode != 0:
            return False, None
        running, _, code = result.stdout.strip().partition(" ")
        return running == "true", (None if running == "true" else int(code or 0))

    def logs(self, container_id: str, tail: int = 50) -> str:
        result = self._run(["logs", "--tail", str(tail), container_id])
        return (result.stdout + result.stderr).strip()

    def output(self, container_id: str, *, timestamps: bool = False) -> tuple[str, str]:
        """Everything the container wrote: (stdout, stderr), kept apart as the engine keeps them; with
        ``timestamps`` each line starts with the RFC 3339 time the engine received it and a space."""
        result = self._run(["logs", *(["--timestamps"] if timestamps else []), container_id])
        return result.stdout, result.stderr

    def remove(self, container_id: str) -> None:
        self._run(["rm", "-f", "-t", "2", container_id], timeout=60)

    def remove_all_started(self) -> None:
        result = self._run(["ps", "-aq", "--filter", f"label={LABEL}"])
        for container_id in result.stdout.split():
            self.remove(container_id)


def detect_engine() -> Engine | None:
    choice = os.environ.get("DEPLOYER_EMULATOR_ENGINE", "").strip().lower()
    if choice == "none":
        return None
    candidates = [choice] if choice else ["podman", "docker"]
    for name in candidates:
        binary = shutil.which(name)
        if binary is None:
            continue
        try:
            ok = subprocess.run([binary, "info"], capture_output=True, timeout=30, check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return Engine(name=name, binary=binary)
    return None
