"""The enforcer (``emulator.enforcer`` in the strict world), and the permission checks surfaces ask for."""

from __future__ import annotations

from typing import Any

from deployer_emulator import world
from deployer_emulator.common import caller_email
from deployer_emulator.core import Emulator, Request
from deployer_emulator.errors import invalid_argument
from deployer_emulator.iam.denials import denied, service_disabled
from deployer_emulator.iam.roles import custom_roles
from deployer_emulator.iam.targets import (
    _CLIENT_BASED,
    _RESOURCE_BASED,
    Target,
    _caller_members,
    _policy_grants,
    api_of,
    resolve,
)


# -- the enforcer ------------------------------------------------------------------------------------------------
class Enforcer:
    """``emulator.enforcer`` in the strict world; see the module docstring for the rules."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def __call__(self, req: Request, permission: str, resource: str) -> None:
        target = resolve(self.emulator, resource, permission)
        if not target.placed:
            return
        api = api_of(req, permission)
        if permission != "iam.serviceAccounts.actAs" or api == "iam.googleapis.com":
            # actAs is checked inside another API's call (a deploy naming a runtime account), whose own
            # authorization already checked that API on the calling project.
            self._check_enabled(req, api, target)
        if not self.holds(req.caller, permission, target):
            raise denied(req, api, permission, resource, target)

    def _check_enabled(self, req: Request, api: str, target: Target) -> None:
        consumer: str | None = None
        if api in _RESOURCE_BASED:
            consumer = target.project_id if target.project and target.project.get("state") == "ACTIVE" else None
        elif api in _CLIENT_BASED:
            quota_project = req.headers.get("x-goog-user-project", "")
            if quota_project:
                consumer = world.project_id_of(self.emulator, quota_project)
            elif req.caller.startswith("serviceAccount:"):
                consumer = world.service_account_project(self.emulator, caller_email(req.caller))
        if consumer is None:
            return
        if world.service_readiness(self.emulator, consumer, api) != "ENABLED":
            raise service_disabled(self.emulator, api, consumer)

    def holds(self, caller: str, permission: str, target: Target) -> bool:
        members = _caller_members(caller)
        custom = custom_roles(self.emulator)
        return any(_policy_grants(policy, members, permission, custom) for policy in target.policies)


def install_enforcer(emulator: Emulator) -> None:
    """Enforce IAM and API enablement (the strict world)."""
    emulator.enforcer = Enforcer(emulator)


def permissions_held(emulator: Emulator, req: Request, permissions: list[str], resource: str) -> list[str]:
    """What ``testIamPermissions`` answers: the subset of ``permissions`` the caller holds on ``resource`` (all of
    them in the open world, where the caller owns everything)."""
    for permission in permissions:
        if "*" in permission:
            # IAM rejects wildcards in permission checks.
            raise invalid_argument(f"Permissions ('{permission}') with wildcards (*) are not allowed.")
    enforcer = emulator.enforcer
    if not isinstance(enforcer, Enforcer):
        return list(permissions)
    return [p for p in permissions if enforcer.holds(req.caller, p, resolve(emulator, resource, p))]


def as_caller(member: str, path: str = "") -> Request:
    """A request made by the emulator on behalf of ``member`` (a build pushing as its service account)."""
    return Request("POST", path, {}, {}, b"", member)


def visible_project(
    emulator: Emulator, req: Request, api: str, permission: str, ref: str, resource: str = ""
) -> dict[str, Any]:
    """The project ``ref`` names, once ``permission`` on ``resource`` (the project) is authorized. A missing project
    answers the same 403 as one the caller may not see (reached only in the open world)."""
    resource = resource or f"projects/{ref}"
    emulator.authorize(req, permission, resource)
    found = world.find_project(emulator, ref, caller=req.caller)
    if found is None:
        raise denied(req, api, permission, resource, Target())
    return found
