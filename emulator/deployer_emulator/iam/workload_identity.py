"""Workload Identity pools and providers: create, get, list, patch, delete (kept 30 days), undelete."""

from __future__ import annotations

import re
from typing import Any

from deployer_emulator.common import copy_doc
from deployer_emulator.core import Request, paginate
from deployer_emulator.errors import ApiError, already_exists, invalid_argument, not_found
from deployer_emulator.iam import cel
from deployer_emulator.iam.base import POOLS, PROVIDERS, IamBase, _check_fields, _in_30_days

_POOL_FIELDS: dict[str, Any] = {
    "description": str,
    "disabled": bool,
    "displayName": str,
    "expireTime": str,
    "inlineCertificateIssuanceConfig": dict,
    "inlineTrustConfig": dict,
    "mode": str,
    "name": str,
    "sessionDuration": str,
    "state": str,
}
_PROVIDER_FIELDS: dict[str, Any] = {
    "attributeCondition": str,
    "attributeMapping": dict,
    "aws": {"accountId": str},
    "description": str,
    "disabled": bool,
    "displayName": str,
    "expireTime": str,
    "name": str,
    "oidc": {"allowedAudiences": list, "issuerUri": str, "jwksJson": str},
    "saml": {"idpMetadataXml": str},
    "state": str,
    "x509": dict,
}
_POOL_OUTPUT_ONLY = ("name", "state", "expireTime")
# Issuers shared by many tenants: Google requires an attribute condition that restricts the provider to yours
# (https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines#conditions).
_SHARED_ISSUERS = ("https://token.actions.githubusercontent.com", "https://gitlab.com", "https://app.terraform.io")
_CONDITION_REQUIRED = (
    "The attribute condition must reference one of the provider's claims. For more information, see "
    "https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines#conditions"
)
# workloadIdentityPoolId / workloadIdentityPoolProviderId: "4-32 characters, and may contain the characters
# [a-z0-9-]. The prefix `gcp-` is reserved for use by Google, and may not be specified." (iam_v1 discovery).
_WIF_ID_RE = re.compile(r"^[a-z0-9-]{4,32}$")
_ATTRIBUTE_KEY_RE = re.compile(r"^(?:google\.subject|google\.groups|attribute\.[a-z0-9_]{1,100})$")


class WorkloadIdentity(IamBase):
    """The pool and provider handlers."""

    @staticmethod
    def _check_wif_id(value: str, param: str) -> None:
        if not _WIF_ID_RE.match(value) or value.startswith("gcp-"):
            # Unconfirmed wording; the rule is the id's in CreateWorkloadIdentityPool(Provider)Request.
            raise invalid_argument(
                f"Invalid {param} '{value}': it must be 4 to 32 characters of lowercase letters, digits and "
                "hyphens, and the prefix gcp- is reserved.",
                field=param,
            )

    @staticmethod
    def _check_display(doc: dict[str, Any]) -> None:
        if len(doc.get("displayName", "")) > 32:
            raise invalid_argument("display_name cannot exceed 32 characters.", field="display_name")
        if len(doc.get("description", "")) > 256:
            raise invalid_argument("description cannot exceed 256 characters.", field="description")

    def create_pool(self, req: Request, project: str, location: str) -> dict[str, Any]:
        body = req.json()
        _check_fields(body, _POOL_FIELDS, "workload_identity_pool")
        pool_id = req.param("workloadIdentityPoolId") or ""
        self.emulator.authorize(
            req, "iam.googleapis.com/workloadIdentityPools.create", f"projects/{project}/locations/{location}"
        )
        self._check_wif_id(pool_id, "workload_identity_pool_id")
        self._check_display(body)
        name = f"{self._parent(req, project, location)}/workloadIdentityPools/{pool_id}"
        # Also refused for a deleted pool, whose id stays reserved for 30 days
        # (terraform-google-modules/terraform-google-github-actions-runners#49).
        return self._create_wif(POOLS, name, body)

    def _pool(
        self, req: Request, project: str, location: str, pool: str, permission: str
    ) -> tuple[str, dict[str, Any]]:
        return self._stored(req, project, location, f"workloadIdentityPools/{pool}", POOLS, permission)

    def _stored(
        self, req: Request, project: str, location: str, path: str, table: str, permission: str
    ) -> tuple[str, dict[str, Any]]:
        """The pool or provider at ``path`` below the location, once ``permission`` on it is authorized."""
        self.emulator.authorize(req, permission, f"projects/{project}/locations/{location}/{path}")
        name = f"{self._parent(req, project, location)}/{path}"
        with self.emulator.state.lock:
            doc = self.emulator.state.table(table).get(name)
            if doc is None:
                raise not_found("Requested entity was not found.")
            return name, copy_doc(doc)

    def get_pool(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        return self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPools.get")[1]

    def list_pools(self, req: Request, project: str, location: str) -> dict[str, Any]:
        self.emulator.authorize(
            req, "iam.googleapis.com/workloadIdentityPools.list", f"projects/{project}/locations/{location}"
        )
        prefix = f"{self._parent(req, project, location)}/workloadIdentityPools/"
        show_deleted = req.flag("showDeleted")
        with self.emulator.state.lock:
            docs = [
                copy_doc(d)
                for n, d in sorted(self.emulator.state.table(POOLS).items())
                if n.startswith(prefix) and (show_deleted or d.get("state") == "ACTIVE")
            ]
        return paginate(docs, req, key="workloadIdentityPools", default=50, maximum=1000)

    def patch_pool(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        body = req.json()
        _check_fields(body, _POOL_FIELDS, "workload_identity_pool")
        name, current = self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPools.update")
        self._update(
            POOLS,
            name,
            current,
            body,
            req.param("updateMask") or "",
            ("displayName", "description", "disabled", "sessionDuration"),
        )
        return self._operation(name)

    def _update(
        self, table: str, name: str, current: dict[str, Any], body: dict[str, Any], mask: str, mutable: tuple[str, ...]
    ) -> None:
        fields = [f.strip() for f in mask.split(",") if f.strip()]
        if not fields:
            raise invalid_argument("update_mask is required.", field="update_mask")
        camel = [re.sub(r"_([a-z])", lambda m: m[1].upper(), f) for f in fields]
        for field_name in camel:
            if field_name not in mutable:
                raise invalid_argument(f"Invalid update_mask path: {field_name}", field="update_mask")
        if current.get("state") != "ACTIVE":
            raise ApiError("FAILED_PRECONDITION", f"{name} is deleted; undelete it before updating it.")
        with self.emulator.mutation():
            stored = self.emulator.state.table(table)[name]
            for field_name in camel:
                head = field_name.split(".", 1)[0]
                if head in body:
                    stored[head] = body[head]
                else:
                    stored.pop(head, None)

    def delete_pool(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        name, current = self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPools.delete")
        if current.get("state") == "DELETED":
            raise ApiError("FAILED_PRECONDITION", f"Workload identity pool {name} is already deleted.")  # unconfirmed
        with self.emulator.mutation():
            # Soft delete: kept (and its id reserved) for about 30 days (WorkloadIdentityPool.State.DELETED).
            self.emulator.state.table(POOLS)[name].update(state="DELETED", expireTime=_in_30_days())
        return self._operation(name)

    def undelete_pool(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        _check_fields(req.json(), {}, "")
        name, current = self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPools.undelete")
        return self._undelete(POOLS, name, current, "Workload identity pool")

    # -- providers --
    def create_provider(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        body = req.json()
        _check_fields(body, _PROVIDER_FIELDS, "workload_identity_pool_provider")
        provider_id = req.param("workloadIdentityPoolProviderId") or ""
        pool_name, pool_doc = self._pool(
            req, project, location, pool, "iam.googleapis.com/workloadIdentityPoolProviders.create"
        )
        self._check_wif_id(provider_id, "workload_identity_pool_provider_id")
        self._check_display(body)
        if pool_doc.get("state") != "ACTIVE":
            raise ApiError("FAILED_PRECONDITION", f"The workload identity pool {pool_name} is deleted.")  # unconfirmed
        self._check_provider(body)
        return self._create_wif(PROVIDERS, f"{pool_name}/providers/{provider_id}", body)

    def _create_wif(self, table: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store a new pool or provider (ACTIVE); its name, even deleted, may not exist yet."""
        doc = {k: v for k, v in body.items() if k not in _POOL_OUTPUT_ONLY}
        doc.update(name=name, state="ACTIVE")
        doc.setdefault("disabled", False)
        with self.emulator.mutation():
            stored = self.emulator.state.table(table)
            if name in stored:
                raise already_exists("Requested entity already exists")
            stored[name] = doc
        return self._operation(name)

    @staticmethod
    def _check_provider(body: dict[str, Any]) -> None:
        kinds = [k for k in ("oidc", "aws", "saml", "x509") if k in body]
        if len(kinds) != 1:
            raise invalid_argument(
                "Exactly one of oidc, aws, saml or x509 must be set on a workload identity pool provider."
            )
        mapping = body.get("attributeMapping") or {}
        for key, value in mapping.items():
            if not _ATTRIBUTE_KEY_RE.match(key) or not isinstance(value, str) or not value:
                raise invalid_argument(
                    f"Invalid attribute mapping key '{key}': keys are google.subject, google.groups or "
                    "attribute.NAME (NAME of [a-z0-9_]), each mapped to a CEL expression.",
                    field="workload_identity_pool_provider.attribute_mapping",
                )
        condition = str(body.get("attributeCondition", ""))
        if "oidc" in body:
            issuer = str(body["oidc"].get("issuerUri", ""))
            if not issuer.startswith("https://"):
                # Oidc.issuerUri: "Required. The OIDC issuer URL. Must be an HTTPS endpoint."
                raise invalid_argument(
                    "The OIDC issuer URL must be an HTTPS endpoint.", field="workload_identity_pool_provider.oidc"
                )
            if "google.subject" not in mapping:
                # attributeMapping: "For OIDC providers, you must supply a custom mapping, which must include the
                # google.subject attribute."
                raise invalid_argument(
                    "The attribute mapping must include google.subject for OIDC providers.",
                    field="workload_identity_pool_provider.attribute_mapping",
                )
            references_claim = re.search(r"\b(assertion|attribute|google)\.", condition) is not None
            if issuer.rstrip("/") in _SHARED_ISSUERS and not references_claim:
                raise invalid_argument(_CONDITION_REQUIRED)
        if len(condition) > 4096:
            raise invalid_argument("The attribute condition cannot exceed 4096 characters.")
        for where, expression in (
            ("attribute_condition", condition),
            *(("attribute_mapping", v) for v in mapping.values()),
        ):
            if where == "attribute_condition" and not expression:
                continue
            try:
                cel.parse(str(expression))
            except cel.CelError as exc:
                # Google compiles both as CEL when the provider is written; wording unconfirmed.
                raise invalid_argument(
                    f"The {where.replace('_', ' ')} is not a valid CEL expression: {exc}.",
                    field=f"workload_identity_pool_provider.{where}",
                ) from None

    def _provider(
        self, req: Request, project: str, location: str, pool: str, provider: str, permission: str
    ) -> tuple[str, dict[str, Any]]:
        path = f"workloadIdentityPools/{pool}/providers/{provider}"
        return self._stored(req, project, location, path, PROVIDERS, permission)

    def get_provider(self, req: Request, project: str, location: str, pool: str, provider: str) -> dict[str, Any]:
        return self._provider(
            req, project, location, pool, provider, "iam.googleapis.com/workloadIdentityPoolProviders.get"
        )[1]

    def list_providers(self, req: Request, project: str, location: str, pool: str) -> dict[str, Any]:
        pool_name, _ = self._pool(req, project, location, pool, "iam.googleapis.com/workloadIdentityPoolProviders.list")
        show_deleted = req.flag("showDeleted")
        with self.emulator.state.lock:
            docs = [
                copy_doc(d)
                for n, d in sorted(self.emulator.state.table(PROVIDERS).items())
                if n.startswith(f"{pool_name}/providers/") and (show_deleted or d.get("state") == "ACTIVE")
            ]
        return paginate(docs, req, key="workloadIdentityPoolProviders", default=50, maximum=100)

    def patch_provider(self, req: Request, project: str, location: str, pool: str, provider: str) -> dict[str, Any]:
        body = req.json()
        _check_fields(body, _PROVIDER_FIELDS, "workload_identity_pool_provider")
        name, current = self._provider(
            req, project, location, pool, provider, "iam.googleapis.com/workloadIdentityPoolProviders.update"
        )
        merged = {**current, **body}
        self._check_provider({k: v for k, v in merged.items() if k not in _POOL_OUTPUT_ONLY and k != "disabled"})
        self._update(
            PROVIDERS,
            name,
            current,
            body,
            req.param("updateMask") or "",
            ("displayName", "description", "disabled", "attributeMapping", "attributeCondition", "oidc", "aws", "saml"),
        )
        return self._operation(name)

    def delete_provider(self, req: Request, project: str, location: str, pool: str, provider: str) -> dict[str, Any]:
        name, current = self._provider(
            req, project, location, pool, provider, "iam.googleapis.com/workloadIdentityPoolProviders.delete"
        )
        if current.get("state") == "DELETED":
            raise ApiError("FAILED_PRECONDITION", f"Workload identity pool provider {name} is already deleted.")
        with self.emulator.mutation():
            self.emulator.state.table(PROVIDERS)[name].update(state="DELETED", expireTime=_in_30_days())
        return self._operation(name)

    def undelete_provider(self, req: Request, project: str, location: str, pool: str, provider: str) -> dict[str, Any]:
        _check_fields(req.json(), {}, "")
        name, current = self._provider(
            req, project, location, pool, provider, "iam.googleapis.com/workloadIdentityPoolProviders.undelete"
        )
        return self._undelete(PROVIDERS, name, current, "Workload identity pool provider")

    def _undelete(self, table: str, name: str, current: dict[str, Any], noun: str) -> dict[str, Any]:
        """A pool or provider in its 30 days as DELETED becomes ACTIVE again."""
        if current.get("state") != "DELETED":
            raise ApiError("FAILED_PRECONDITION", f"{noun} {name} is not deleted.")  # unconfirmed wording
        with self.emulator.mutation():
            stored = self.emulator.state.table(table)[name]
            stored["state"] = "ACTIVE"
            stored.pop("expireTime", None)
        return self._operation(name)

    def get_operation(self, req: Request, project: str, location: str, rest: str) -> dict[str, Any]:
        parent = self._parent(req, project, location)
        return self.emulator.get_operation(f"{parent}/workloadIdentityPools/{rest}")
