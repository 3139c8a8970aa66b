"""Service Usage v1: which APIs a project has enabled.

Routes (URIs as google-cloud-service-usage 1.18's REST transport calls them,
``service_usage_v1/services/service_usage/transports/rest_base.py``):
  ``GET /v1/projects/{p}/services?filter=state:ENABLED``, ``GET /v1/projects/{p}/services/{service}``,
  ``GET /v1/projects/{p}/services:batchGet?names=``, ``POST .../services/{service}:enable|:disable``,
  ``POST /v1/projects/{p}/services:batchEnable``; operations are read at ``GET /v1/operations/{id}`` (a route Cloud
  Build's global operations share: both read the emulator's one operations table).

Google's behaviour reproduced:
- batchEnable takes at most 20 service ids and is all or nothing
  (https://cloud.google.com/service-usage/docs/reference/rest/v1/services/batchEnable).
- An unknown service is 403 "Not found or permission denied for service(s): NAME." (as gcloud services enable
  shows it; reason SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED).
- A billable API on a project without billing is 400 FAILED_PRECONDITION "Billing account for project 'NUMBER' is
  not found. Billing must be enabled for activation of service(s) '...' to proceed." with reason
  UREQ_PROJECT_BILLING_NOT_FOUND (kyegomez/zeta#71 shows the full error).
- Enabling an enabled service is a done no-op operation ``operations/noop.DONE_OPERATION``.
- An API enabled a moment ago reads ENABLED here, but its own surfaces still answer SERVICE_DISABLED for
  ``emulator.settings["service_enable_delay_s"]`` seconds (world.service_readiness), as Google's do while the
  change propagates.
"""

from __future__ import annotations

import uuid
from typing import Any

from google.cloud import service_usage_v1

from deployer_emulator import protos, world
from deployer_emulator.common import copy_doc
from deployer_emulator.core import Emulator, OperationHandle, Request, paginate
from deployer_emulator.errors import ApiError, error_info, invalid_argument
from deployer_emulator.iam.enforcer import visible_project

OPERATION_METADATA_TYPE = "type.googleapis.com/google.api.serviceusage.v1.OperationMetadata"
BATCH_ENABLE_RESPONSE_TYPE = "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse"
ENABLE_RESPONSE_TYPE = "type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse"
DISABLE_RESPONSE_TYPE = "type.googleapis.com/google.api.serviceusage.v1.DisableServiceResponse"

MAX_BATCH = 20


def _unknown_services(names: list[str]) -> ApiError:
    return ApiError(
        "PERMISSION_DENIED",
        f"Not found or permission denied for service(s): {', '.join(names)}.",
        details=[
            error_info(
                "SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED", "serviceusage.googleapis.com", services=",".join(names)
            )
        ],
    )


def _billing_required(number: str, services: list[str]) -> ApiError:
    joined = ",".join(services)
    subject = f"?error_code=390001&project={number}&" + "&".join(f"services={s}" for s in services)
    return ApiError(
        "FAILED_PRECONDITION",
        f"Billing account for project '{number}' is not found. Billing must be enabled for activation of "
        f"service(s) '{joined}' to proceed.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.PreconditionFailure",
                "violations": [{"subject": subject, "type": "googleapis.com/billing-enabled"}],
            },
            error_info(
                "UREQ_PROJECT_BILLING_NOT_FOUND",
                "serviceusage.googleapis.com/billing-enabled",
                project=number,
                services=joined,
            ),
        ],
        http_status=400,
    )


class ServiceUsage:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def _project(self, req: Request, project: str, permission: str, resource: str) -> dict[str, Any]:
        return visible_project(self.emulator, req, "serviceusage.googleapis.com", permission, project, resource)

    def _service(self, project: dict[str, Any], name: str) -> dict[str, Any]:
        number = world.project_number_of(project)
        enabled = name in world.enabled_services(self.emulator, str(project["projectId"]))
        return {
            "name": f"projects/{number}/services/{name}",
            "parent": f"projects/{number}",
            "config": {"name": name, "title": world.KNOWN_SERVICES[name][0]},
            "state": "ENABLED" if enabled else "DISABLED",
        }

    def list_services(self, req: Request, project: str) -> dict[str, Any]:
        found = self._project(req, project, "serviceusage.services.list", f"projects/{project}")
        query = (req.param("filter") or "").strip()
        wanted = {"": None, "state:ENABLED": "ENABLED", "state:DISABLED": "DISABLED"}
        if query not in wanted:
            raise invalid_argument(
                f"Invalid filter: {query}. Supported filters are state:ENABLED and state:DISABLED.", field="filter"
            )
        services = [self._service(found, name) for name in sorted(world.KNOWN_SERVICES)]
        if wanted[query]:
            services = [s for s in services if s["state"] == wanted[query]]
        # ListServicesRequest.page_size: "default 50, maximum 200".
        return paginate(services, req, key="services", default=50, maximum=200)

    def get_service(self, req: Request, project: str, service: str) -> dict[str, Any]:
        found = self._project(req, project, "serviceusage.services.get", f"projects/{project}/services/{service}")
        if service not in world.KNOWN_SERVICES:
            raise _unknown_services([service])
        return self._service(found, service)

    def batch_get(self, req: Request, project: str) -> dict[str, Any]:
        found = self._project(req, project, "serviceusage.services.get", f"projects/{project}")
        names = req.query.get("names", [])
        if not names or len(names) > MAX_BATCH:
            raise invalid_argument(f"names must list between 1 and {MAX_BATCH} services.", field="names")
        services = [n.rsplit("/", 1)[-1] for n in names]
        unknown = [s for s in services if s not in world.KNOWN_SERVICES]
        if unknown:
            raise _unknown_services(unknown)
        return {"services": [self._service(found, s) for s in services]}

    def _enable(self, req: Request, project: str, services: list[str]) -> tuple[dict[str, Any], list[str]]:
        """Check everything before changing anything (batchEnable is all or nothing); the services to turn on."""
        found: dict[str, Any] | None = None
        for service in services:
            found = self._project(
                req, project, "serviceusage.services.enable", f"projects/{project}/services/{service}"
            )
        assert found is not None
        unknown = [s for s in services if s not in world.KNOWN_SERVICES]
        if unknown:
            raise _unknown_services(unknown)
        project_id = str(found["projectId"])
        enabled = world.enabled_services(self.emulator, project_id)
        missing = [s for s in dict.fromkeys(services) if s not in enabled]
        billable = [s for s in missing if world.KNOWN_SERVICES[s][1]]
        if billable and not world.billing_info(self.emulator, project_id).get("billingEnabled"):
            raise _billing_required(world.project_number_of(found), billable)
        return found, missing

    def _operation(self, found: dict[str, Any], services: list[str], response: Any, *, noop: bool) -> dict[str, Any]:
        number = world.project_number_of(found)
        names = [f"projects/{number}/services/{s}" for s in services]
        metadata = {"@type": OPERATION_METADATA_TYPE, "resourceNames": names}
        if noop:
            # Nothing to change: Service Usage answers a finished placeholder operation.
            done = {
                "name": "operations/noop.DONE_OPERATION",
                "metadata": metadata,
                "done": True,
                "response": response(),
            }
            with self.emulator.mutation():
                self.emulator.state.table("operations")[done["name"]] = done
            return copy_doc(done)
        name = f"operations/acat.p2-{number}-{uuid.uuid4()}"

        def work(handle: OperationHandle) -> dict[str, Any]:
            return response()  # type: ignore[no-any-return]

        return self.emulator.start_operation(name, metadata, work)

    def enable(self, req: Request, project: str, service: str) -> dict[str, Any]:
        protos.parse(service_usage_v1.EnableServiceRequest, req.body, field="*")
        found, missing = self._enable(req, project, [service])
        project_id = str(found["projectId"])
        for name in missing:
            world.enable_service(self.emulator, project_id, name)

        def response() -> dict[str, Any]:
            return {"@type": ENABLE_RESPONSE_TYPE, "service": self._service(found, service)}

        return self._operation(found, [service], response, noop=not missing)

    def batch_enable(self, req: Request, project: str) -> dict[str, Any]:
        body = protos.parse(service_usage_v1.BatchEnableServicesRequest, req.body, field="*")
        services = list(body.service_ids)
        if not services:
            raise invalid_argument("service_ids must not be empty.", field="service_ids")
        if len(services) > MAX_BATCH:
            # Unconfirmed wording; the limit is batchEnable's ("A maximum of 20 services can be enabled").
            raise invalid_argument(
                f"The request lists {len(services)} services; batchEnable enables at most {MAX_BATCH} at a time.",
                field="service_ids",
            )
        found, missing = self._enable(req, project, services)
        project_id = str(found["projectId"])
        for name in missing:
            world.enable_service(self.emulator, project_id, name)

        def response() -> dict[str, Any]:
            return {
                "@type": BATCH_ENABLE_RESPONSE_TYPE,
                "services": [self._service(found, s) for s in dict.fromkeys(services)],
            }

        return self._operation(found, services, response, noop=not missing)

    def disable(self, req: Request, project: str, service: str) -> dict[str, Any]:
        protos.parse(service_usage_v1.DisableServiceRequest, req.body, field="*")
        found = self._project(req, project, "serviceusage.services.disable", f"projects/{project}/services/{service}")
        if service not in world.KNOWN_SERVICES:
            raise _unknown_services([service])
        project_id = str(found["projectId"])
        was_enabled = service in world.enabled_services(self.emulator, project_id)
        world.disable_service(self.emulator, project_id, service)

        def response() -> dict[str, Any]:
            return {"@type": DISABLE_RESPONSE_TYPE, "service": self._service(found, service)}

        return self._operation(found, [service], response, noop=not was_enabled)


def register(emulator: Emulator) -> None:
    usage = ServiceUsage(emulator)
    # Seconds during which a freshly enabled API's own surfaces still answer SERVICE_DISABLED.
    emulator.settings.setdefault("service_enable_delay_s", 0.0)
    router = emulator.router
    router.add("GET", "/v1/projects/{project}/services", usage.list_services)
    router.add("GET", "/v1/projects/{project}/services:batchGet", usage.batch_get)
    router.add("POST", "/v1/projects/{project}/services:batchEnable", usage.batch_enable)
    router.add("GET", "/v1/projects/{project}/services/{service}", usage.get_service)
    router.add("POST", "/v1/projects/{project}/services/{service}:enable", usage.enable)
    router.add("POST", "/v1/projects/{project}/services/{service}:disable", usage.disable)
