"""Firewalls: insert, get, list, patch, delete."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from google.cloud import compute_v1

from deployer_emulator.compute.base import (
    API,
    FIREWALLS,
    _check_query,
    _copy,
    _new_id,
    _parse,
    _timestamp,
)
from deployer_emulator.compute.errors import _already_exists, _invalid_field, _not_found
from deployer_emulator.compute.filters import _filter, _list_response, _order
from deployer_emulator.compute.instance_specs import _NAME_RE, _NAME_RULE, _check_default_network
from deployer_emulator.compute.operations import Operations
from deployer_emulator.compute.quotas import Quotas, _Use
from deployer_emulator.core import Request


class Firewalls(Operations, Quotas):
    """The firewall handlers."""

    def insert_firewall(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.InsertFirewallRequest, path=("project",), body="firewall_resource")
        given = _parse(compute_v1.Firewall, req)
        name = str(given.get("name", ""))
        key = f"projects/{project}/global/firewalls/{name}"
        self.emulator.authorize(req, "compute.firewalls.create", key)
        self.emulator.authorize(req, "compute.networks.updatePolicy", f"projects/{project}/global/networks/default")
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            if not _NAME_RE.fullmatch(name):
                raise _invalid_field("resource.name", name, _NAME_RULE)
            if key in self._table(FIREWALLS):
                raise _already_exists(key)
            doc = self._normalize_firewall(project, given, "resource")
            now = self._now()
            doc.update(
                kind="compute#firewall",
                id=_new_id(),
                creationTimestamp=_timestamp(now),
                name=name,
                selfLink=API + key,
            )
            failure = self._quota_error(project, [_Use("global", "FIREWALLS", 1)])
            if failure is None:
                self._table(FIREWALLS)[key] = doc
            return self._start_operation(
                req,
                project=project,
                scope="global",
                operation_type="insert",
                target=key,
                target_id=doc["id"],
                error=failure,
            )

    def _normalize_firewall(self, project: str, given: dict[str, Any], path: str) -> dict[str, Any]:
        doc = {k: v for k, v in given.items() if k not in ("id", "kind", "creationTimestamp", "selfLink")}
        _check_default_network(project, str(doc.get("network") or "global/networks/default"), f"{path}.network")
        doc["network"] = API + f"projects/{project}/global/networks/default"
        direction = doc.setdefault("direction", "INGRESS")
        doc.setdefault("priority", 1000)
        if not 0 <= int(doc["priority"]) <= 65535:
            raise _invalid_field(
                f"{path}.priority", doc["priority"], "Must be between 0 and 65535."
            )  # Firewall.priority
        allowed, denied = doc.get("allowed") or [], doc.get("denied") or []
        if bool(allowed) == bool(denied):
            # Unconfirmed wording; a rule either allows or denies (Firewall.allowed / denied docstrings).
            raise _invalid_field(path, "", "Exactly one of allowed or denied must be specified.")
        for kind, rules in (("allowed", allowed), ("denied", denied)):
            for index, rule in enumerate(rules):
                self._check_rule(rule, f"{path}.{kind}[{index}]")
        for field in ("sourceRanges", "destinationRanges"):
            for index, cidr in enumerate(doc.get(field, [])):
                try:
                    ipaddress.ip_network(str(cidr), strict=False)
                except ValueError as exc:
                    raise _invalid_field(f"{path}.{field}[{index}]", cidr, "Invalid IP CIDR range.") from exc
        if direction == "INGRESS" and not (
            doc.get("sourceRanges") or doc.get("sourceTags") or doc.get("sourceServiceAccounts")
        ):
            # No source given: the rule applies to all sources, 0.0.0.0/0 (Firewall.source_ranges docstring).
            doc["sourceRanges"] = ["0.0.0.0/0"]
        if direction == "EGRESS" and not doc.get("destinationRanges"):
            doc["destinationRanges"] = ["0.0.0.0/0"]
        doc.setdefault("logConfig", {"enable": False})
        doc.setdefault("disabled", False)
        return doc

    @staticmethod
    def _check_rule(rule: dict[str, Any], path: str) -> None:
        protocol = str(rule.get("IPProtocol", ""))
        named = {"tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"}
        # Firewall Allowed.IPProtocol: one of the well-known names or an IP protocol number.
        if protocol not in named and not (protocol.isdigit() and int(protocol) <= 255):
            raise _invalid_field(f"{path}.IPProtocol", protocol, "Invalid IP protocol.")
        for index, port in enumerate(rule.get("ports", [])):
            if protocol not in ("tcp", "udp", "sctp", "6", "17", "132"):
                raise _invalid_field(f"{path}.ports[{index}]", port, "Ports are only valid for TCP, UDP and SCTP.")
            match = re.fullmatch(r"(\d{1,5})(?:-(\d{1,5}))?", str(port))
            low = int(match.group(1)) if match else -1
            high = int(match.group(2) or low) if match else -1
            if match is None or not 0 <= low <= high <= 65535:
                raise _invalid_field(f"{path}.ports[{index}]", port, "Invalid port specification.")

    def _firewall(self, project: str, firewall: str) -> tuple[str, dict[str, Any]]:
        key = f"projects/{project}/global/firewalls/{firewall}"
        doc = self._table(FIREWALLS).get(key)
        if doc is None:
            raise _not_found(key)
        return key, doc

    def get_firewall(self, req: Request, project: str, firewall: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetFirewallRequest, path=("project", "firewall"))
        self.emulator.authorize(req, "compute.firewalls.get", f"projects/{project}/global/firewalls/{firewall}")
        with self._reading():
            return _copy(self._firewall(project, firewall)[1])

    def list_firewalls(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListFirewallsRequest, path=("project",))
        self.emulator.authorize(req, "compute.firewalls.list", f"projects/{project}")
        predicate = _filter(req)
        prefix = f"projects/{project}/global/firewalls/"
        with self._reading():
            docs = [_copy(d) for k, d in self._table(FIREWALLS).items() if k.startswith(prefix) and predicate(d)]
        return _list_response("compute#firewallList", f"projects/{project}/global/firewalls", _order(docs, req), req)

    def patch_firewall(self, req: Request, project: str, firewall: str) -> dict[str, Any]:
        _check_query(req, compute_v1.PatchFirewallRequest, path=("project", "firewall"), body="firewall_resource")
        given = _parse(compute_v1.Firewall, req)

        def act(key: str, doc: dict[str, Any]) -> dict[str, Any]:
            if given.get("name", firewall) != firewall:
                raise _invalid_field("resource.name", given["name"], "The name of a firewall cannot be changed.")
            # PATCH takes the fields it is given and keeps the others (Firewalls.Patch: "JSON merge patch").
            merged = {
                **doc,
                **{k: v for k, v in given.items() if k not in ("id", "kind", "creationTimestamp", "selfLink")},
            }
            for cleared in ("allowed", "denied"):
                if cleared in given:
                    merged.pop("denied" if cleared == "allowed" else "allowed", None)
            normalized = self._normalize_firewall(project, merged, "resource")
            for kept in ("kind", "id", "creationTimestamp", "name", "selfLink"):
                normalized[kept] = doc[kept]
            self._table(FIREWALLS)[key] = normalized
            return self._start_operation(
                req, project=project, scope="global", operation_type="patch", target=key, target_id=doc["id"]
            )

        key = f"projects/{project}/global/firewalls/{firewall}"
        return self._change(
            req, project, "compute.firewalls.update", key, lambda: self._firewall(project, firewall), act
        )

    def delete_firewall(self, req: Request, project: str, firewall: str) -> dict[str, Any]:
        _check_query(req, compute_v1.DeleteFirewallRequest, path=("project", "firewall"))

        def act(key: str, doc: dict[str, Any]) -> dict[str, Any]:
            del self._table(FIREWALLS)[key]
            return self._start_operation(
                req, project=project, scope="global", operation_type="delete", target=key, target_id=doc["id"]
            )

        key = f"projects/{project}/global/firewalls/{firewall}"
        return self._change(
            req, project, "compute.firewalls.delete", key, lambda: self._firewall(project, firewall), act
        )
