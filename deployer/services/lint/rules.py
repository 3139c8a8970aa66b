"""deployer's own rules (the table in lint/__init__.py), each over the parsed Dockerfile."""

from __future__ import annotations

import re
from pathlib import Path

from deployer.services.lint.dockerfile import Dockerfile, Instruction, Stage
from deployer.services.lint.finding import Finding

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
