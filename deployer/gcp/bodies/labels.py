"""The label deployer puts on what it creates, and how it tells its own resources from everyone else's."""

from __future__ import annotations

from collections.abc import Mapping

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "deployer"
# How messages name the label, and how a firewall rule (which has no labels) says it in its description.
MANAGED_BY_TEXT = f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}"


def managed_by_label() -> dict[str, str]:
    """A fresh ``labels`` dict for a resource deployer creates (each body owns its copy)."""
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE}


def is_managed(labels: Mapping[str, str] | None) -> bool:
    """Whether a resource's labels say deployer made it."""
    return (labels or {}).get(MANAGED_BY_KEY) == MANAGED_BY_VALUE


def describes_managed(description: str | None) -> bool:
    """Whether a description written by deployer (for resources without labels, such as firewall rules) says so."""
    return (description or "").startswith(MANAGED_BY_TEXT)
