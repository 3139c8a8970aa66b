"""A build's workspace: the source unpacked safely, and the processes its steps leave behind stopped."""

from __future__ import annotations

import os
import signal
import tarfile
import time
import zipfile
from pathlib import Path


# -- source extraction -----------------------------------------------------------------------------------------------
def _extract_source(archive: Path, workspace: Path) -> None:
    """Unpack a .tar.gz (or .zip) source into the workspace, refusing absolute paths, ``..`` and links outside."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            root = workspace.resolve()
            for info in zf.infolist():
                target = (workspace / info.filename).resolve()
                if info.filename.startswith("/") or not target.is_relative_to(root):
                    raise ValueError(f"unsafe path in source archive: {info.filename!r}")
            zf.extractall(workspace)
        return
    with tarfile.open(archive, "r:*") as tf:
        # The "data" filter (PEP 706) rejects absolute names, "..", links escaping the directory and device files.
        tf.extractall(workspace, filter="data")


# -- running processes -----------------------------------------------------------------------------------------------
def _process_parents() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc (empty where there is no /proc)."""
    parents: dict[int, int] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return parents
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return parents


def _children_in(directory: Path) -> list[int]:
    """This process's children whose working directory is ``directory``: the engine CLI building a step."""
    me, target = os.getpid(), str(directory)
    found: list[int] = []
    for pid, ppid in _process_parents().items():
        if ppid != me:
            continue
        try:
            if os.readlink(f"/proc/{pid}/cwd") == target:
                found.append(pid)
        except OSError:
            continue
    return found


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = [p for p in pids if Path(f"/proc/{p}").exists()]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if Path(f"/proc/{p}").exists()]
    return alive


def _stop_children(directory: Path) -> None:
    """Stop the engine build running in ``directory`` (cancel, timeout).

    Killing podman itself leaves buildah's working container behind, so first the processes of the RUN instruction
    are killed (the engine's grandchildren and below, under the OCI runtime): the instruction fails, and podman
    removes its intermediate container and exits as for any failed build. When the engine is not inside a RUN
    (pulling, committing) it gets SIGTERM, then SIGKILL.
    """
    engines = _children_in(directory)
    if not engines:
        return
    parents = _process_parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)

    def below(pid: int, depth: int) -> list[int]:
        found: list[int] = []
        for child in children.get(pid, []):
            if depth >= 1:
                found.append(child)
            found += below(child, depth + 1)
        return found

    # Repeated for a few seconds: a build stopped while pulling or between instructions reaches its next RUN soon.
    alive = engines
    deadline = time.monotonic() + 5
    while alive and time.monotonic() < deadline:
        _signal([pid for engine in alive for pid in below(engine, 0)], signal.SIGKILL)
        alive = _wait_gone(alive, 0.2)
        parents = _process_parents()
        children = {}
        for pid, ppid in parents.items():
            children.setdefault(ppid, []).append(pid)
    _signal(alive, signal.SIGTERM)
    _signal(_wait_gone(alive, 5), signal.SIGKILL)
