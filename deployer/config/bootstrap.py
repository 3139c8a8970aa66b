"""``[bootstrap]``: what `deployer bootstrap` sets up in the project."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class BootstrapConfig(BaseModel):
    """Project setup. (Its fields are defined with the bootstrap command.)"""

    model_config = ConfigDict(extra="forbid", frozen=True)
