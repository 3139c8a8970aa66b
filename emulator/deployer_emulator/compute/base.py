"""Compute's table names, request checks and small helpers, and the engine's state access."""

from __future__ import annotations

import base64
import copy
import enum
import hashlib
import json
import random
import re
import time
from datetime import UTC, datetime
from typing import Any

from google.cloud import compute_v1

from deployer_emulator import protos
from deployer_emulator.compute.catalogue import MACHINE_TYPES, REGIONS, ZONES, MachineShape
from deployer_emulator.compute.errors import _not_found
from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import invalid_argument

API = "https://www.googleapis.com/compute/v1/"
_API_PREFIX_RE = r"(?:https://(?:www|compute)\.googleapis\.com/compute/v1/)?"

INSTANCES = "compute.instances"  # "projects/P/zones/Z/instances/I" -> Instance REST JSON, as GET answers it
INSTANCE_FACTS = "compute.instanceFacts"  # same key -> what is no Instance field: console, boots, image, run start
OPERATIONS = "compute.operations"  # "projects/P/{zones/Z|regions/R|global}/operations/N" -> Operation REST JSON
PENDING = "compute.pending"  # operation key -> {"due", "started", "action", "error"} until the operation is DONE
FIREWALLS = "compute.firewalls"  # "projects/P/global/firewalls/F" -> Firewall REST JSON
REQUEST_IDS = "compute.requestIds"  # "P requestId" -> operation key: a retried request gets the same operation

# Google's fingerprint of nothing (empty metadata, no labels, no tags), as every new resource shows it.
EMPTY_FINGERPRINT = "42WmSpB8rSM="

# Query parameters every Google REST API accepts (https://cloud.google.com/apis/docs/system-parameters).
_SYSTEM_PARAMS = frozenset(
    ["$alt", "alt", "key", "fields", "prettyPrint", "quotaUser", "access_token", "callback", "userIp", "$.xgafv"]
)

# ---------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def _new_id() -> str:
    """A decimal uint64, as Compute's resource and operation ids are (JSON strings)."""
    return str(random.randrange(10**18, 2**63))


def _stable_id(name: str) -> str:
    return str(1000 + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 9000)


def _fingerprint(value: Any) -> str:
    """Compute's fingerprints are 8 bytes, base64; the one of nothing is the well-known ``42WmSpB8rSM=``."""
    if not value:
        return EMPTY_FINGERPRINT
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()[:8]
    return base64.b64encode(digest).decode()


def _operation_name(now: float) -> str:
    # Compute's operation names: operation-<ms since epoch>-<13 hex>-<8 hex>-<8 hex>.
    return (
        f"operation-{int(now * 1000)}-{random.getrandbits(52):013x}-{random.getrandbits(32):08x}-"
        f"{random.getrandbits(32):08x}"
    )


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _enum_class_name(field_name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in field_name.rstrip("_").split("_"))


def _check_enums(doc: Any, message_type: Any, path: str, snake_path: str) -> None:
    """Compute's enum fields are strings in compute_v1; Google refuses values outside the enum the field documents."""
    if not isinstance(doc, dict):
        return
    for fd in message_type.pb().DESCRIPTOR.fields:
        if fd.json_name not in doc:
            continue
        value = doc[fd.json_name]
        camel = f"{path}.{fd.json_name}"
        snake = f"{snake_path}.{fd.name.rstrip('_')}"
        if fd.message_type is not None:
            if fd.message_type.GetOptions().map_entry:
                continue
            nested = getattr(compute_v1, fd.message_type.name, None)
            if nested is None:
                continue
            if isinstance(value, list):
                for index, item in enumerate(value):
                    _check_enums(item, nested, f"{camel}[{index}]", f"{snake}[{index}]")
            else:
                _check_enums(value, nested, camel, snake)
            continue
        enum_type = getattr(message_type, _enum_class_name(fd.name), None)
        if not isinstance(enum_type, enum.EnumMeta):
            continue
        allowed = [name for name in enum_type.__members__ if not name.startswith("UNDEFINED_")]
        for item in value if isinstance(value, list) else [value]:
            if item not in allowed:
                # Google's front end on a bad enum name (the ESF form; the exact type URL is unconfirmed).
                type_url = f"type.googleapis.com/google.cloud.compute.v1.{message_type.__name__}.{enum_type.__name__}"
                message = f"Invalid value at '{snake}' ({type_url}), \"{item}\""
                raise invalid_argument(message, field=snake, description=message)


def _parse(message_type: Any, req: Request, field: str = "resource") -> dict[str, Any]:
    """Strict parse with the library's type, then the enum check; returns the REST JSON as parsed."""
    message = protos.parse(message_type, req.body, field=field)
    doc = protos.to_json(message)
    _check_enums(doc, message_type, field, field)
    return doc


def _check_query(req: Request, request_type: Any, *, path: tuple[str, ...], body: str | None = None) -> None:
    """Refuse query parameters the request message does not have, the way Google's front end does."""
    allowed = {fd.json_name for fd in request_type.pb().DESCRIPTOR.fields if fd.name not in path and fd.name != body}
    for name in req.query:
        if name not in allowed and name not in _SYSTEM_PARAMS:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                f"Field '{name}' could not be found in request message."
            )


def _int_param(req: Request, name: str, default: int | None = None) -> int | None:
    raw = req.param(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise invalid_argument(f"Invalid value at '{_snake(name)}' (TYPE_INT64), \"{raw}\"") from exc


def _project_of_member(email: str, project: str) -> str:
    match = re.fullmatch(r"[^@]+@([a-z][-a-z0-9]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com", email)
    return match.group(1) if match else project


class EngineBase:
    """The Compute state the surface's parts share: tables, settings, the clock, zone checks."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    # -- state -------------------------------------------------------------------------------------------------
    def _table(self, name: str) -> dict[str, dict[str, Any]]:
        return self.emulator.state.table(name)

    def _setting(self, name: str, default: float) -> float:
        try:
            return float(self.emulator.settings.get(name, default))
        except (TypeError, ValueError):
            return default

    def _now(self) -> float:
        return time.time()

    def _zone_or_404(self, project: str, zone: str) -> None:
        if zone not in ZONES:
            raise _not_found(f"projects/{project}/zones/{zone}")

    def _region_or_404(self, project: str, region: str) -> None:
        if region not in REGIONS:
            raise _not_found(f"projects/{project}/regions/{region}")

    # -- instances: validation -------------------------------------------------------------------------------------
    @staticmethod
    def _shape(instance: dict[str, Any]) -> MachineShape:
        return MACHINE_TYPES[str(instance["machineType"]).rsplit("/", 1)[-1]]
