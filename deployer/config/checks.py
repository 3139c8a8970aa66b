"""Checks shared by every section of the configuration, and by flags and environment variables.

Each raises ``ValueError`` with a message that says what is allowed; ``load.py`` turns pydantic's errors into one
``BadInput`` that names the file, the key and the value. Nothing here knows a section: the sections import this.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import AfterValidator

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_REPOSITORY_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MEMORY_RE = re.compile(r"^(\d+)(Mi|Gi)$")
DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

MAX_REPOSITORY_ID = 63
CPU_VALUES = ("1", "2", "4", "6", "8")
MIN_MEMORY_MIB = 512
MAX_MEMORY_MIB = 32 * 1024


def quoted(value: object) -> str:
    """A value as TOML writes it, for messages: strings in double quotes."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest known name, or "" when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def matching(
    pattern: re.Pattern[str], message: str | Callable[[str], str], *, max_length: int | None = None
) -> Callable[[str], str]:
    """A check that ``pattern`` matches the whole value (of at most ``max_length`` characters); ``message`` (or
    ``message(value)``) says what is allowed."""

    def check(value: str) -> str:
        if (max_length is not None and len(value) > max_length) or not pattern.fullmatch(value):
            raise ValueError(message(value) if callable(message) else message)
        return value

    return check


def strings_only(check: Callable[[str], Any]) -> Callable[[object], Any]:
    """``check`` as a before-validator: anything but a string is refused first, so the check may call str methods."""

    def run(value: object) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return check(value)

    return run


check_project = matching(
    _PROJECT_RE,
    "a project id is 6 to 30 characters: lowercase letters, digits and hyphens, "
    "starting with a letter and not ending with a hyphen",
)
check_region = matching(_REGION_RE, 'a region looks like "europe-west4" or "us-central1"')


check_repository = matching(
    _REPOSITORY_RE,
    f"an Artifact Registry repository id is at most {MAX_REPOSITORY_ID} characters: lowercase letters, "
    "digits and hyphens, starting with a letter and ending with a letter or digit",
    max_length=MAX_REPOSITORY_ID,
)


# A shell-safe environment variable name (any container: Cloud Run or a VM).
check_env_name_syntax = matching(
    _ENV_NAME_RE,
    lambda value: (
        f"invalid environment variable name {quoted(value)}: allowed are letters, digits and underscores, "
        "not starting with a digit"
    ),
)


def secret_env_problems(env: dict[str, str], secret_env: tuple[str, ...]) -> list[str]:
    """``secret_env`` may only name keys of ``env``: a misspelt mark would leave the real key unmasked."""
    unknown = [name for name in secret_env if name not in env]
    if not unknown:
        return []
    allowed = ", ".join(sorted(env)) or "none: env is empty"
    return [
        f"secret_env = {list(secret_env)} names {', '.join(quoted(n) for n in unknown)}, which env does not set; "
        f"secret_env lists keys of env (here: {allowed})"
    ]


def check_email(value: str) -> str:
    if value and not _EMAIL_RE.fullmatch(value):
        raise ValueError('a service account is an email address like "runner@my-proj.iam.gserviceaccount.com"')
    return value


def _check_relative_path(value: str) -> str:
    if not value.strip():
        raise ValueError("must be a path relative to the project directory, not empty")
    return value


RelativePath = Annotated[str, AfterValidator(_check_relative_path)]
DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "pattern": DURATION_RE.pattern}, {"type": "integer"}],
    "description": 'A duration like "600s", "20m" or "1h" (or a number of seconds).',
}
ServiceAccountEmail = Annotated[str, AfterValidator(check_email)]

# A predefined role (roles/SERVICE.NAME) or a custom one (projects/P/roles/ID, organizations/N/roles/ID).
_ROLE_RE = re.compile(r"roles/[a-zA-Z0-9_.]+|(?:projects/[a-z][-a-z0-9:.]*|organizations/[0-9]+)/roles/[a-zA-Z0-9_.]+")


def check_role(value: str) -> str:
    if not _ROLE_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a role: roles look like roles/storage.objectViewer (or projects/P/roles/ID for a "
            "custom one)"
        )
    return value


# roles = [...] on a service or VM: granted to the runtime account by `deployer bootstrap`.
WorkloadRoles = tuple[Annotated[str, AfterValidator(check_role)], ...]


def to_seconds(
    value: object, pattern: re.Pattern[str], units: tuple[int, ...], low: int, high: int, allowed: str
) -> int:
    """A whole number of seconds, or a string whose ``pattern`` groups count ``units`` seconds each, within
    ``low..high``; ``allowed`` says in words what is accepted."""
    if isinstance(value, bool):
        raise ValueError(f"must be {allowed}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        match = pattern.fullmatch(value.strip())
        if not value.strip() or match is None:
            raise ValueError(f"must be {allowed}")
        seconds = sum(int(part) * unit for part, unit in zip(match.groups(), units, strict=True) if part)
    else:
        raise ValueError(f"must be {allowed}")
    if not low <= seconds <= high:
        raise ValueError(f"must be {allowed} (got {seconds}s)")
    return seconds


def parse_duration(value: object, *, low: int, high: int) -> int:
    """``"600s"``, ``"20m"``, ``"1h30m"`` or a bare number of seconds, to seconds within ``low..high``."""
    allowed = f'a duration like "600s", "20m" or "1h" between {low}s and {high}s'
    return to_seconds(value, DURATION_RE, (3600, 60, 1), low, high, allowed)


def normalize_cpu(value: object) -> str:
    """``1``, ``"2"``, ``4.0`` or ``"1000m"`` to Cloud Run's ``"1"``..``"8"``."""
    allowed = "must be one of " + ", ".join(CPU_VALUES) + ' (a number or a string; "1000m"-style millicpu also works)'
    cpus: float | None = None
    if isinstance(value, bool):
        cpus = None
    elif isinstance(value, int | float):
        cpus = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            cpus = int(text[:-1]) / 1000 if text.endswith("m") else float(text)
        except ValueError:
            cpus = None
    if cpus is None or not cpus.is_integer() or str(int(cpus)) not in CPU_VALUES:
        raise ValueError(allowed)
    return str(int(cpus))


def memory_mib(memory: str) -> int:
    """MiB in an already normalized memory limit such as ``"512Mi"`` or ``"2Gi"``."""
    match = MEMORY_RE.fullmatch(memory)
    if match is None:
        raise ValueError(f"not a memory limit: {memory!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return amount * 1024 if unit == "Gi" else amount


def normalize_memory(value: object) -> str:
    """``"1024Mi"`` to ``"1Gi"``; anything outside 512Mi..32Gi or not in Mi/Gi is refused."""
    allowed = 'must be a memory limit like "512Mi" or "2Gi" (a whole number of Mi or Gi) from 512Mi to 32Gi'
    if not isinstance(value, str) or MEMORY_RE.fullmatch(value.strip()) is None:
        raise ValueError(allowed)
    mib = memory_mib(value.strip())
    if not MIN_MEMORY_MIB <= mib <= MAX_MEMORY_MIB:
        raise ValueError(allowed)
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"
