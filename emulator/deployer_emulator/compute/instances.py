"""Instances: insert, get, list, delete, setMetadata, setScheduling, reset, stop, start, serial port."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.cloud import compute_v1

from deployer_emulator.compute.base import (
    API,
    EMPTY_FINGERPRINT,
    INSTANCE_FACTS,
    INSTANCES,
    _check_query,
    _copy,
    _fingerprint,
    _int_param,
    _new_id,
    _parse,
    _project_of_member,
    _timestamp,
)
from deployer_emulator.compute.catalogue import region_of
from deployer_emulator.compute.errors import (
    ComputeError,
    _already_exists,
    _bad_request,
    _invalid_field,
    _not_found,
    _not_ready,
)
from deployer_emulator.compute.filters import _aggregated, _filter, _list_response, _order
from deployer_emulator.compute.instance_specs import _NAME_RE, _NAME_RULE, InstanceSpecs
from deployer_emulator.compute.operations import Operations
from deployer_emulator.compute.quotas import Quotas
from deployer_emulator.core import Request
from deployer_emulator.errors import ApiError

_INSTANCE_OUTPUT_ONLY = (
    "id",
    "kind",
    "creationTimestamp",
    "selfLink",
    "status",
    "statusMessage",
    "zone",
    "cpuPlatform",
    "labelFingerprint",
    "fingerprint",
    "lastStartTimestamp",
    "lastStopTimestamp",
    "lastSuspendedTimestamp",
    "satisfiesPzi",
    "satisfiesPzs",
    "startRestricted",
    "resourceStatus",
)


class Instances(Operations, Quotas, InstanceSpecs):
    """The instance handlers."""

    def insert_instance(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        _check_query(req, compute_v1.InsertInstanceRequest, path=("project", "zone"), body="instance_resource")
        given = _parse(compute_v1.Instance, req)
        for unsupported in ("sourceInstanceTemplate", "sourceMachineImage"):
            if req.param(unsupported):
                raise ApiError("UNIMPLEMENTED", f"The emulator does not create instances from {unsupported}.")
        name = str(given.get("name", ""))
        key = f"projects/{project}/zones/{zone}/instances/{name}"
        # What Google checks to create an instance with these parts
        # (https://cloud.google.com/compute/docs/instances/create-start-instance, "Required roles").
        self.emulator.authorize(req, "compute.instances.create", key)
        if given.get("disks"):
            self.emulator.authorize(req, "compute.disks.create", f"projects/{project}/zones/{zone}/disks/{name}")
        if given.get("networkInterfaces"):
            subnet = f"projects/{project}/regions/{region_of(zone)}/subnetworks/default"
            self.emulator.authorize(req, "compute.subnetworks.use", subnet)
            if any(nic.get("accessConfigs") for nic in given["networkInterfaces"]):
                self.emulator.authorize(req, "compute.subnetworks.useExternalIp", subnet)
        if given.get("metadata", {}).get("items"):
            self.emulator.authorize(req, "compute.instances.setMetadata", key)
        if given.get("labels"):
            self.emulator.authorize(req, "compute.instances.setLabels", key)
        for account in given.get("serviceAccounts", []):
            self.emulator.authorize(req, "compute.instances.setServiceAccount", key)
            email = self._service_account_email(project, str(account.get("email", "")))
            owner = _project_of_member(email, project)
            self.emulator.authorize(req, "iam.serviceAccounts.actAs", f"projects/{owner}/serviceAccounts/{email}")
        with self.emulator.mutation():
            self.advance()
            replayed = self._replayed(project, req)
            if replayed is not None:
                return replayed
            self._zone_or_404(project, zone)
            if not _NAME_RE.fullmatch(name):
                raise _invalid_field("resource.name", name, _NAME_RULE)
            if not given.get("machineType"):
                raise _invalid_field("resource.machineType", "", "Machine type must be specified.")
            shape = self._resolve_machine_type(str(given["machineType"]), zone, "resource.machineType")
            disks, disk_types, image = self._normalize_disks(project, zone, name, shape, given.get("disks", []))
            accelerators = self._normalize_accelerators(project, zone, shape, given.get("guestAccelerators", []))
            scheduling = self._normalize_scheduling(
                given.get("scheduling", {}), bool(accelerators), "resource.scheduling"
            )
            metadata = self._normalize_metadata(given.get("metadata", {}), "resource.metadata")
            if key in self._table(INSTANCES):
                raise _already_exists(key)
            interfaces = self._normalize_interfaces(project, zone, given.get("networkInterfaces", []))
            now = self._now()
            labels = given.get("labels", {})
            instance: dict[str, Any] = {
                k: v for k, v in given.items() if k not in _INSTANCE_OUTPUT_ONLY and k != "guestAccelerators"
            }
            instance.update(
                kind="compute#instance",
                id=_new_id(),
                creationTimestamp=_timestamp(now),
                name=name,
                zone=API + f"projects/{project}/zones/{zone}",
                machineType=API + f"projects/{project}/zones/{zone}/machineTypes/{shape.name}",
                status="PROVISIONING",
                cpuPlatform="Unknown CPU Platform",
                disks=disks,
                networkInterfaces=interfaces,
                metadata=metadata,
                scheduling=scheduling,
                serviceAccounts=[
                    {
                        "email": self._service_account_email(project, str(a.get("email", ""))),
                        "scopes": a.get("scopes", []),
                    }
                    for a in given.get("serviceAccounts", [])
                ],
                tags={**given.get("tags", {}), "fingerprint": _fingerprint(given.get("tags", {}).get("items"))},
                labelFingerprint=_fingerprint(labels),
                canIpForward=bool(given.get("canIpForward", False)),
                deletionProtection=bool(given.get("deletionProtection", False)),
                startRestricted=False,
                selfLink=API + key,
            )
            if accelerators:
                instance["guestAccelerators"] = accelerators
            if not instance["serviceAccounts"]:
                del instance["serviceAccounts"]
            facts: dict[str, Any] = {
                "image": image.name,
                "boots": 0,
                "diskTypes": disk_types,
                "staticAddresses": [
                    c["natIP"] for nic in interfaces for c in nic.get("accessConfigs", []) if c.get("natIP")
                ],
            }
            failure = self._quota_error(project, self._uses(instance, facts, running=True)) or self._capacity_error(
                project, zone, instance
            )
            if failure is not None:
                return self._zone_operation(req, project, zone, "insert", key, instance["id"], error=failure)
            self._assign_external(instance)
            instance["fingerprint"] = _fingerprint(instance)
            self._table(INSTANCES)[key] = instance
            self._table(INSTANCE_FACTS)[key] = facts
            return self._zone_operation(
                req, project, zone, "insert", key, instance["id"], action={"kind": "insert", "instance": key}
            )

    def _service_account_email(self, project: str, email: str) -> str:
        # "default" names the project's Compute Engine default service account (ServiceAccount.email docstring).
        if email in ("", "default"):
            return f"{self.emulator.project_number(project)}-compute@developer.gserviceaccount.com"
        return email

    def _instance(self, project: str, zone: str, instance: str) -> tuple[str, dict[str, Any]]:
        self._zone_or_404(project, zone)
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        doc = self._table(INSTANCES).get(key)
        if doc is None:
            raise _not_found(key)
        return key, doc

    def get_instance(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetInstanceRequest, path=("project", "zone", "instance"))
        self.emulator.authorize(req, "compute.instances.get", f"projects/{project}/zones/{zone}/instances/{instance}")
        with self._reading():
            return _copy(self._instance(project, zone, instance)[1])

    def list_instances(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListInstancesRequest, path=("project", "zone"))
        self.emulator.authorize(req, "compute.instances.list", f"projects/{project}/zones/{zone}")
        predicate = _filter(req)
        with self._reading():
            self._zone_or_404(project, zone)
            prefix = f"projects/{project}/zones/{zone}/instances/"
            docs = [_copy(d) for k, d in self._table(INSTANCES).items() if k.startswith(prefix)]
        return _list_response(
            "compute#instanceList",
            f"projects/{project}/zones/{zone}/instances",
            _order([d for d in docs if predicate(d)], req),
            req,
        )

    def aggregated_instances(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.AggregatedListInstancesRequest, path=("project",))
        self.emulator.authorize(req, "compute.instances.list", f"projects/{project}")
        predicate = _filter(req)
        with self._reading():
            prefix = f"projects/{project}/zones/"
            docs = [(k.split("/")[3], _copy(d)) for k, d in self._table(INSTANCES).items() if k.startswith(prefix)]
        entries = [(zone, doc) for zone, doc in sorted(docs, key=lambda e: (e[0], e[1]["name"])) if predicate(doc)]
        return _aggregated(project, req, "instances", "compute#instanceAggregatedList", entries)

    def _on_instance(
        self,
        req: Request,
        project: str,
        zone: str,
        instance: str,
        permission: str,
        act: Callable[[str, dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        return self._change(req, project, permission, key, lambda: self._instance(project, zone, instance), act)

    def delete_instance(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.DeleteInstanceRequest, path=("project", "zone", "instance"))

        def act(key: str, doc: dict[str, Any]) -> dict[str, Any]:
            if doc.get("deletionProtection"):
                # Unconfirmed wording; the rule is Instance.deletion_protection.
                raise _bad_request(
                    "Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'."
                )
            if doc.get("status") != "TERMINATED":
                doc["status"] = "STOPPING"
            return self._zone_operation(
                req, project, zone, "delete", key, doc["id"], action={"kind": "delete", "instance": key}
            )

        return self._on_instance(req, project, zone, instance, "compute.instances.delete", act)

    def set_metadata(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(
            req, compute_v1.SetMetadataInstanceRequest, path=("project", "zone", "instance"), body="metadata_resource"
        )
        given = _parse(compute_v1.Metadata, req)

        def act(key: str, doc: dict[str, Any]) -> dict[str, Any]:
            current = doc.get("metadata", {}).get("fingerprint", EMPTY_FINGERPRINT)
            if given.get("fingerprint") != current:
                # "You must always provide an up-to-date fingerprint hash in order to update or change metadata,
                # otherwise the request will fail with error 412 conditionNotMet." (Metadata.fingerprint docstring;
                # message as terraform-provider-google matches it: "Supplied fingerprint does not match current
                # metadata fingerprint.")
                raise ComputeError(
                    412,
                    "conditionNotMet",
                    "Supplied fingerprint does not match current metadata fingerprint.",
                    location="If-Match",
                    location_type="header",
                )
            metadata = self._normalize_metadata(given, "resource")
            # The new fingerprint is visible as soon as the request is accepted, so a second stale write fails.
            doc["metadata"] = metadata
            action = {"kind": "setMetadata", "instance": key, "metadata": metadata}
            return self._zone_operation(req, project, zone, "setMetadata", key, doc["id"], action=action)

        return self._on_instance(req, project, zone, instance, "compute.instances.setMetadata", act)

    def set_scheduling(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(
            req,
            compute_v1.SetSchedulingInstanceRequest,
            path=("project", "zone", "instance"),
            body="scheduling_resource",
        )
        given = _parse(compute_v1.Scheduling, req)

        def act(key: str, doc: dict[str, Any]) -> dict[str, Any]:
            current = doc.get("scheduling", {})
            changes_model = given.get("provisioningModel", "STANDARD") != current.get("provisioningModel", "STANDARD")
            if changes_model and doc.get("status") != "TERMINATED":
                # Scheduling.preemptible docstring: set "only during instance creation or while the instance is
                # stopped and therefore, in a TERMINATED state"; the same for the provisioning model (unconfirmed).
                raise _not_ready(key)
            gpu = bool(doc.get("guestAccelerators"))
            scheduling = self._normalize_scheduling(given, gpu, "resource")
            action = {"kind": "setScheduling", "instance": key, "scheduling": scheduling}
            return self._zone_operation(req, project, zone, "setScheduling", key, doc["id"], action=action)

        return self._on_instance(req, project, zone, instance, "compute.instances.setScheduling", act)

    def reset(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ResetInstanceRequest, path=("project", "zone", "instance"))

        def act(key: str, doc: dict[str, Any]) -> dict[str, Any]:
            if doc.get("status") != "RUNNING":
                # A reset needs a running VM (Instances.Reset: "Performs a reset on the instance").
                raise _not_ready(key)
            return self._zone_operation(
                req, project, zone, "reset", key, doc["id"], action={"kind": "reset", "instance": key}
            )

        return self._on_instance(req, project, zone, instance, "compute.instances.reset", act)

    def stop(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.StopInstanceRequest, path=("project", "zone", "instance"))

        def act(key: str, doc: dict[str, Any]) -> dict[str, Any]:
            if doc.get("status") in ("PROVISIONING", "STAGING"):
                raise _not_ready(key)
            action = None
            if doc.get("status") == "RUNNING":
                doc["status"] = "STOPPING"
                action = {"kind": "stop", "instance": key}
            return self._zone_operation(req, project, zone, "stop", key, doc["id"], action=action)

        return self._on_instance(req, project, zone, instance, "compute.instances.stop", act)

    def start(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.StartInstanceRequest, path=("project", "zone", "instance"))

        def act(key: str, doc: dict[str, Any]) -> dict[str, Any]:
            if doc.get("status") == "STOPPING":
                raise _not_ready(key)
            if doc.get("status") != "TERMINATED":
                return self._zone_operation(req, project, zone, "start", key, doc["id"])
            # A start needs the quota and the capacity again.
            facts = self._table(INSTANCE_FACTS).setdefault(key, {})
            uses = self._uses(doc, facts, running=True)
            failure = self._quota_error(project, uses) or self._capacity_error(project, zone, doc)
            if failure is not None:
                return self._zone_operation(req, project, zone, "start", key, doc["id"], error=failure)
            doc["status"] = "PROVISIONING"
            self._assign_external(doc)
            return self._zone_operation(
                req, project, zone, "start", key, doc["id"], action={"kind": "start", "instance": key}
            )

        return self._on_instance(req, project, zone, instance, "compute.instances.start", act)

    def serial_port(self, req: Request, project: str, zone: str, instance: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetSerialPortOutputInstanceRequest, path=("project", "zone", "instance"))
        key = f"projects/{project}/zones/{zone}/instances/{instance}"
        self.emulator.authorize(req, "compute.instances.getSerialPortOutput", key)
        port = _int_param(req, "port", 1) or 1
        if not 1 <= port <= 4:
            raise _invalid_field("port", port, "Must be between 1 and 4.")  # Compute has COM1-COM4; wording unconfirmed
        start = _int_param(req, "start", 0) or 0
        with self._reading():
            key, _ = self._instance(project, zone, instance)
            facts = self._table(INSTANCE_FACTS).get(key, {})
            raw = str(facts.get("console", "")).encode() if port == 1 else b""
            dropped = int(facts.get("consoleDropped", 0)) if port == 1 else 0
        end = dropped + len(raw)
        # Negative start: the most recent bytes; a start before the buffer moves to the oldest byte kept; the answer's
        # start says where the contents begin (GetSerialPortOutputInstanceRequest.start docstring).
        begin = max(end + start if start < 0 else start, dropped)
        contents = raw[begin - dropped :].decode(errors="replace") if begin < end else ""
        return {
            "kind": "compute#serialPortOutput",
            "contents": contents,
            "start": str(begin),
            "next": str(max(end, begin)),
            "selfLink": API + key + f"/serialPort?port={port}",
        }
