"""The kinds of deploy target, by the name deployer.toml's tables give them (``ResolvedConfig.target``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deployer.services.targets.base import DeployRequest, Target, planned_deploy
from deployer.services.targets.run_job import RunJobTarget
from deployer.services.targets.run_service import RunServiceTarget
from deployer.services.targets.vm import VmTarget

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig

KINDS: dict[str, Callable[[ResolvedConfig, str], Target[Any]]] = {
    "service": RunServiceTarget,
    "vm": VmTarget,
    "job": RunJobTarget,
}


def target_for(config: ResolvedConfig, name: str | None) -> Target[Any]:
    """The named target (the only one when ``name`` is None), as its kind deploys it."""
    found, kind, _ = config.target(name)
    return KINDS[kind](config, found)


__all__ = ["KINDS", "DeployRequest", "Target", "planned_deploy", "target_for"]
