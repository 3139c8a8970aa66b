"""The shape of deployer.toml (or ``[tool.deployer]`` in pyproject.toml), validated with pydantic.

Every validator raises ``ValueError`` with a message that says what is allowed; ``load.py`` turns pydantic's
errors into one ``BadInput`` that names the file, the key and the value.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

CONFIG_FILE_NAME = "deployer.toml"

DEFAULT_REPOSITORY = "deployer"

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_REPOSITORY_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_SERVICE_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_MEMORY_RE = re.compile(r"^(\d+)(Mi|Gi)$")
_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

MAX_SERVICE_NAME = 49
MAX_REPOSITORY_ID = 63

# Names Cloud Run sets itself and refuses in a service's environment.
RESERVED_ENV_NAMES = frozenset(
    {
        "PORT",
        "K_SERVICE",
        "K_REVISION",
        "K_CONFIGURATION",
        "CLOUD_RUN_JOB",
        "CLOUD_RUN_EXECUTION",
        "CLOUD_RUN_TASK_INDEX",
        "CLOUD_RUN_TASK_ATTEMPT",
        "CLOUD_RUN_TASK_COUNT",
    }
)

CPU_VALUES = ("1", "2", "4", "6", "8")
MachineType = Literal[
    "", "E2_HIGHCPU_8", "E2_HIGHCPU_32", "N1_HIGHCPU_8", "N1_HIGHCPU_32", "E2_MEDIUM", "E2_STANDARD_2"
]
MACHINE_TYPES: tuple[str, ...] = get_args(MachineType)

MIN_MEMORY_MIB = 512
MAX_MEMORY_MIB = 32 * 1024

# Cloud Run's CPU/memory pairing rules:
#   https://cloud.google.com/run/docs/configuring/services/memory-limits
#   https://cloud.google.com/run/docs/configuring/services/cpu
# (memory above this many MiB, the fewest CPUs it needs), checked from the largest threshold down.
_CPU_FOR_MEMORY = ((24 * 1024, 8), (16 * 1024, 6), (8 * 1024, 4), (4 * 1024, 2))
# (CPUs, the least memory in MiB they need).
_MEMORY_FOR_CPU = {4: 2 * 1024, 6: 4 * 1024, 8: 4 * 1024}


def _quoted(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


# --- checks shared by the file model and by flags / environment variables --------------------------------------------


def check_project(value: str) -> str:
    if not _PROJECT_RE.fullmatch(value):
        raise ValueError(
            "a project id is 6 to 30 characters: lowercase letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen"
        )
    return value


def check_region(value: str) -> str:
    if not _REGION_RE.fullmatch(value):
        raise ValueError('a region looks like "europe-west4" or "us-central1"')
    return value


def check_repository(value: str) -> str:
    if len(value) > MAX_REPOSITORY_ID or not _REPOSITORY_RE.fullmatch(value):
        raise ValueError(
            f"an Artifact Registry repository id is at most {MAX_REPOSITORY_ID} characters: lowercase letters, "
            "digits and hyphens, starting with a letter and ending with a letter or digit"
        )
    return value


def _check_service_name(value: str) -> str:
    if len(value) > MAX_SERVICE_NAME or not _SERVICE_RE.fullmatch(value):
        raise ValueError(
            f"invalid service name {_quoted(value)}: a Cloud Run service name is at most {MAX_SERVICE_NAME} "
            "characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
        )
    return value


def check_env_name_syntax(value: str) -> str:
    """A shell-safe environment variable name (any container: Cloud Run or a VM)."""
    if not _ENV_NAME_RE.fullmatch(value):
        raise ValueError(
            f"invalid environment variable name {_quoted(value)}: allowed are letters, digits and underscores, "
            "not starting with a digit"
        )
    return value


def _check_env_name(value: str) -> str:
    check_env_name_syntax(value)
    if value in RESERVED_ENV_NAMES or value.startswith("K_"):
        reserved = ", ".join(sorted(RESERVED_ENV_NAMES))
        extra = " (set the service's port = instead)" if value == "PORT" else ""
        raise ValueError(
            f"environment variable {_quoted(value)} is reserved by Cloud Run{extra}; reserved are {reserved} "
            "and every name starting with K_"
        )
    return value


def check_email(value: str) -> str:
    if value and not _EMAIL_RE.fullmatch(value):
        raise ValueError('a service account is an email address like "runner@my-proj.iam.gserviceaccount.com"')
    return value


def _check_relative_path(value: str) -> str:
    if not value.strip():
        raise ValueError("must be a path relative to the project directory, not empty")
    return value


def parse_duration(value: object, *, low: int, high: int) -> int:
    """``"600s"``, ``"20m"``, ``"1h30m"`` or a bare number of seconds, to seconds within ``low..high``."""
    allowed = f'a duration like "600s", "20m" or "1h" between {low}s and {high}s'
    if isinstance(value, bool):
        raise ValueError(f"must be {allowed}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        match = _DURATION_RE.fullmatch(value.strip())
        if not value.strip() or match is None:
            raise ValueError(f"must be {allowed}")
        hours, minutes, secs = (int(part) if part else 0 for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        raise ValueError(f"must be {allowed}")
    if not low <= seconds <= high:
        raise ValueError(f"must be {allowed} (got {seconds}s)")
    return seconds


def _build_timeout(value: object) -> int:
    return parse_duration(value, low=60, high=86400)


def _request_timeout(value: object) -> int:
    return parse_duration(value, low=1, high=3600)


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
    match = _MEMORY_RE.fullmatch(memory)
    if match is None:
        raise ValueError(f"not a memory limit: {memory!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return amount * 1024 if unit == "Gi" else amount


def normalize_memory(value: object) -> str:
    """``"1024Mi"`` to ``"1Gi"``; anything outside 512Mi..32Gi or not in Mi/Gi is refused."""
    allowed = 'must be a memory limit like "512Mi" or "2Gi" (a whole number of Mi or Gi) from 512Mi to 32Gi'
    if not isinstance(value, str) or _MEMORY_RE.fullmatch(value.strip()) is None:
        raise ValueError(allowed)
    mib = memory_mib(value.strip())
    if not MIN_MEMORY_MIB <= mib <= MAX_MEMORY_MIB:
        raise ValueError(allowed)
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


# --- the models ------------------------------------------------------------------------------------------------------

_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "pattern": _DURATION_RE.pattern}, {"type": "integer"}],
    "description": 'A duration like "600s", "20m" or "1h" (or a number of seconds).',
}

BuildTimeout = Annotated[int, BeforeValidator(_build_timeout), WithJsonSchema(_DURATION_SCHEMA)]
RequestTimeout = Annotated[int, BeforeValidator(_request_timeout), WithJsonSchema(_DURATION_SCHEMA)]
Cpu = Annotated[
    str,
    BeforeValidator(normalize_cpu),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}], "description": "1, 2, 4, 6 or 8"}),
]
Memory = Annotated[
    str,
    BeforeValidator(normalize_memory),
    WithJsonSchema({"type": "string", "pattern": _MEMORY_RE.pattern, "description": "512Mi to 32Gi"}),
]
ServiceName = Annotated[str, AfterValidator(_check_service_name)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
RelativePath = Annotated[str, AfterValidator(_check_relative_path)]


class BuildConfig(BaseModel):
    """``[build]``: how Cloud Build builds the image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_context_mb: StrictInt = Field(default=500, ge=1, description="Refuse bigger uploads unless overridden.")
    timeout: BuildTimeout = Field(default=1200, description="Cloud Build timeout, in seconds once loaded.")
    machine_type: MachineType = ""
    allow_credential_files: tuple[str, ...] = Field(
        default=(), description="Relative paths allowed in the upload even though they look like credentials."
    )


class ServiceConfig(BaseModel):
    """``[services.NAME]``: one Cloud Run service built from one Dockerfile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dockerfile: RelativePath = "Dockerfile"
    context: RelativePath = "."
    env: dict[EnvName, str] = Field(default_factory=dict)
    cpu: Cpu = "1"
    memory: Memory = "512Mi"
    min_instances: StrictInt = Field(default=0, ge=0, le=1000)
    # A small default ceiling keeps a traffic spike or a loop from running up a bill.
    max_instances: StrictInt = Field(default=3, ge=1, le=1000)
    concurrency: StrictInt = Field(default=80, ge=1, le=1000)
    port: StrictInt = Field(default=8080, ge=1, le=65535)
    public: StrictBool = False
    service_account: Annotated[str, AfterValidator(check_email)] = ""
    args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    timeout: RequestTimeout = Field(default=300, description="Request timeout, in seconds once loaded.")

    @model_validator(mode="after")
    def _check_combinations(self) -> ServiceConfig:
        problems: list[str] = []
        if self.min_instances > self.max_instances:
            problems.append(
                f"min_instances = {self.min_instances} is more than max_instances = {self.max_instances}; "
                "min_instances must be at most max_instances"
            )
        cpus, mib = int(self.cpu), memory_mib(self.memory)
        for threshold, needed in _CPU_FOR_MEMORY:
            if mib > threshold:
                if cpus < needed:
                    problems.append(
                        f'memory = "{self.memory}" needs cpu of at least {needed} (cpu = "{self.cpu}"); '
                        f"Cloud Run allows memory above {threshold // 1024}Gi only with {needed} or more CPUs"
                    )
                break
        least = _MEMORY_FOR_CPU.get(cpus)
        if least is not None and mib < least:
            problems.append(
                f'cpu = "{self.cpu}" needs memory of at least {least // 1024}Gi (memory = "{self.memory}"); '
                f"Cloud Run requires {least // 1024}Gi or more with {cpus} CPUs"
            )
        if problems:
            # One line per problem: the loader prefixes each line with the file and the service's path.
            raise ValueError("\n".join(problems))
        return self


def config_schema() -> dict[str, Any]:
    """The JSON schema of the configuration file, for documentation and editor completion."""
    from deployer.config.file import FileConfig

    return FileConfig.model_json_schema()
