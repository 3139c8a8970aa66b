"""The predefined roles, each with the permissions Google lists for it, loaded from ``data/gcp-roles.json``.

That file is Google's own ``roles.get`` output for the roles of the APIs deployer touches (title, stage,
permissions), as recorded by the public iann0036/iam-dataset (MIT); its ``_about`` says where from and when, and
``scripts/refresh_gcp_roles.py`` fetches it again. Nothing here is typed by hand: a role Google does not define is
not a role, and a binding that names one is refused as Google refuses it (``unknown_role``).

Custom roles (``projects/P/roles/ID``, ``organizations/N/roles/ID``) hold the permissions they were created with
(``iam.customRoles`` in the state, made through ``projects.roles.create``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from deployer_emulator.core import Emulator
from deployer_emulator.errors import ApiError, invalid_argument

ROLES_FILE = "gcp-roles.json"
CUSTOM_ROLES = "iam.customRoles"  # role name (projects/P/roles/ID) -> Role (REST JSON)


@cache
def role_data() -> dict[str, Any]:
    """The data file as it is: ``{"_about": {...}, "roles": {name: {title, stage, permissions}}}``."""
    text = resources.files("deployer_emulator").joinpath("data", ROLES_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# A bucket's default policy grants the project's basic roles its legacy bucket roles through "convenience values"
# (projectOwner/projectEditor get legacyBucketOwner, projectViewer legacyBucketReader; the default object ACL
# likewise: https://cloud.google.com/storage/docs/access-control/iam#convenience-values). Every bucket here keeps
# that default, so a basic role reaches its project's object data through them.
_CONVENIENCE = {
    "roles/owner": ("roles/storage.legacyBucketOwner", "roles/storage.legacyObjectOwner"),
    "roles/editor": ("roles/storage.legacyBucketOwner", "roles/storage.legacyObjectOwner"),
    "roles/viewer": ("roles/storage.legacyBucketReader", "roles/storage.legacyObjectReader"),
}


@cache
def predefined_roles() -> dict[str, frozenset[str]]:
    listed = {name: frozenset(doc["permissions"]) for name, doc in role_data()["roles"].items()}
    for basic, legacy in _CONVENIENCE.items():
        listed[basic] = listed[basic].union(*(listed[role] for role in legacy))
    return listed


def custom_roles(emulator: Emulator) -> dict[str, Any]:
    with emulator.state.lock:
        return dict(emulator.state.table(CUSTOM_ROLES))


def role_permissions(role: str, custom: dict[str, Any] | None = None) -> frozenset[str]:
    """What ``role`` grants: a predefined role's list, a custom role's ``includedPermissions``, else nothing."""
    found = predefined_roles().get(role)
    if found is not None:
        return found
    doc = (custom or {}).get(role)
    if doc is None or doc.get("deleted"):
        return frozenset()
    return frozenset(doc.get("includedPermissions", []))


def role_grants(role: str, permission: str, custom: dict[str, Any] | None = None) -> bool:
    return permission in role_permissions(role, custom)


def unknown_role(role: str) -> ApiError:
    # Google's answer to a binding naming a role it does not define, at every setIamPolicy (e.g. gcloud's
    # "INVALID_ARGUMENT: Role roles/compute.browser is not supported for this resource.",
    # GoogleCloudPlatform/stackdriver-metrics-export#7; googleapis/google-cloud-python#10499).
    return invalid_argument(f"Role {role} is not supported for this resource.")


def check_role(role: str, custom: dict[str, Any] | None = None) -> None:
    """A binding's role must be a predefined role or an existing custom role."""
    if role in predefined_roles():
        return
    if role.startswith(("projects/", "organizations/")) and role in (custom or {}):
        return
    raise unknown_role(role)
