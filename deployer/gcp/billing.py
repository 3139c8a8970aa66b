"""Cloud Billing v1: which billing account pays for a project, and linking one.

Linking needs rights on both sides: ``resourcemanager.projects.createBillingAssignment`` on the project and
``billing.resourceAssociations.create`` on the account (https://cloud.google.com/billing/docs/how-to/
modify-project). An account that already pays for as many projects as it may refuses with a bare
"Precondition check failed." (FAILED_PRECONDITION), which is put into words here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from deployer.errors import DeployerError
from deployer.gcp.bodies.billing import account_name, billing_info_body
from deployer.gcp.clients import Adapter
from deployer.gcp.errors import ROLE_FOR_PERMISSION, billing_limit_error, google_call

LINK_PERMISSION = "billing.resourceAssociations.create"


@dataclass(frozen=True)
class BillingInfo:
    account: str  # "012345-6789AB-CDEF01", or "" when none is linked
    enabled: bool


@dataclass(frozen=True)
class BillingAccount:
    account: str  # "012345-6789AB-CDEF01"
    display_name: str
    open: bool
    currency: str


class BillingAdapter(Adapter):
    def get_info(self, project: str) -> BillingInfo:
        with google_call(f"reading the billing of project {project}", project=project):
            info = self._clients.billing.get_project_billing_info(name=f"projects/{project}")
        return BillingInfo(str(info.billing_account_name).removeprefix("billingAccounts/"), bool(info.billing_enabled))

    def get_account(self, account: str) -> BillingAccount | None:
        """The account, or None when it does not exist or the caller may not see it (403 reads the same)."""
        from google.api_core import exceptions as gexc

        with google_call(f"looking up billing account {account}"):
            try:
                found = self._clients.billing.get_billing_account(name=account_name(account))
            except (gexc.NotFound, gexc.Forbidden, gexc.PermissionDenied):
                return None
        return BillingAccount(account, found.display_name, bool(found.open_), found.currency_code)

    def can_link(self, account: str) -> bool:
        """Whether the caller may link projects to ``account`` (holds billing.resourceAssociations.create on it)."""
        with google_call(f"testing the caller's permissions on billing account {account}"):
            answer = self._clients.billing.test_iam_permissions(
                request={"resource": account_name(account), "permissions": [LINK_PERMISSION]}
            )
        return LINK_PERMISSION in set(answer.permissions)

    def link(self, project: str, account: str) -> BillingInfo:
        from google.api_core import exceptions as gexc
        from google.cloud import billing_v1

        info = billing_v1.ProjectBillingInfo.from_json(
            json.dumps(billing_info_body(account)), ignore_unknown_fields=False
        )
        with google_call(f"linking billing account {account} to project {project}", project=project):
            try:
                updated = self._clients.billing.update_project_billing_info(
                    name=f"projects/{project}", project_billing_info=info
                )
            except (gexc.FailedPrecondition, gexc.BadRequest) as exc:
                if "precondition check failed" in (exc.message or "").lower():
                    raise billing_limit_error(project, account) from exc
                raise
        return BillingInfo(
            str(updated.billing_account_name).removeprefix("billingAccounts/"), bool(updated.billing_enabled)
        )


def link_refused(account: str) -> DeployerError:
    role = ROLE_FOR_PERMISSION[LINK_PERMISSION]
    return DeployerError(
        f"you may not link projects to billing account {account}: the caller lacks {LINK_PERMISSION} on it",
        f"ask the account's administrator to grant you {role} (Billing Account User) on billing account {account}: "
        f"gcloud billing accounts add-iam-policy-binding {account} --member user:YOU@EXAMPLE.COM --role {role}",
    )
