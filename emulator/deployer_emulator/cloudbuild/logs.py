"""The build log: a local file, and the ``log-ID.txt`` object that grows while the build runs."""

from __future__ import annotations

import threading
from pathlib import Path

from deployer_emulator.core import Emulator
from deployer_emulator.errors import ApiError
from deployer_emulator.storage.store import append_object


class _LogWriter:
    """The build log: a local file (for ``logUrl``) and, when GCS logging is on, an object that grows as it goes."""

    def __init__(self, emulator: Emulator, local: Path, gcs: tuple[str, str] | None) -> None:
        self._emulator = emulator
        self._local = local
        self._gcs = gcs
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.failure: str | None = None
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(b"")
        self._flusher = threading.Thread(target=self._flush_loop, name=f"build log {local.stem}", daemon=True)
        self._flusher.start()

    def line(self, text: str) -> None:
        data = (text + "\n").encode("utf-8", errors="replace")
        with self._lock:
            with self._local.open("ab") as fh:
                fh.write(data)
            self._pending += data

    def flush(self) -> None:
        with self._lock:
            data, self._pending = bytes(self._pending), bytearray()
            if not data or self._gcs is None or self.failure is not None:
                return
            try:
                append_object(self._emulator, self._gcs[0], self._gcs[1], data)
            except ApiError as exc:
                self.failure = f"failed to write logs to gs://{self._gcs[0]}/{self._gcs[1]}: {exc.message}"

    def _flush_loop(self) -> None:
        # Flushed a few times a second so a client tailing the object with ranged reads sees the log grow.
        while not self._stop.wait(0.25):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._flusher.join(timeout=5)
        self.flush()
