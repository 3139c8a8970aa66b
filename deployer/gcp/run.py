"""Cloud Run Admin API v2: services (as REST JSON documents) and their IAM policy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deployer.errors import DeployerError
from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call


@dataclass(frozen=True)
class RunService:
    doc: dict[str, Any]  # the service as REST JSON (camelCase), as Google returns it

    @property
    def name(self) -> str:
        return str(self.doc.get("name", ""))

    @property
    def uri(self) -> str:
        return str(self.doc.get("uri", ""))

    @property
    def latest_ready_revision(self) -> str:
        return str(self.doc.get("latestReadyRevision", "")).rsplit("/", 1)[-1]

    @property
    def latest_created_revision(self) -> str:
        return str(self.doc.get("latestCreatedRevision", "")).rsplit("/", 1)[-1]

    @property
    def terminal_condition(self) -> dict[str, Any]:
        return dict(self.doc.get("terminalCondition") or {})


class RevisionFailure(Exception):
    """A revision that did not become ready: the service as it is now, and Google's explanation."""

    def __init__(self, service: RunService | None, message: str) -> None:
        super().__init__(message)
        self.service = service
        self.message = message


def _to_doc(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return dict(json_format.MessageToDict(type(message).pb(message)))


def _polling(timeout_s: float) -> Any:
    from google.api_core.future import polling

    # Poll soon and often at first: a revision is usually ready in seconds, and a deploy is waited on by a person.
    return polling.DEFAULT_POLLING.with_delay(initial=0.5, maximum=5.0, multiplier=1.5).with_timeout(timeout_s)


# The permissions the calls below need to deploy a service (get_service, create or update, the operation waited on),
# and to make it public (get/set_iam_policy). Source: "Cloud Run IAM permissions", each method's required permission
# (https://cloud.google.com/run/docs/reference/iam/permissions). Doctor tests exactly these before a deploy.
SERVICE_PERMISSIONS = ("run.services.get", "run.services.create", "run.services.update", "run.operations.get")
PUBLIC_PERMISSIONS = ("run.services.getIamPolicy", "run.services.setIamPolicy")


class CloudRunAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def get_service(self, name: str) -> RunService | None:
        from google.api_core import exceptions as gexc

        project = name.split("/")[1]
        with google_call(f"looking up Cloud Run service {name.rsplit('/', 1)[-1]}", project=project):
            try:
                return RunService(_to_doc(self._clients.run_services.get_service(name=name)))
            except gexc.NotFound:
                return None

    def create_service(
        self, parent: str, service_id: str, body: dict[str, Any], *, timeout_s: float, validate_only: bool = False
    ) -> RunService:
        """Create the service and wait for its revision; ``validate_only`` has Google check the request and create
        nothing (a dry run the server checked)."""
        from google.cloud import run_v2

        service = run_v2.Service.from_json(json.dumps(body), ignore_unknown_fields=False)
        project = parent.split("/")[1]
        doing = "checking (validate_only) the creation of" if validate_only else "creating"
        with google_call(f"{doing} Cloud Run service {service_id}", project=project):
            request = run_v2.CreateServiceRequest(
                parent=parent, service=service, service_id=service_id, validate_only=validate_only
            )
            operation = self._clients.run_services.create_service(request=request)
        return self._wait(operation, f"{parent}/services/{service_id}", timeout_s)

    def update_service(
        self,
        body: dict[str, Any],
        *,
        timeout_s: float,
        update_mask: Sequence[str],
        validate_only: bool = False,
    ) -> RunService:
        """Update only the fields ``update_mask`` names (proto paths, snake_case) and wait for the revision.

        The body is the service as read, with deployer's fields set; fields newer than this client library are
        dropped from it when it is parsed, and the mask keeps Google from clearing them: only what deployer owns
        is written. (A field newer than the library inside a container is still lost, since the mask can only
        name the whole ``template.containers`` list.)
        """
        from google.cloud import run_v2
        from google.protobuf import field_mask_pb2

        service = run_v2.Service.from_json(json.dumps(body), ignore_unknown_fields=True)
        project = body["name"].split("/")[1]
        doing = "checking (validate_only) the update of" if validate_only else "updating"
        with google_call(f"{doing} Cloud Run service {body['name'].rsplit('/', 1)[-1]}", project=project):
            request = run_v2.UpdateServiceRequest(
                service=service,
                update_mask=field_mask_pb2.FieldMask(paths=list(update_mask)),
                validate_only=validate_only,
            )
            operation = self._clients.run_services.update_service(request=request)
        return self._wait(operation, body["name"], timeout_s)

    def _wait(self, operation: Any, name: str, timeout_s: float) -> RunService:
        from google.api_core import exceptions as gexc

        project = name.split("/")[1]
        try:
            with google_call("waiting for the Cloud Run revision", project=project):
                result = operation.result(timeout=timeout_s, polling=_polling(timeout_s))
        except TimeoutError as exc:  # concurrent.futures.TimeoutError is this one since Python 3.11
            # Only our wait ended: Cloud Run goes on rolling out, and moves traffic only once the revision is ready.
            service = name.rsplit("/", 1)[-1]
            raise DeployerError(
                f"the rollout of Cloud Run service {service} did not finish within {int(timeout_s)}s: it is still in "
                "progress on Google's side, and traffic is unchanged until its new revision is ready",
                f"see where it stands with `deployer status {service}` (or the service's Revisions page in the Cloud "
                "Console), then run the deploy again: it finds the revision and finishes",
            ) from exc
        except Exception as exc:
            cause = exc.__cause__ if isinstance(exc.__cause__, gexc.GoogleAPICallError) else None
            if cause is None or isinstance(cause, gexc.PermissionDenied | gexc.Unauthenticated):
                raise
            # The operation failed: Google's message explains the revision; the service shows where traffic is.
            raise RevisionFailure(self.get_service(name), cause.message or str(cause)) from exc
        return RunService(_to_doc(result))

    def get_iam_policy(self, resource: str) -> dict[str, Any]:
        from google.protobuf import json_format

        with google_call("reading the service's IAM policy", project=resource.split("/")[1]):
            policy = self._clients.run_services.get_iam_policy(request={"resource": resource})
        return dict(json_format.MessageToDict(policy))

    def set_iam_policy(self, resource: str, policy: dict[str, Any]) -> dict[str, Any]:
        from google.iam.v1 import policy_pb2
        from google.protobuf import json_format

        message = json_format.ParseDict(policy, policy_pb2.Policy())
        with google_call("setting the service's IAM policy", project=resource.split("/")[1]):
            updated = self._clients.run_services.set_iam_policy(request={"resource": resource, "policy": message})
        return dict(json_format.MessageToDict(updated))

    def list_revisions(self, service: str) -> list[dict[str, Any]]:
        """The service's revisions as REST JSON, newest first (by ``createTime``)."""
        with google_call(f"listing the revisions of {service.rsplit('/', 1)[-1]}", project=service.split("/")[1]):
            docs = [_to_doc(r) for r in self._clients.run_revisions.list_revisions(parent=service)]
        return sorted(docs, key=lambda d: str(d.get("createTime", "")), reverse=True)

    def delete_service(self, name: str, *, etag: str = "", timeout_s: float = 300.0) -> None:
        """Delete the service (its revisions and IAM policy go with it) and wait; ``etag`` guards a change since it
        was read (DeleteServiceRequest.etag)."""
        from google.cloud import run_v2

        with google_call(f"deleting Cloud Run service {name.rsplit('/', 1)[-1]}", project=name.split("/")[1]):
            operation = self._clients.run_services.delete_service(
                request=run_v2.DeleteServiceRequest(name=name, etag=etag)
            )
            operation.result(timeout=timeout_s, polling=_polling(timeout_s))
