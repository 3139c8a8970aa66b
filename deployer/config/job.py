"""``[jobs.NAME]``: one Cloud Run job built from one Dockerfile (or run from an image), and its sweeps.

Limits are Cloud Run's (https://cloud.google.com/run/docs/create-jobs, .../configuring/task-timeout,
.../configuring/max-retries): up to 10,000 tasks per execution, 0 to 10 retries per task (default 3), a task
timeout of up to 168 hours (default 10 minutes), applied per attempt.
"""

from __future__ import annotations

import re
import string
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from deployer.config.checks import (
    DURATION_SCHEMA,
    RelativePath,
    ServiceAccountEmail,
    parse_duration,
    quoted,
    secret_env_problems,
)
from deployer.config.run_gpu import RunGpu, run_gpu_problems
from deployer.config.service import MAX_SERVICE_NAME, Cpu, EnvName, Memory, _check_service_name

# Google's execution names are JOB-xxxxx and must stay a DNS label; services' 49-character rule keeps that true.
MAX_JOB_NAME = MAX_SERVICE_NAME
_JOB_NAME_RULE = (
    f"a Cloud Run job name is at most {MAX_JOB_NAME} characters: lowercase letters, digits and hyphens, starting "
    "with a letter and not ending with a hyphen"
)
MAX_TASKS = 10_000
MAX_RETRIES = 10
MAX_TASK_TIMEOUT_S = 168 * 3600


def _check_job_name(value: str) -> str:
    # Cloud Run names jobs by the rule it names services by (config/service.py).
    try:
        return _check_service_name(value)
    except ValueError:
        raise ValueError(f"invalid job name {quoted(value)}: {_JOB_NAME_RULE}") from None


def _task_timeout(value: object) -> int:
    return parse_duration(value, low=1, high=MAX_TASK_TIMEOUT_S)


def sweep_fields(template: tuple[str, ...]) -> list[str]:
    """The ``{name}`` placeholders of a sweep_args template, in order of first use."""
    names: list[str] = []
    for part in template:
        for _, field_name, _, _ in string.Formatter().parse(part):
            if field_name is not None and field_name not in names:
                names.append(field_name)
    return names


def _check_sweep_args(value: tuple[str, ...]) -> tuple[str, ...]:
    for part in value:
        try:
            fields = sweep_fields((part,))
        except ValueError as exc:
            raise ValueError(
                f"{quoted(part)} is not a valid template ({exc}); write {{name}} for a swept value"
            ) from None
        bad = [f for f in fields if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", f)]
        if bad:
            raise ValueError(f"{quoted(part)}: placeholders are {{name}} with a plain name, not {{{bad[0]}}}")
    return value


TaskTimeout = Annotated[int, BeforeValidator(_task_timeout), WithJsonSchema(DURATION_SCHEMA)]
JobName = Annotated[str, AfterValidator(_check_job_name)]
SweepArgs = Annotated[tuple[str, ...], AfterValidator(_check_sweep_args)]


class JobConfig(BaseModel):
    """``[jobs.NAME]``: one Cloud Run job. ``deployer deploy NAME`` creates or updates it; ``deployer run NAME``
    starts an execution."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dockerfile: RelativePath = "Dockerfile"
    context: RelativePath = "."
    image: str = Field(default="", description="Run this image instead of building the Dockerfile.")
    args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    env: dict[EnvName, str] = Field(default_factory=dict)
    secret_env: tuple[EnvName, ...] = ()
    cpu: Cpu = "1"
    memory: Memory = "512Mi"
    tasks: StrictInt = Field(default=1, ge=1, le=MAX_TASKS, description="Tasks per execution (task_count).")
    parallelism: StrictInt = Field(
        default=0, ge=0, le=MAX_TASKS, description="Tasks run at once; 0 lets Cloud Run run as many as it can."
    )
    max_retries: StrictInt = Field(default=3, ge=0, le=MAX_RETRIES)
    timeout: TaskTimeout = Field(default=600, description="Per task attempt, in seconds once loaded.")
    service_account: ServiceAccountEmail = ""
    # How a sweep point becomes arguments: ["--lr", "{lr}"]; without it each swept value goes in as env (LR=0.1).
    sweep_args: SweepArgs = ()
    gpu: RunGpu | None = None
    depends_on: tuple[str, ...] = Field(
        default=(), description="Targets deployed before this one, beyond those its ${...} references name."
    )

    @property
    def most_tasks_at_once(self) -> int:
        """Tasks (so GPU instances) one execution may run at once: parallelism, or every task when it is 0 ("as many
        as Cloud Run can", ExecutionTemplate.parallelism): the conservative bound a GPU quota must cover."""
        return self.parallelism or self.tasks

    @model_validator(mode="after")
    def _check_combinations(self) -> JobConfig:
        problems = secret_env_problems(self.env, self.secret_env)
        if self.parallelism > self.tasks:
            problems.append(
                f"parallelism = {self.parallelism} is more than tasks = {self.tasks}; parallelism is at most tasks "
                "(or 0: as many at once as Cloud Run can)"
            )
        cpu, memory, gpu, timeout_s = self.cpu, self.memory, self.gpu, self.timeout
        problems += run_gpu_problems(cpu=cpu, memory=memory, gpu=gpu, region=None, kind="job", timeout_s=timeout_s)
        if problems:
            raise ValueError("\n".join(problems))
        return self
