"""Scenario files (JSON or TOML) that seed a strict world: ``load_scenario`` checks one, ``seed`` applies it.

Every key is checked; a mistake names the file, the key and what is allowed. The format is documented in the
emulator's README.md.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deployer_emulator.common import policy_etag
from deployer_emulator.core import Emulator
from deployer_emulator.iam.roles import predefined_roles
from deployer_emulator.storage.store import ensure_bucket
from deployer_emulator.world import (
    BILLING_ACCOUNT_ID_RE,
    BILLING_ACCOUNTS,
    FOLDERS,
    KNOWN_SERVICES,
    MEMBER_RE,
    ORGANIZATIONS,
    PROJECT_ID_RE,
    PROJECT_POLICIES,
    PROJECTS,
    SERVICE_ACCOUNT_ID_RE,
    SERVICE_ACCOUNT_POLICIES,
    SERVICES,
    create_project,
    enable_service,
    link_billing,
    service_account_email,
    store_service_account,
)

# https://cloud.google.com/storage/docs/buckets#naming (names without dots).
BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")


class ScenarioError(ValueError):
    """A scenario file that cannot be used: the message names the file, the field and what is allowed."""


# -- scenarios -------------------------------------------------------------------------------------------------
_SCENARIO_KEYS = {"settings", "organizations", "folders", "billing_accounts", "projects"}
_ORGANIZATION_KEYS = {"id", "display_name", "iam"}
_FOLDER_KEYS = {"id", "parent", "display_name", "iam"}
_BILLING_KEYS = {"id", "display_name", "open", "project_limit", "parent", "iam"}
_PROJECT_KEYS = {
    "id",
    "parent",
    "display_name",
    "labels",
    "state",
    "billing_account",
    "services",
    "default_services",
    "iam",
    "service_accounts",
    "buckets",
    "quotas",
}
_SERVICE_ACCOUNT_KEYS = {"id", "display_name", "description", "iam"}
_BUCKET_KEYS = {"name", "location"}
_SETTINGS = {"service_enable_delay_s": (int, float), "revision_start_timeout_s": (int, float)}


def load_scenario(path: Path) -> dict[str, Any]:
    """Read and validate a scenario file (``.json`` or ``.toml``); ScenarioError says what is wrong and where."""
    try:
        text = path.read_text()
    except OSError as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror
        raise ScenarioError(f"{path}: cannot read the scenario file: {reason}") from exc
    try:
        doc = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise ScenarioError(f"{path}: not valid {kind}: {exc}") from exc
    return validate_scenario(doc, str(path))


def validate_scenario(doc: Any, source: str = "scenario") -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ScenarioError(f"{source}: the scenario must be a table/object with {sorted(_SCENARIO_KEYS)}")
    _keys(doc, _SCENARIO_KEYS, source, "")
    settings = _typed(doc.get("settings", {}), dict, source, "settings")
    for key, value in settings.items():
        if key not in _SETTINGS:
            raise ScenarioError(f"{source}: settings.{key}: unknown setting (allowed: {', '.join(sorted(_SETTINGS))})")
        if isinstance(value, bool) or not isinstance(value, _SETTINGS[key]) or value < 0:
            raise ScenarioError(f"{source}: settings.{key} = {value!r}: must be a number of seconds >= 0")
    organizations = set()
    for where, org in _entries(doc, "organizations", _ORGANIZATION_KEYS, source):
        org_id = _numeric_id(org.get("id"), source, f"{where}.id")
        organizations.add(f"organizations/{org_id}")
        _iam(org.get("iam", {}), source, f"{where}.iam")
    folders = set()
    for where, folder in _entries(doc, "folders", _FOLDER_KEYS, source):
        folders.add(f"folders/{_numeric_id(folder.get('id'), source, f'{where}.id')}")
        _iam(folder.get("iam", {}), source, f"{where}.iam")
    parents = organizations | folders
    for index, folder in enumerate(doc.get("folders", [])):
        _parent(folder.get("parent"), parents, source, f"folders[{index}].parent", required=True)
    accounts = set()
    for where, billing in _entries(doc, "billing_accounts", _BILLING_KEYS, source):
        account_id = _matching_id(
            billing.get("id"),
            BILLING_ACCOUNT_ID_RE,
            source,
            where,
            "a billing account id is three groups of six uppercase letters or digits, e.g. 012345-6789AB-CDEF01",
        )
        accounts.add(account_id)
        _typed(billing.get("open", True), bool, source, f"{where}.open")
        limit = billing.get("project_limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ScenarioError(f"{source}: {where}.project_limit = {limit!r}: must be a whole number >= 0")
        _parent(billing.get("parent"), organizations, source, f"{where}.parent", required=False)
        _iam(billing.get("iam", {}), source, f"{where}.iam")
    seen_projects: set[str] = set()
    for where, project in _entries(doc, "projects", _PROJECT_KEYS, source):
        project_id = _matching_id(
            project.get("id"),
            PROJECT_ID_RE,
            source,
            where,
            "a project id is 6-30 lowercase letters, digits or hyphens, starting with a letter and not ending with a "
            "hyphen",
        )
        if project_id in seen_projects:
            raise ScenarioError(f"{source}: {where}.id = {project_id!r}: listed twice")
        seen_projects.add(project_id)
        _parent(project.get("parent"), parents, source, f"{where}.parent", required=False)
        state = project.get("state", "ACTIVE")
        if state not in ("ACTIVE", "DELETE_REQUESTED"):
            raise ScenarioError(f"{source}: {where}.state = {state!r}: allowed: ACTIVE, DELETE_REQUESTED")
        account = project.get("billing_account")
        if account is not None and account not in accounts:
            raise ScenarioError(
                f"{source}: {where}.billing_account = {account!r}: not one of the scenario's billing_accounts "
                f"({', '.join(sorted(accounts)) or 'none'})"
            )
        for service in _typed(project.get("services", []), list, source, f"{where}.services"):
            if service not in KNOWN_SERVICES:
                raise ScenarioError(
                    f"{source}: {where}.services: {service!r} is not an API the emulator knows "
                    f"(known: {', '.join(sorted(KNOWN_SERVICES))})"
                )
        _typed(project.get("default_services", True), bool, source, f"{where}.default_services")
        labels = _typed(project.get("labels", {}), dict, source, f"{where}.labels")
        if not all(isinstance(v, str) for v in labels.values()):
            raise ScenarioError(f"{source}: {where}.labels: values must be strings")
        _iam(project.get("iam", {}), source, f"{where}.iam")
        _quotas(project.get("quotas", {}), source, f"{where}.quotas")
        for sa_where, account_doc in _entries(project, "service_accounts", _SERVICE_ACCOUNT_KEYS, source, where):
            _matching_id(
                account_doc.get("id"),
                SERVICE_ACCOUNT_ID_RE,
                source,
                sa_where,
                "6-30 characters, lowercase letters, digits and hyphens, starting with a letter and not ending with a "
                "hyphen",
            )
            _iam(account_doc.get("iam", {}), source, f"{sa_where}.iam")
        for bucket_where, bucket in _entries(project, "buckets", _BUCKET_KEYS, source, where):
            # A bucket the project owns (its projectNumber), e.g. one squatting another project's guessable name.
            name = bucket.get("name")
            if not isinstance(name, str) or not BUCKET_NAME_RE.match(name):
                raise ScenarioError(
                    f"{source}: {bucket_where}.name = {name!r}: 3-63 lowercase letters, digits, '-' and '_', "
                    "starting and ending with a letter or digit"
                )
            _typed(bucket.get("location", "US"), str, source, f"{bucket_where}.location")
    return doc


def _entries(
    doc: dict[str, Any], section: str, allowed: set[str], source: str, within: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The tables of a list section (``projects``, ...), each with its place (``projects[0]``) and its keys checked."""
    place = f"{within}.{section}" if within else section
    for index, entry in enumerate(_typed(doc.get(section, []), list, source, place)):
        where = f"{place}[{index}]"
        _keys(_typed(entry, dict, source, where), allowed, source, where)
        yield where, entry


def _matching_id(value: Any, pattern: re.Pattern[str], source: str, where: str, rule: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ScenarioError(f"{source}: {where}.id = {value!r}: {rule}")
    return value


def _keys(doc: dict[str, Any], allowed: set[str], source: str, where: str) -> None:
    for key in doc:
        if key not in allowed:
            place = f"{where}.{key}" if where else key
            raise ScenarioError(f"{source}: {place}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _typed(value: Any, kind: type, source: str, where: str) -> Any:
    if not isinstance(value, kind):
        names = {dict: "a table/object", list: "a list", bool: "true or false", str: "a string"}
        raise ScenarioError(f"{source}: {where} = {value!r}: must be {names.get(kind, kind.__name__)}")
    return value


def _numeric_id(value: Any, source: str, where: str) -> str:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise ScenarioError(f"{source}: {where} = {value!r}: must be a number such as 123456789012")
    return text


def _parent(value: Any, allowed: set[str], source: str, where: str, *, required: bool) -> None:
    if value is None and not required:
        return
    if value not in allowed:
        raise ScenarioError(
            f"{source}: {where} = {value!r}: must name one of the scenario's organizations or folders "
            f"({', '.join(sorted(allowed)) or 'none defined'})"
        )


def _iam(value: Any, source: str, where: str) -> None:
    for role, members in _typed(value, dict, source, where).items():
        if role not in predefined_roles():
            raise ScenarioError(
                f"{source}: {where}: {role!r} is not a role Google defines (roles look like roles/run.admin; "
                "the list is deployer_emulator/data/gcp-roles.json)"
            )
        for member in _typed(members, list, source, f"{where}.{role!r}"):
            if not isinstance(member, str) or not MEMBER_RE.fullmatch(member):
                raise ScenarioError(
                    f"{source}: {where}.{role!r}: {member!r} is not a member (user:EMAIL, serviceAccount:EMAIL, "
                    "group:EMAIL, domain:DOMAIN, principalSet://..., allUsers, allAuthenticatedUsers)"
                )


def _quotas(value: Any, source: str, where: str) -> None:
    """``quotas = { QUOTA_ID = { REGION (or "*") = VALUE } }``: Cloud Run's quota values (cloudquotas.py)."""
    from deployer_emulator.cloudquotas import RUN_QUOTAS

    for quota_id, regions in _typed(value, dict, source, where).items():
        if quota_id not in RUN_QUOTAS:
            raise ScenarioError(
                f"{source}: {where}.{quota_id}: unknown quota id (known: {', '.join(sorted(RUN_QUOTAS))})"
            )
        for region, amount in _typed(regions, dict, source, f"{where}.{quota_id}").items():
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise ScenarioError(f"{source}: {where}.{quota_id}.{region} = {amount!r}: must be a whole number >= 0")


def _policy_from(iam: dict[str, list[str]]) -> dict[str, Any]:
    policy: dict[str, Any] = {"version": 1, "etag": policy_etag()}
    bindings = [{"role": role, "members": list(members)} for role, members in sorted(iam.items()) if members]
    if bindings:
        policy["bindings"] = bindings
    return policy


def _seed_with_policy(emulator: Emulator, table: str, resource: dict[str, Any], iam: dict[str, list[str]]) -> None:
    """Store ``resource`` with the policy its ``iam`` table grants, unless the state holds it already."""
    emulator.state.table(table).setdefault(resource["name"], {"resource": resource, "policy": _policy_from(iam)})


def seed(emulator: Emulator, scenario: dict[str, Any]) -> None:
    """Apply a validated scenario. Resources that exist already (a restarted emulator with a state dir) are left
    as they are, so a scenario seeds a world once and never resets what happened since."""
    for key, value in scenario.get("settings", {}).items():
        emulator.settings[key] = float(value)
    with emulator.mutation():
        for org in scenario.get("organizations", []):
            _seed_with_policy(
                emulator,
                ORGANIZATIONS,
                {
                    "name": f"organizations/{org['id']}",
                    "displayName": org.get("display_name", f"organization {org['id']}"),
                    "state": "ACTIVE",
                    "directoryCustomerId": f"C{str(org['id'])[:8]}",
                },
                org.get("iam", {}),
            )
        for folder in scenario.get("folders", []):
            _seed_with_policy(
                emulator,
                FOLDERS,
                {
                    "name": f"folders/{folder['id']}",
                    "parent": folder["parent"],
                    "displayName": folder.get("display_name", f"folder {folder['id']}"),
                    "state": "ACTIVE",
                },
                folder.get("iam", {}),
            )
        for account in scenario.get("billing_accounts", []):
            name = f"billingAccounts/{account['id']}"
            record: dict[str, Any] = {
                "account": {
                    "name": name,
                    "open": bool(account.get("open", True)),
                    "displayName": account.get("display_name", "My Billing Account"),
                    "masterBillingAccount": "",
                    "currencyCode": "USD",
                },
                "projectLimit": account.get("project_limit"),
                "policy": _policy_from(account.get("iam", {})),
            }
            if account.get("parent"):
                record["account"]["parent"] = account["parent"]
            emulator.state.table(BILLING_ACCOUNTS).setdefault(name, record)
    for project in scenario.get("projects", []):
        project_id = project["id"]
        with emulator.state.lock:
            exists = project_id in emulator.state.table(PROJECTS)
        if exists:
            continue
        create_project(
            emulator,
            project_id,
            parent=project.get("parent", ""),
            owner="",
            display_name=project.get("display_name", ""),
            labels=project.get("labels"),
            state=project.get("state", "ACTIVE"),
        )
        with emulator.mutation():
            emulator.state.table(PROJECT_POLICIES)[project_id] = _policy_from(project.get("iam", {}))
            if not project.get("default_services", True):
                emulator.state.table(SERVICES)[project_id] = {}
        if project.get("quotas"):
            from deployer_emulator.cloudquotas import set_quota_values

            set_quota_values(emulator, project_id, project["quotas"])
        if project.get("billing_account"):
            link_billing(emulator, project_id, f"billingAccounts/{project['billing_account']}")
        for service in project.get("services", []):
            enable_service(emulator, project_id, service, enabled_at=0.0)
        for account_doc in project.get("service_accounts", []):
            email = service_account_email(account_doc["id"], project_id)
            store_service_account(
                emulator,
                project_id,
                email,
                display_name=account_doc.get("display_name", ""),
                description=account_doc.get("description", ""),
            )
            if account_doc.get("iam"):
                with emulator.mutation():
                    emulator.state.table(SERVICE_ACCOUNT_POLICIES)[email] = _policy_from(account_doc["iam"])
        for bucket in project.get("buckets", []):
            ensure_bucket(emulator, bucket["name"], project_id, bucket.get("location", "US"))
