"""The owned fields of a Cloud Run ``Service``, field by field, as ``deploy --diff`` shows them.

``env.GREETING: "hi" → "hello"``, ``memory: 512Mi → 1Gi``, ``image: …@sha256:1a2b… → …@sha256:3c4d…``. Only what
the desired body sets is compared (the fields deployer.toml owns); a secret env value is shown masked.
"""

from __future__ import annotations

import json
from typing import Any

from deployer.masking import MASK, looks_secret

_ABSENT = "(unset)"


def owned_view(service: dict[str, Any]) -> dict[str, str]:
    """The owned fields of a Service (REST JSON) as display key → display value."""
    template = service.get("template") or {}
    container = (template.get("containers") or [{}])[0]
    limits = (container.get("resources") or {}).get("limits") or {}
    scaling = template.get("scaling") or {}
    ports = container.get("ports") or [{}]
    view: dict[str, str] = {
        "image": str(container.get("image", "")),
        "command": json.dumps(list(container.get("command") or [])),
        "args": json.dumps(list(container.get("args") or [])),
        "port": str(ports[0].get("containerPort", "")),
        "cpu": str(limits.get("cpu", "")),
        "memory": str(limits.get("memory", "")),
        "min_instances": str(scaling.get("minInstanceCount") or 0),
        "max_instances": str(scaling.get("maxInstanceCount") or 0),
        "concurrency": str(template.get("maxInstanceRequestConcurrency") or 0),
        "timeout": str(template.get("timeout", "")),
    }
    if template.get("serviceAccount"):
        view["service_account"] = str(template["serviceAccount"])
    for entry in container.get("env") or []:
        if "value" in entry or "valueSource" not in entry:
            view[f"env.{entry.get('name', '')}"] = json.dumps(str(entry.get("value", "")))
    return view


def field_changes(desired: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: old → new`` for each owned field that differs; env keys removed show ``→ (unset)``."""
    want, have = owned_view(desired), owned_view(current)
    if "service_account" not in want:
        have.pop("service_account", None)  # the project's default account, which the config leaves to Google
    lines = []
    for key in [*want, *(k for k in have if k.startswith("env.") and k not in want)]:
        old, new = have.get(key, _ABSENT), want.get(key, _ABSENT)
        if old == new:
            continue
        if key.startswith("env.") and looks_secret(key[4:]):
            old, new = (MASK if old != _ABSENT else old), (MASK if new != _ABSENT else new)
        lines.append(f"{key}: {old} → {new}")
    return lines
