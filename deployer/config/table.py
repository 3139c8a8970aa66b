"""The base of every table model of deployer.toml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Table(BaseModel):
    """A table of deployer.toml: an unknown key is refused (load suggests the closest), and a value read stays put."""

    model_config = ConfigDict(extra="forbid", frozen=True)
