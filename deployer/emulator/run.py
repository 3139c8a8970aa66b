"""Placeholder: replaced by the surface implementation."""

from __future__ import annotations

from deployer.emulator.core import Emulator


def register(emulator: Emulator) -> None:
    pass
