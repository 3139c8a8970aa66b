"""The Cloud Storage JSON API routes."""

from __future__ import annotations

from deployer_emulator.core import Emulator
from deployer_emulator.storage.buckets import register_buckets
from deployer_emulator.storage.objects import register_objects
from deployer_emulator.storage.uploads import register_uploads


# -- the HTTP surface ----------------------------------------------------------------------------------------------
def register(emulator: Emulator) -> None:
    # The three groups' URL templates are disjoint, so the order they are added in does not matter.
    register_uploads(emulator)
    register_objects(emulator)
    register_buckets(emulator)
