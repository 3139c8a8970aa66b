"""``[services.NAME]``: one Cloud Run service built from one Dockerfile."""

from __future__ import annotations

import re
from typing import Annotated

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

from deployer.config.checks import (
    DURATION_SCHEMA,
    MEMORY_RE,
    RelativePath,
    ServiceAccountEmail,
    WorkloadRoles,
    check_env_name_syntax,
    matching,
    memory_mib,
    parse_duration,
    quoted,
    secret_env_problems,
)
from deployer.config.run_gpu import RunGpu, normalize_run_cpu, normalize_run_memory, run_gpu_problems

_SERVICE_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
MAX_SERVICE_NAME = 49

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

# Cloud Run's CPU/memory pairing rules:
#   https://cloud.google.com/run/docs/configuring/services/memory-limits
#   https://cloud.google.com/run/docs/configuring/services/cpu
# (memory above this many MiB, the fewest CPUs it needs), checked from the largest threshold down.
_CPU_FOR_MEMORY = ((24 * 1024, 8), (16 * 1024, 6), (8 * 1024, 4), (4 * 1024, 2))
# (CPUs, the least memory in MiB they need).
_MEMORY_FOR_CPU = {4: 2 * 1024, 6: 4 * 1024, 8: 4 * 1024}


_check_service_name = matching(
    _SERVICE_RE,
    lambda value: (
        f"invalid service name {quoted(value)}: a Cloud Run service name is at most {MAX_SERVICE_NAME} "
        "characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
    ),
    max_length=MAX_SERVICE_NAME,
)


def _check_env_name(value: str) -> str:
    check_env_name_syntax(value)
    if value in RESERVED_ENV_NAMES or value.startswith("K_"):
        reserved = ", ".join(sorted(RESERVED_ENV_NAMES))
        extra = " (set the service's port = instead)" if value == "PORT" else ""
        raise ValueError(
            f"environment variable {quoted(value)} is reserved by Cloud Run{extra}; reserved are {reserved} "
            "and every name starting with K_"
        )
    return value


def _request_timeout(value: object) -> int:
    return parse_duration(value, low=1, high=3600)


def _startup_timeout(value: object) -> int:
    # A startup probe's failureThreshold x periodSeconds; Cloud Run allows at most 1800 s with a GPU (reference
    # cloud-run-jobs-gpu-traffic.md section 1.5), deployer probes every 10 s.
    return parse_duration(value, low=10, high=1800)


RequestTimeout = Annotated[int, BeforeValidator(_request_timeout), WithJsonSchema(DURATION_SCHEMA)]
StartupTimeout = Annotated[int, BeforeValidator(_startup_timeout), WithJsonSchema(DURATION_SCHEMA)]
Cpu = Annotated[
    str,
    BeforeValidator(normalize_run_cpu),
    WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "number"}], "description": "1, 2, 4, 6 or 8 (20 or more with an RTX)"}
    ),
]
Memory = Annotated[
    str,
    BeforeValidator(normalize_run_memory),
    WithJsonSchema({"type": "string", "pattern": MEMORY_RE.pattern, "description": "512Mi to 32Gi (more with an RTX)"}),
]
ServiceName = Annotated[str, AfterValidator(_check_service_name)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]


class ServiceConfig(BaseModel):
    """``[services.NAME]``: one Cloud Run service built from one Dockerfile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dockerfile: RelativePath = "Dockerfile"
    context: RelativePath = "."
    env: dict[EnvName, str] = Field(default_factory=dict)
    # More env keys whose values are shown masked, beyond the names that look secret (deployer/masking.py).
    secret_env: tuple[EnvName, ...] = ()
    cpu: Cpu = "1"
    memory: Memory = "512Mi"
    min_instances: StrictInt = Field(default=0, ge=0, le=1000)
    # A small default ceiling keeps a traffic spike or a loop from running up a bill.
    max_instances: StrictInt = Field(default=3, ge=1, le=1000)
    concurrency: StrictInt = Field(default=80, ge=1, le=1000)
    port: StrictInt = Field(default=8080, ge=1, le=65535)
    public: StrictBool = False
    service_account: ServiceAccountEmail = ""
    # Project roles the workload needs (granted to the runtime account by bootstrap), e.g. roles/storage.objectViewer.
    roles: WorkloadRoles = ()
    args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    timeout: RequestTimeout = Field(default=300, description="Request timeout, in seconds once loaded.")
    gpu: RunGpu | None = None
    depends_on: tuple[str, ...] = Field(
        default=(), description="Targets deployed before this one, beyond those its ${...} references name."
    )
    startup_timeout: StartupTimeout | None = Field(
        default=None,
        description="How long a new instance may take to listen on its port (30m by default with a GPU).",
    )

    @model_validator(mode="after")
    def _check_combinations(self) -> ServiceConfig:
        problems: list[str] = secret_env_problems(self.env, self.secret_env)
        if self.min_instances > self.max_instances:
            problems.append(
                f"min_instances = {self.min_instances} is more than max_instances = {self.max_instances}; "
                "min_instances must be at most max_instances"
            )
        gpu_problems = run_gpu_problems(
            cpu=self.cpu,
            memory=self.memory,
            gpu=self.gpu,
            region=None,
            kind="service",
            max_instances=self.max_instances,
        )
        problems += gpu_problems
        if not gpu_problems and int(self.cpu) <= 8 and memory_mib(self.memory) <= 32 * 1024:
            problems += _cpu_memory_problems(self.cpu, self.memory)
        if problems:
            # One line per problem: the loader prefixes each line with the file and the service's path.
            raise ValueError("\n".join(problems))
        return self


def _cpu_memory_problems(cpu: str, memory: str) -> list[str]:
    """Cloud Run's CPU/memory pairing for an instance without a GPU."""
    problems: list[str] = []
    cpus, mib = int(cpu), memory_mib(memory)
    for threshold, needed in _CPU_FOR_MEMORY:
        if mib > threshold:
            if cpus < needed:
                problems.append(
                    f'memory = "{memory}" needs cpu of at least {needed} (cpu = "{cpu}"); '
                    f"Cloud Run allows memory above {threshold // 1024}Gi only with {needed} or more CPUs"
                )
            break
    least = _MEMORY_FOR_CPU.get(cpus)
    if least is not None and mib < least:
        problems.append(
            f'cpu = "{cpu}" needs memory of at least {least // 1024}Gi (memory = "{memory}"); '
            f"Cloud Run requires {least // 1024}Gi or more with {cpus} CPUs"
        )
    return problems
