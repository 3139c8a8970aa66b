"""Google's error JSON, as the REST surfaces answer it.

Shape: ``{"error": {"code", "message", "status", "details": [{"@type": ...ErrorInfo, "reason", "domain",
"metadata"}]}}`` (https://cloud.google.com/apis/design/errors#http_mapping). google.api_core turns it into
``google.api_core.exceptions.*`` on the client side, ``details`` included.
"""

from __future__ import annotations

from typing import Any

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"

# google.rpc.Code name -> HTTP status (https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto)
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ABORTED": 409,
    "ALREADY_EXISTS": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

# The numeric google.rpc.Code, used where an error is embedded in an Operation (``error.code``).
RPC_CODE = {
    "CANCELLED": 1,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}


class ApiError(Exception):
    """An error the emulated API answers with, in Google's shape."""

    def __init__(
        self,
        status: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.http_status = http_status or HTTP_STATUS[status]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.http_status, "message": self.message, "status": self.status}
        if self.details:
            body["details"] = self.details
        return {"error": body}

    def to_operation_error(self) -> dict[str, Any]:
        """The ``google.rpc.Status`` an Operation carries in ``error``."""
        status: dict[str, Any] = {"code": RPC_CODE.get(self.status, 2), "message": self.message}
        if self.details:
            status["details"] = self.details
        return status


def error_info(reason: str, domain: str = "googleapis.com", **metadata: str) -> dict[str, Any]:
    return {"@type": ERROR_INFO, "reason": reason, "domain": domain, "metadata": metadata}


def invalid_argument(message: str, *, field: str | None = None, description: str | None = None) -> ApiError:
    details = []
    if field is not None:
        details.append(
            {"@type": BAD_REQUEST, "fieldViolations": [{"field": field, "description": description or message}]}
        )
    return ApiError("INVALID_ARGUMENT", message, details=details)


def not_found(message: str) -> ApiError:
    return ApiError("NOT_FOUND", message)


def already_exists(message: str) -> ApiError:
    return ApiError("ALREADY_EXISTS", message)


def failed_precondition(message: str, reason: str | None = None, **metadata: str) -> ApiError:
    details = [error_info(reason, **metadata)] if reason else None
    return ApiError("FAILED_PRECONDITION", message, details=details)


def permission_denied(message: str, reason: str = "IAM_PERMISSION_DENIED", **metadata: str) -> ApiError:
    return ApiError("PERMISSION_DENIED", message, details=[error_info(reason, "iam.googleapis.com", **metadata)])
