"""The whole configuration file: the top-level settings, one table per section, and its JSON schema.

Each section's model lives in its own module (``build.py``, ``service.py`` for Cloud Run services, ``vm.py`` for
Compute Engine VMs, ``bootstrap.py`` for project setup); this one puts them together.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from deployer.config.bootstrap import BootstrapConfig
from deployer.config.build import BuildConfig
from deployer.config.checks import check_project, check_region, check_repository
from deployer.config.job import JobConfig, JobName
from deployer.config.references import Target, dependencies
from deployer.config.service import ServiceConfig, ServiceName
from deployer.config.table import Table
from deployer.config.vm import VmConfig, VmName

CONFIG_FILE_NAME = "deployer.toml"
DEFAULT_REPOSITORY = "deployer"


class FileConfig(Table):
    """The whole configuration file. ``None`` means "not set here", so a lower-precedence source may fill it in."""

    project: Annotated[str, AfterValidator(check_project)] | None = None
    region: Annotated[str, AfterValidator(check_region)] | None = None
    repository: Annotated[str, AfterValidator(check_repository)] | None = Field(
        default=None, description=f'Artifact Registry repository id; "{DEFAULT_REPOSITORY}" when not set anywhere.'
    )
    build: BuildConfig = Field(default_factory=BuildConfig)
    services: dict[ServiceName, ServiceConfig] = Field(default_factory=dict)
    vms: dict[VmName, VmConfig] = Field(default_factory=dict)
    jobs: dict[JobName, JobConfig] = Field(default_factory=dict)
    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig)

    @model_validator(mode="after")
    def _unique_target_names(self) -> FileConfig:
        # `deployer deploy NAME` finds a target by name, whatever its kind: a name may be used once.
        both = sorted((set(self.services) & set(self.vms)) | (set(self.jobs) & (set(self.services) | set(self.vms))))
        if both:
            raise ValueError(
                f"target names must be unique across [services], [vms] and [jobs]; used twice: {', '.join(both)}"
            )
        return self

    @model_validator(mode="after")
    def _references_resolve(self) -> FileConfig:
        # ${services.X.url} and depends_on must name targets in this file and must not go round in a circle.
        dependencies(self.graph_targets())
        return self

    def graph_targets(self) -> list[Target]:
        """Every target as the reference graph sees it (deployer/config/references.py)."""
        targets: list[Target] = []
        sections: tuple[tuple[Literal["services", "jobs", "vms"], dict[str, Any]], ...] = (
            ("services", dict(self.services)),
            ("jobs", dict(self.jobs)),
            ("vms", dict(self.vms)),
        )
        for section, table in sections:
            for name, config in table.items():
                texts = {f"env.{key}": value for key, value in config.env.items()}
                texts.update({f"args[{i}]": value for i, value in enumerate(config.args)})
                texts.update({f"command[{i}]": value for i, value in enumerate(config.command)})
                targets.append(Target(section, name, texts, tuple(config.depends_on)))
        return targets


def config_schema() -> dict[str, Any]:
    """The JSON schema of the configuration file, for documentation and editor completion."""
    return FileConfig.model_json_schema()
