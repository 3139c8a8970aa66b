"""The emulator's command line (__main__.py): it is not a door. A --host other than loopback is refused unless
--insecure-bind is given, and then it warns that anyone who can reach the port can build and run code."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def _start(*args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "deployer_emulator", "--port", "0", "--quiet", *args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_host_other_than_loopback_is_refused_and_nothing_listens(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = _start("--host", "0.0.0.0", "--ready-file", str(ready))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "--host 0.0.0.0 is not a loopback address" in stderr
    assert "--insecure-bind" in stderr
    assert not ready.exists()


def test_insecure_bind_listens_with_a_warning(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = _start("--host", "0.0.0.0", "--insecure-bind", "--ready-file", str(ready), "--state-dir", str(tmp_path))
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), process.stderr.read() if process.stderr else ""
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    assert "warning: listening on 0.0.0.0: anyone who can reach this port can build and run code here" in stderr
