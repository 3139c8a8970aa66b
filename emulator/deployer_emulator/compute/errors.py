"""Compute's own error shape: ``{"error": {"code", "message", "errors": [...]}}``."""

from __future__ import annotations

from typing import Any

from deployer_emulator.errors import ApiError

# ---------------------------------------------------------------------------------------------------------------
# Errors: Compute's own shape
# ---------------------------------------------------------------------------------------------------------------

_HTTP_STATUS_NAME = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    503: "UNAVAILABLE",
}


class ComputeError(ApiError):
    """Compute answers ``{"error": {"code", "message", "errors": [{"message", "domain": "global", "reason"}]}}``
    (e.g. ``'[nvidia-tesla-a100, n1-highmem-8] features are not compatible for creating instance.'``, domain global,
    reason badRequest: https://github.com/skypilot-org/skypilot/issues/212), without the ``status`` newer APIs add."""

    def __init__(
        self,
        http_status: int,
        reason: str,
        message: str,
        *,
        location: str | None = None,
        location_type: str | None = None,
    ) -> None:
        super().__init__(_HTTP_STATUS_NAME[http_status], message, http_status=http_status)
        self.reason = reason
        self.location = location
        self.location_type = location_type

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"message": self.message, "domain": "global", "reason": self.reason}
        if self.location:
            entry["location"] = self.location
            entry["locationType"] = self.location_type or "parameter"
        return {"error": {"code": self.http_status, "message": self.message, "errors": [entry]}}


def _invalid_field(path: str, value: Any, why: str) -> ComputeError:
    # "Invalid value for field 'resource.machineType': 'zones/us-central1-a/machineTypes/n1-standard-99'. Machine type
    # with name 'n1-standard-99' does not exist in zone 'us-central1-a'." (400, invalid; terraform users' reports)
    return ComputeError(400, "invalid", f"Invalid value for field '{path}': '{value}'. {why}")


def _bad_request(message: str) -> ComputeError:
    return ComputeError(400, "badRequest", message)


def _not_found(resource: str) -> ComputeError:
    # "The resource 'projects/p/zones/z/instances/i' was not found" (404, notFound).
    return ComputeError(404, "notFound", f"The resource '{resource}' was not found")


def _already_exists(resource: str) -> ComputeError:
    return ComputeError(409, "alreadyExists", f"The resource '{resource}' already exists")


def _not_ready(resource: str) -> ComputeError:
    # Compute's answer to an action the resource's current state does not allow (reason resourceNotReady).
    return ComputeError(400, "resourceNotReady", f"The resource '{resource}' is not ready")


def _incompatible(features: str, machine_type: str) -> ComputeError:
    return _bad_request(f"[{features}, {machine_type}] features are not compatible for creating instance.")


def _malformed(path: str, value: str) -> ComputeError:
    return _invalid_field(path, value, "The URL is malformed.")
