"""Run the emulator program (distribution gcp-deployer-emulator, ``python -m deployer_emulator``) for
``deployer demo`` and ``deployer emulator start``.

deployer never imports the emulator: it starts it as a program, with the flags the emulator itself defines, and
reaches it over HTTP. The emulator's README documents those flags and the ready file it writes.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from deployer.errors import DeployerError

EMULATOR_MODULE = "deployer_emulator"


def emulator_argv(args: list[str]) -> list[str]:
    """The command that runs the emulator with ``args``; refuses with the fix when it is not installed."""
    # find_spec locates the program without importing it.
    if importlib.util.find_spec(EMULATOR_MODULE) is None:
        raise DeployerError(
            "the emulator is not installed (distribution gcp-deployer-emulator)",
            "install deployer from its repository, which installs both (pip install .), or: pip install ./emulator",
        )
    return [sys.executable, "-m", EMULATOR_MODULE, *args]


class LocalEmulator:
    """The emulator as a child process on a free port, in the open world, stopped by ``stop()`` or ``with``."""

    def __init__(self, *, state_dir: Path | None = None, startup_timeout_s: float = 60.0) -> None:
        self._state_dir = state_dir
        self._startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="deployer-emu-run-"))
        self.url = ""
        self.engine: str | None = None
        self.log_path = self._workdir / "emulator.log"

    def start(self) -> LocalEmulator:
        ready = self._workdir / "ready.json"
        args = ["--port", "0", "--ready-file", str(ready), "--quiet"]
        if self._state_dir is not None:
            args += ["--state-dir", str(self._state_dir)]
        argv = emulator_argv(args)
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self._startup_timeout_s
        while not ready.exists():
            if self._proc.poll() is not None:
                raise DeployerError(
                    f"the emulator exited during start-up (code {self._proc.returncode})",
                    f"see its output in {self.log_path}",
                )
            if time.monotonic() > deadline:
                self.stop()
                raise DeployerError("the emulator did not start in time", f"see its output in {self.log_path}")
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        self.url = info["url"]
        self.engine = info["engine"]
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> LocalEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
