"""The build context: which files to upload, a refusal to upload credentials, and a reproducible archive.

Which files are sent follows the tool the user already configured for it:

* ``.gcloudignore``: gcloud's rules, i.e. .gitignore syntax plus ``#!include:FILE`` lines;
* else ``.dockerignore``: Docker's rules, which differ from .gitignore (patterns are anchored to the context root,
  and ``!pattern`` can re-include a file inside an excluded directory);
* else ``.gitignore`` at the root plus defaults that no one wants to upload (``.git``, virtualenvs, caches).

Nothing here touches the network.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import pathspec

from deployer.errors import BadInput
from deployer.services.archive import ArchiveInfo, ArchiveStream
from deployer.services.filescan import FileFacts, scan_files

GCLOUDIGNORE = ".gcloudignore"
DOCKERIGNORE = ".dockerignore"
GITIGNORE = ".gitignore"
DEFAULTS = "defaults"

DEFAULT_IGNORES = (".git", ".venv", "venv", "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "node_modules")

_INCLUDE_DIRECTIVE = "#!include:"

_COPY_BUFFER = 1024 * 1024
_LARGEST_DIRS = 5


@dataclass(frozen=True)
class ContextFile:
    path: str  # posix, relative to the context directory
    size: int  # bytes of content; 0 for a symlink, whose target is not uploaded
    mode: int  # permission bits from lstat
    is_symlink: bool
    link_target: str | None
    # What tells a changed file from an unchanged one without reading it (the scan cache's key, with path and size).
    mtime_ns: int = 0
    inode: int = 0


@dataclass(frozen=True)
class ContextSummary:
    files: tuple[ContextFile, ...]  # sorted by path, component by component
    total_bytes: int
    ignore_file: str | None  # ".gcloudignore", ".dockerignore", ".gitignore" or "defaults"
    largest_dirs: tuple[tuple[str, int], ...]  # top-level folders by bytes, biggest first; "." is the root's files


def human_size(n: int) -> str:
    """Decimal units, as a person reads a size: "12 B", "340 KB", "1.2 MB"."""
    if n < 1000:
        return f"{n} B"
    value = float(n)
    units = ("KB", "MB", "GB", "TB", "PB")
    for unit in units:
        value /= 1000
        if value < 9.95:
            return f"{value:.1f} {unit}"
        if value < 999.5 or unit == units[-1]:
            return f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


# --- ignore rules ----------------------------------------------------------------------------------------------------


class _Rules(Protocol):
    def excluded(self, path: str, *, is_dir: bool) -> bool:
        """Whether ``path`` (posix, relative) is left out of the upload."""

    def can_skip(self, directory: str) -> bool:
        """Whether an excluded directory may go unvisited, because nothing below it can be re-included."""


class _GitIgnoreRules:
    """.gitignore semantics: an excluded directory is never entered, so nothing inside it can be re-included."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._spec = pathspec.GitIgnoreSpec.from_lines(list(lines))

    def excluded(self, path: str, *, is_dir: bool) -> bool:
        # The trailing slash lets directory-only patterns ("build/") match.
        return self._spec.match_file(f"{path}/" if is_dir else path)

    def can_skip(self, directory: str) -> bool:
        return True


@dataclass(frozen=True)
class _DockerPattern:
    regex: re.Pattern[str]
    reinclude: bool
    literal_prefix: tuple[str, ...]  # leading path components without wildcards


class _DockerIgnoreRules:
    """Docker's .dockerignore semantics (moby/patternmatcher), compiled to regular expressions.

    A path is excluded when it or any parent matches; the last matching pattern wins, so ``!pattern`` can bring
    back a file inside an excluded directory.
    """

    def __init__(self, patterns: list[_DockerPattern]) -> None:
        self._patterns = patterns

    def excluded(self, path: str, *, is_dir: bool) -> bool:
        parts = path.split("/")
        parents = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
        excluded = False
        for pattern in self._patterns:
            # Only a pattern that could change the answer is worth matching.
            if pattern.reinclude != excluded:
                continue
            if pattern.regex.match(path) or any(pattern.regex.match(parent) for parent in parents):
                excluded = not pattern.reinclude
        return excluded

    def can_skip(self, directory: str) -> bool:
        parts = tuple(directory.split("/"))
        for pattern in self._patterns:
            if not pattern.reinclude:
                continue
            prefix = pattern.literal_prefix
            shared = min(len(prefix), len(parts))
            # A re-include whose literal start agrees with this directory might match something inside it.
            if prefix[:shared] == parts[:shared]:
                return False
        return True


def _go_clean(path: str) -> str:
    """Go's filepath.Clean for '/'-separated paths, which Docker applies to every pattern."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
        else:
            parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the character class opened at ``start``, or -1."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i
        i += 1
    return -1


def _docker_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                # "**" spans any number of directories, including none.
                out.append(".*" if i >= n else "(?:.*/)?")
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if i + 1 < n:
                out.append(re.escape(pattern[i + 1]))
                i += 2
                continue
            out.append(re.escape(char))
        elif char == "[":
            end = _class_end(pattern, i)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end].replace("[", "\\[")
                out.append(f"[{body}]")
                i = end + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def _literal_prefix(pattern: str) -> tuple[str, ...]:
    prefix: list[str] = []
    for part in pattern.split("/"):
        if any(char in part for char in "*?[\\"):
            break
        prefix.append(part)
    return tuple(prefix)


def _parse_dockerignore(text: str, source: str) -> _DockerIgnoreRules:
    patterns: list[_DockerPattern] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        # Docker drops comments before trimming, so " #x" is a pattern, not a comment.
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        reinclude = line.startswith("!")
        if reinclude:
            line = line[1:].strip()
        if not line:
            raise BadInput(
                f'{source} line {number}: "!" needs a pattern after it',
                f"write the path to re-include after the ! on line {number} of {source}, or delete the line",
            )
        cleaned = _go_clean(line)
        if len(cleaned) > 1 and cleaned.startswith("/"):
            cleaned = cleaned[1:]
        try:
            regex = _docker_regex(cleaned)
        except re.error as exc:
            raise BadInput(
                f"{source} line {number}: cannot understand the pattern {line!r} ({exc})",
                f"fix the pattern on line {number} of {source}",
            ) from None
        patterns.append(_DockerPattern(regex, reinclude, _literal_prefix(cleaned)))
    return _DockerIgnoreRules(patterns)


def _read_ignore_file(context_dir: Path, name: str) -> str:
    try:
        # utf-8-sig: Docker strips a byte-order mark, and editors on Windows like to write one.
        return (context_dir / name).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise BadInput(f"cannot read {name}: {exc.strerror or exc}", f"check the permissions of {name}") from None


def _gcloudignore_lines(context_dir: Path, name: str, chain: tuple[str, ...]) -> list[str]:
    """The file's lines with every ``#!include:FILE`` replaced by that file's lines, recursively."""
    lines: list[str] = []
    for number, raw in enumerate(_read_ignore_file(context_dir, name).splitlines(), start=1):
        stripped = raw.strip()
        if not stripped.startswith(_INCLUDE_DIRECTIVE):
            lines.append(raw)
            continue
        target = posixpath.normpath(stripped[len(_INCLUDE_DIRECTIVE) :].strip().replace("\\", "/"))
        if not (context_dir / target).is_file():
            raise BadInput(
                f"{name} line {number}: {stripped}: there is no file {target} in the build context",
                f"create {target}, or remove line {number} from {name}",
            )
        if target in chain:
            loop = " -> ".join((*chain, target))
            raise BadInput(
                f"{name} line {number}: {stripped} includes itself ({loop})", "remove one of the #!include lines"
            )
        lines.extend(_gcloudignore_lines(context_dir, target, (*chain, target)))
    return lines


def _rules_for(context_dir: Path) -> tuple[_Rules, str]:
    if (context_dir / GCLOUDIGNORE).is_file():
        return _GitIgnoreRules(_gcloudignore_lines(context_dir, GCLOUDIGNORE, (GCLOUDIGNORE,))), GCLOUDIGNORE
    if (context_dir / DOCKERIGNORE).is_file():
        return _parse_dockerignore(_read_ignore_file(context_dir, DOCKERIGNORE), DOCKERIGNORE), DOCKERIGNORE
    if (context_dir / GITIGNORE).is_file():
        # The defaults come first so that the project's own .gitignore can re-include one of them.
        lines = [*DEFAULT_IGNORES, *_read_ignore_file(context_dir, GITIGNORE).splitlines()]
        return _GitIgnoreRules(lines), GITIGNORE
    return _GitIgnoreRules(DEFAULT_IGNORES), DEFAULTS


# --- choosing the files ----------------------------------------------------------------------------------------------


def _context_file(path: str, full_path: str, st: os.stat_result) -> ContextFile:
    if stat.S_ISLNK(st.st_mode):
        return ContextFile(path, 0, stat.S_IMODE(st.st_mode), True, os.readlink(full_path), st.st_mtime_ns, st.st_ino)
    return ContextFile(path, st.st_size, stat.S_IMODE(st.st_mode), False, None, st.st_mtime_ns, st.st_ino)


def _walk(context_dir: Path, rules: _Rules) -> list[ContextFile]:
    files: list[ContextFile] = []

    def visit(directory: str, prefix: str) -> None:
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            shown = prefix.rstrip("/") or "."
            raise BadInput(
                f"cannot read the folder {shown} in the build context: {exc.strerror or exc}",
                "fix its permissions, or exclude it in .dockerignore or .gcloudignore",
            ) from None
        for entry in entries:
            path = prefix + entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                # Deleted while we looked: nothing to upload.
                continue
            if stat.S_ISDIR(st.st_mode):
                if rules.excluded(path, is_dir=True) and rules.can_skip(path):
                    continue
                visit(entry.path, path + "/")
            elif (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)) and not rules.excluded(path, is_dir=False):
                files.append(_context_file(path, entry.path, st))
            # Sockets, FIFOs and devices have no content to build from; they are left out.

    visit(str(context_dir), "")
    return files


def _path_key(path: str) -> list[str]:
    return path.split("/")


def _dockerfile_path(context_dir: Path, dockerfile: Path) -> str:
    if not dockerfile.is_file():
        raise BadInput(
            f"Dockerfile {dockerfile} does not exist", "create it, or set the service's dockerfile = in deployer.toml"
        )
    # Resolving the parent (not the file) keeps a symlinked Dockerfile a symlink inside the context.
    relative = os.path.relpath(dockerfile.parent.resolve() / dockerfile.name, context_dir.resolve())
    relative = relative.replace(os.sep, "/")
    if relative == ".." or relative.startswith("../"):
        raise BadInput(
            f"the Dockerfile {dockerfile} is outside the build context {context_dir}",
            "Cloud Build only sees the uploaded context: move the Dockerfile inside it, "
            "or set the service's context = to a folder that contains it",
        )
    return relative


DEPLOY_CONFIG_FILE = "deployer.toml"


def select_context(context_dir: Path, dockerfile: Path) -> ContextSummary:
    """The files to upload from ``context_dir``; the Dockerfile being built is always among them."""
    if not context_dir.is_dir():
        raise BadInput(
            f"the build context {context_dir} does not exist or is not a folder",
            "set the service's context = in deployer.toml to a folder in the project",
        )
    dockerfile_path = _dockerfile_path(context_dir, dockerfile)
    rules, ignore_file = _rules_for(context_dir)
    files = {file.path: file for file in _walk(context_dir, rules)}
    # deployer.toml is deploy configuration, not application content: left in, an env change would rebuild.
    files.pop(DEPLOY_CONFIG_FILE, None)

    # Docker always sends the Dockerfile and .dockerignore, whatever the patterns say; the build needs the former.
    always = [dockerfile_path]
    if ignore_file == DOCKERIGNORE:
        always.append(DOCKERIGNORE)
    for path in always:
        if path not in files:
            full_path = context_dir / path
            files[path] = _context_file(path, str(full_path), full_path.lstat())

    ordered = tuple(sorted(files.values(), key=lambda file: _path_key(file.path)))
    by_dir: dict[str, int] = {}
    for file in ordered:
        top = file.path.split("/", 1)[0] if "/" in file.path else "."
        by_dir[top] = by_dir.get(top, 0) + file.size
    largest = sorted(by_dir.items(), key=lambda item: (-item[1], item[0]))[:_LARGEST_DIRS]
    return ContextSummary(
        files=ordered,
        total_bytes=sum(file.size for file in ordered),
        ignore_file=ignore_file,
        largest_dirs=tuple(largest),
    )


# --- refusing credentials and oversized uploads ----------------------------------------------------------------------


def scan_context(context_dir: Path, files: Iterable[ContextFile], *, use_cache: bool = True) -> dict[str, FileFacts]:
    """Each file's content hash and credential verdict (services/filescan.py), from the cache where unchanged."""
    return scan_files(context_dir, files, use_cache=use_cache)


def find_credential_files(
    context_dir: Path, files: Iterable[ContextFile], facts: Mapping[str, FileFacts] | None = None
) -> list[tuple[str, str]]:
    """(path, reason) for each file that looks like a credential; the reason never quotes the file's content."""
    files = list(files)
    if facts is None:
        facts = scan_context(context_dir, files, use_cache=False)
    found: list[tuple[str, str]] = []
    for file in files:
        reason = facts[file.path].credential
        if reason is not None:
            found.append((file.path, reason))
    return found


def _normalize_relative(path: str) -> str:
    return posixpath.normpath(path.strip().replace("\\", "/")).removeprefix("./")


def _ignore_file_advice(summary: ContextSummary) -> str:
    if summary.ignore_file in (DOCKERIGNORE, GCLOUDIGNORE):
        return summary.ignore_file
    return f"a {DOCKERIGNORE} (or {GCLOUDIGNORE})"


def check_context(
    summary: ContextSummary,
    *,
    context_dir: Path,
    max_bytes: int,
    allow_large: bool,
    allowed_credentials: Collection[str],
    facts: Mapping[str, FileFacts] | None = None,
) -> None:
    """Refuse to upload credentials (unless allowed one by one) or more than ``max_bytes`` (unless ``allow_large``).

    ``facts`` are the files' scan results when the caller has them (``scan_context``); else the files are read.
    """
    allowed = {_normalize_relative(path) for path in allowed_credentials}
    credentials = [
        (path, why) for path, why in find_credential_files(context_dir, summary.files, facts) if path not in allowed
    ]
    if credentials:
        listing = "\n".join(f"  {path}: {why}" for path, why in credentials)
        raise BadInput(
            f"refusing to upload {len(credentials)} file(s) that look like credentials:\n{listing}",
            f"exclude them in {_ignore_file_advice(summary)}, or allow one explicitly with "
            "--allow-credential-file PATH (or build.allow_credential_files in deployer.toml)",
        )
    if summary.total_bytes > max_bytes and not allow_large:
        largest = ", ".join(f"{name} ({human_size(size)})" for name, size in summary.largest_dirs)
        raise BadInput(
            f"the build context is {human_size(summary.total_bytes)} in {len(summary.files)} files, over the "
            f"{human_size(max_bytes)} limit; largest folders: {largest}",
            f"exclude what the image does not need in {_ignore_file_advice(summary)}, "
            "or pass --max-context-mb N or --allow-large-context",
        )


# --- the archive -----------------------------------------------------------------------------------------------------


def write_archive(context_dir: Path, summary: ContextSummary, out: BinaryIO) -> ArchiveInfo:
    """The tar.gz of the summary's files written to ``out`` (services/archive.py produces it)."""
    with ArchiveStream(context_dir, summary.files) as stream:
        while chunk := stream.read(_COPY_BUFFER):
            out.write(chunk)
        return stream.info()
