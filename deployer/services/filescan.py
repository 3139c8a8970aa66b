"""One read of each context file: its content hash (for the content tag) and its credential scan, cached.

The content tag must be known before anything is compressed or uploaded, and an unchanged 700 MB context must be
known unchanged in well under a second. So each file's facts are cached in the user's cache directory
(``$XDG_CACHE_HOME/deployer``, else ``~/.cache/deployer``), keyed by what changes when the file does: path, size,
mtime in nanoseconds and inode. A file is read again when any of them differs, which is git's own rule for its
index; like git, an entry is not trusted when the file changed within the last seconds of the scan ("racy" files,
whose next change could keep the same mtime), so such files are read again next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from deployer.errors import BadInput
from deployer.services.credentials import CredentialScanner

# Bump when what is cached changes meaning (the hash, or the credential rules), so old answers are not reused.
CACHE_VERSION = 2
_READ_CHUNK = 1024 * 1024
_RACY_NS = 3_000_000_000
# hashlib and file reads release the GIL, so a few threads use the cores the machine has; more only thrash the disk.
_MAX_THREADS = 4


@dataclass(frozen=True)
class FileFacts:
    sha256: str  # of the content; of the link target for a symlink
    credential: str | None  # what kind of credential the file is, or None


class ContextEntry(Protocol):
    """A file or symlink of the build context, by its path (services/context.py's ContextFile has these fields)."""

    @property
    def path(self) -> str: ...
    @property
    def is_symlink(self) -> bool: ...
    @property
    def link_target(self) -> str | None: ...


class ScanFile(ContextEntry, Protocol):
    """What the scan needs of a context file: what tells whether its cached facts still hold."""

    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def inode(self) -> int: ...


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deployer"


def _cache_file(context_dir: Path) -> Path:
    key = hashlib.sha256(str(context_dir.resolve()).encode()).hexdigest()[:32]
    return cache_dir() / "files" / f"{key}.json"


def _load(path: Path) -> dict[str, list[Any]]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("version") != CACHE_VERSION:
        return {}
    entries = document.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save(path: Path, entries: dict[str, list[Any]]) -> None:
    # Written whole and renamed into place: a concurrent run reads the old cache or the new, never half of one.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"version": CACHE_VERSION, "entries": entries}, separators=(",", ":")))
        os.replace(temporary, path)
    except OSError:
        pass  # a cache that cannot be written costs time on the next run, nothing else


def _read_facts(context_dir: Path, file: ScanFile) -> FileFacts:
    if file.is_symlink:
        # Only the link is uploaded, never what it points to: its hash is its target's name.
        return FileFacts(hashlib.sha256((file.link_target or "").encode()).hexdigest(), None)
    digest = hashlib.sha256()
    scanner = CredentialScanner(file.path)
    try:
        with (context_dir / file.path).open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                digest.update(chunk)
                scanner.feed(chunk)
    except OSError as exc:
        raise BadInput(
            f"cannot read {file.path} in the build context: {exc.strerror or exc}",
            "fix its permissions, or exclude it in .dockerignore or .gcloudignore",
        ) from None
    return FileFacts(digest.hexdigest(), scanner.reason())


def scan_files(context_dir: Path, files: Iterable[ScanFile], *, use_cache: bool = True) -> dict[str, FileFacts]:
    """Each file's facts, by path: from the cache where the file is unchanged, else read (on a few threads)."""
    files = list(files)
    started_ns = time.time_ns()
    cache_path = _cache_file(context_dir)
    cached = _load(cache_path) if use_cache else {}
    facts: dict[str, FileFacts] = {}
    to_read: list[ScanFile] = []
    for file in files:
        entry = cached.get(file.path)
        if entry is not None and entry[:3] == [file.size, file.mtime_ns, file.inode]:
            facts[file.path] = FileFacts(entry[3], entry[4])
        else:
            to_read.append(file)
    if to_read:
        # Largest first, so one big file does not start last and leave the other threads idle.
        to_read.sort(key=lambda file: -file.size)
        threads = min(_MAX_THREADS, os.cpu_count() or 1, len(to_read))
        if threads > 1:
            with ThreadPoolExecutor(threads, thread_name_prefix="deployer-scan") as pool:
                found = list(pool.map(lambda file: _read_facts(context_dir, file), to_read))
        else:
            found = [_read_facts(context_dir, file) for file in to_read]
        facts.update((file.path, fact) for file, fact in zip(to_read, found, strict=True))
    if use_cache and (to_read or len(cached) != len(files)):
        entries = {
            file.path: [file.size, file.mtime_ns, file.inode, facts[file.path].sha256, facts[file.path].credential]
            for file in files
            if file.mtime_ns < started_ns - _RACY_NS
        }
        _save(cache_path, entries)
    return facts
