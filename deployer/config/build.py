"""``[build]``: how Cloud Build builds the image, shared by every target."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator, Field, StrictInt, WithJsonSchema

from deployer.config.checks import DURATION_SCHEMA, parse_duration
from deployer.config.table import Table

MachineType = Literal[
    "", "E2_HIGHCPU_8", "E2_HIGHCPU_32", "N1_HIGHCPU_8", "N1_HIGHCPU_32", "E2_MEDIUM", "E2_STANDARD_2"
]
MACHINE_TYPES: tuple[str, ...] = get_args(MachineType)


def _build_timeout(value: object) -> int:
    return parse_duration(value, low=60, high=86400)


BuildTimeout = Annotated[int, BeforeValidator(_build_timeout), WithJsonSchema(DURATION_SCHEMA)]


class BuildConfig(Table):
    """``[build]``: how Cloud Build builds the image."""

    max_context_mb: StrictInt = Field(default=500, ge=1, description="Refuse bigger uploads unless overridden.")
    timeout: BuildTimeout = Field(default=1200, description="Cloud Build timeout, in seconds once loaded.")
    machine_type: MachineType = ""
    source_retention_days: StrictInt = Field(
        default=30,
        ge=1,
        # Object Lifecycle Management's age condition is a whole number of days
        # (https://cloud.google.com/storage/docs/lifecycle#age); ten years bounds a typo.
        le=3650,
        description="Days the uploaded sources and build logs are kept in the source bucket before it deletes them.",
    )
    allow_credential_files: tuple[str, ...] = Field(
        default=(), description="Relative paths allowed in the upload even though they look like credentials."
    )
