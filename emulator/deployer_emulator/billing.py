"""Cloud Billing v1 and Billing Budgets v1.

Cloud Billing (cloudbilling.googleapis.com; URIs as google-cloud-billing 1.21's REST transport calls them,
``billing_v1/services/cloud_billing/transports/rest_base.py``):
  ``GET|PUT /v1/projects/{p}/billingInfo``, ``GET /v1/billingAccounts`` (the accounts the caller may see),
  ``GET /v1/billingAccounts/{id}``, ``GET /v1/billingAccounts/{id}/projects``,
  ``GET /v1/billingAccounts/{id}:getIamPolicy``, ``POST /v1/billingAccounts/{id}:setIamPolicy|testIamPermissions``.

Linking a project (``PUT billingInfo``) needs billing.resourceAssociations.create on the account (roles/billing.user
or admin) and resourcemanager.projects.createBillingAssignment on the project (owner, billing.projectManager)
(https://cloud.google.com/billing/docs/how-to/modify-project#required-permissions). A billing account links only so
many projects: past its limit the answer is 400 FAILED_PRECONDITION "Precondition check failed." with a QuotaFailure
("Cloud billing quota exceeded: https://support.google.com/code/contact/billing_quota_increase"), the words users
see (hashicorp/terraform-provider-google#1892, kubernetes/k8s.io#884). A closed account refuses new links the same
way.

Billing Budgets (billingbudgets.googleapis.com; google-cloud-billing-budgets 1.22,
``budgets_v1/services/budget_service/transports/rest_base.py``): ``POST|GET /v1/billingAccounts/{id}/budgets``,
``GET|PATCH|DELETE /v1/billingAccounts/{id}/budgets/{budget}``; bodies parsed strictly with ``budgets_v1.Budget``.
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from typing import Any

from google.cloud import billing_v1
from google.cloud.billing import budgets_v1

from deployer_emulator import protos, world
from deployer_emulator.common import copy_doc, policy_etag
from deployer_emulator.core import Emulator, Request, paginate
from deployer_emulator.errors import ApiError, invalid_argument, not_found
from deployer_emulator.iam.enforcer import permissions_held, visible_project
from deployer_emulator.iam.policies import (
    CONCURRENT_POLICY_CHANGE,
    normalize_bindings,
    parse_set_policy,
    parse_test_permissions,
    policy_for_version,
    requested_policy_version,
)

BUDGETS = "billingbudgets.budgets"  # budget name -> Budget REST JSON

_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
_PRECONDITION_FAILURE = "type.googleapis.com/google.rpc.PreconditionFailure"
_BUDGET_OUTPUT_ONLY = ("name", "etag")


def _precondition_failed(account: str, *, closed: bool) -> ApiError:
    if closed:
        # Unconfirmed detail: the top-level words are the same as for the limit.
        details = [
            {
                "@type": _PRECONDITION_FAILURE,
                "violations": [{"type": "BILLING_ACCOUNT_CLOSED", "subject": account, "description": "closed"}],
            }
        ]
    else:
        details = [
            {
                "@type": _QUOTA_FAILURE,
                "violations": [
                    {
                        "subject": account,
                        "description": "Cloud billing quota exceeded: "
                        "https://support.google.com/code/contact/billing_quota_increase",
                    }
                ],
            }
        ]
    return ApiError("FAILED_PRECONDITION", "Precondition check failed.", details=details, http_status=400)


class CloudBilling:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def account(self, req: Request, account_id: str, permission: str) -> dict[str, Any]:
        name = f"billingAccounts/{account_id}"
        self.emulator.authorize(req, permission, name)
        record = world.billing_account(self.emulator, name)
        if record is None and world.is_open(self.emulator) and world.BILLING_ACCOUNT_ID_RE.match(account_id):
            record = self._open_world_account(name)
        if record is None:
            # Reached only when the caller could see it: Cloud Billing's 404.
            raise not_found(f"Billing account {name} not found.")
        return record

    def _open_world_account(self, name: str) -> dict[str, Any]:
        """The open world has every billing account it is asked about: open, without a project limit."""
        record: dict[str, Any] = {
            "account": {
                "name": name,
                "open": True,
                "displayName": "Open world billing account",
                "masterBillingAccount": "",
                "currencyCode": "USD",
            },
            "projectLimit": None,
            "policy": world.empty_policy(),
        }
        with self.emulator.mutation():
            self.emulator.state.table(world.BILLING_ACCOUNTS).setdefault(name, record)
        return copy_doc(record)

    def _project(self, req: Request, project: str, permission: str) -> dict[str, Any]:
        return visible_project(self.emulator, req, "cloudbilling.googleapis.com", permission, project)

    # -- accounts --
    def get_account(self, req: Request, account: str) -> dict[str, Any]:
        return dict(self.account(req, account, "billing.accounts.get")["account"])

    def list_accounts(self, req: Request) -> dict[str, Any]:
        with self.emulator.state.lock:
            records = [copy_doc(r) for _, r in sorted(self.emulator.state.table(world.BILLING_ACCOUNTS).items())]
        visible = [
            r["account"]
            for r in records
            if permissions_held(self.emulator, req, ["billing.accounts.get"], r["account"]["name"])
        ]
        query = req.param("filter") or ""
        if query:
            match = re.fullmatch(r"\s*open\s*=\s*(true|false)\s*", query, re.IGNORECASE)
            if match is None:
                raise invalid_argument(f"Invalid filter: {query}. The emulator supports open=true|false.")
            visible = [a for a in visible if a["open"] == (match[1].lower() == "true")]
        return paginate(visible, req, key="billingAccounts", default=50, maximum=100)

    def list_account_projects(self, req: Request, account: str) -> dict[str, Any]:
        record = self.account(req, account, "billing.resourceAssociations.list")
        infos = [
            world.billing_info(self.emulator, p)
            for p in world.linked_projects(self.emulator, record["account"]["name"])
        ]
        return paginate(infos, req, key="projectBillingInfo", default=50, maximum=100)

    def get_account_policy(self, req: Request, account: str) -> dict[str, Any]:
        version = requested_policy_version(req)
        record = self.account(req, account, "billing.accounts.getIamPolicy")
        return policy_for_version(record.get("policy") or world.empty_policy(), version)

    def set_account_policy(self, req: Request, account: str) -> dict[str, Any]:
        bindings, etag, _ = parse_set_policy(req)
        record = self.account(req, account, "billing.accounts.setIamPolicy")
        normalized = normalize_bindings(self.emulator, bindings)
        with self.emulator.mutation():
            stored = self.emulator.state.table(world.BILLING_ACCOUNTS)[record["account"]["name"]]
            current = stored.get("policy") or world.empty_policy()
            if etag and etag != current.get("etag"):
                raise ApiError("ABORTED", CONCURRENT_POLICY_CHANGE)
            policy: dict[str, Any] = {"version": 1, "etag": policy_etag()}
            if normalized:
                policy["bindings"] = normalized
            stored["policy"] = policy
            return copy_doc(policy)

    def test_account_permissions(self, req: Request, account: str) -> dict[str, Any]:
        permissions = parse_test_permissions(req)
        held = permissions_held(self.emulator, req, permissions, f"billingAccounts/{account}")
        return {"permissions": held} if held else {}

    # -- project billing info --
    def get_billing_info(self, req: Request, project: str) -> dict[str, Any]:
        # projects.getBillingInfo: "the resourcemanager.projects.get permission for the project"
        # (https://cloud.google.com/billing/docs/reference/rest/v1/projects/getBillingInfo).
        found = self._project(req, project, "resourcemanager.projects.get")
        return world.billing_info(self.emulator, found["projectId"])

    def update_billing_info(self, req: Request, project: str) -> dict[str, Any]:
        body = protos.to_json(protos.parse(billing_v1.ProjectBillingInfo, req.body, field="project_billing_info"))
        account_name = str(body.get("billingAccountName", ""))
        if account_name and not re.fullmatch(r"billingAccounts/[^/]+", account_name):
            raise invalid_argument(
                f"Invalid billing account name '{account_name}': expected billingAccounts/ACCOUNT_ID.",
                field="project_billing_info.billing_account_name",
            )
        if not account_name:
            found = self._project(req, project, "resourcemanager.projects.deleteBillingAssignment")
            return world.link_billing(self.emulator, found["projectId"], "")
        record = self.account(req, account_name.split("/", 1)[1], "billing.resourceAssociations.create")
        found = self._project(req, project, "resourcemanager.projects.createBillingAssignment")
        if found.get("state") != "ACTIVE":
            raise ApiError("FAILED_PRECONDITION", f"Project {found['projectId']} is pending deletion.")
        project_id = str(found["projectId"])
        with self.emulator.mutation():
            current = world.billing_info(self.emulator, project_id)
            if current.get("billingAccountName") == account_name and current.get("billingEnabled"):
                return current  # linking to the account it already uses changes nothing
            if not record["account"].get("open", True):
                raise _precondition_failed(account_name, closed=True)
            limit = record.get("projectLimit")
            if limit is not None and len(world.linked_projects(self.emulator, account_name)) >= int(limit):
                raise _precondition_failed(account_name, closed=False)
            return world.link_billing(self.emulator, project_id, account_name)


class Budgets:
    def __init__(self, emulator: Emulator, billing: CloudBilling) -> None:
        self.emulator = emulator
        self.billing = billing

    def _parse(self, req: Request) -> dict[str, Any]:
        return protos.to_json(protos.parse(budgets_v1.Budget, req.body, field="budget"))

    def _normalize(self, budget: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
        """Required fields and the values Google fills in (budgets_v1 types/budget_model.py)."""
        for key in _BUDGET_OUTPUT_ONLY:
            budget.pop(key, None)
        amount = budget.get("amount")
        if not amount:
            raise invalid_argument("Budget.amount is required.", field="budget.amount")
        if ("specifiedAmount" in amount) == ("lastPeriodAmount" in amount):
            raise invalid_argument(
                "Budget.amount must set exactly one of specified_amount or last_period_amount.", field="budget.amount"
            )
        currency = amount.get("specifiedAmount", {}).get("currencyCode")
        if currency and currency != account["account"].get("currencyCode", "USD"):
            # BudgetAmount.specified_amount: "If specified, it must match the currency of the billing account."
            raise invalid_argument(
                f"The budget currency {currency} does not match the billing account currency "
                f"{account['account'].get('currencyCode', 'USD')}.",
                field="budget.amount.specified_amount.currency_code",
            )
        if currency is None and "specifiedAmount" in amount:
            amount["specifiedAmount"]["currencyCode"] = account["account"].get("currencyCode", "USD")
        if len(budget.get("displayName", "")) > 60:
            raise invalid_argument("Budget.display_name must be at most 60 characters.", field="budget.display_name")
        for index, rule in enumerate(budget.get("thresholdRules", [])):
            if float(rule.get("thresholdPercent", 0.0)) < 0:
                raise invalid_argument(
                    "threshold_percent must be non-negative.",
                    field=f"budget.threshold_rules[{index}].threshold_percent",
                )
            rule.setdefault("spendBasis", "CURRENT_SPEND")
        flt = budget.setdefault("budgetFilter", {})
        projects = []
        for entry in flt.get("projects", []):
            ref = entry.split("/", 1)[1] if entry.startswith("projects/") else ""
            found = world.find_project(self.emulator, ref) if ref else None
            if found is None:
                raise invalid_argument(
                    f"Invalid project '{entry}' in budget_filter.projects: expected projects/PROJECT_NUMBER of an "
                    "existing project.",
                    field="budget.budget_filter.projects",
                )
            projects.append(f"projects/{world.project_number_of(found)}")
        if projects:
            flt["projects"] = projects
        flt.setdefault("creditTypesTreatment", "INCLUDE_ALL_CREDITS")
        if "customPeriod" not in flt:
            flt.setdefault("calendarPeriod", "MONTH")
        return budget

    def create(self, req: Request, account: str) -> dict[str, Any]:
        budget = self._parse(req)
        record = self.billing.account(req, account, "billing.budgets.create")
        budget = self._normalize(budget, record)
        budget["name"] = f"billingAccounts/{account}/budgets/{uuid.uuid4()}"
        budget["etag"] = base64.b16encode(os.urandom(8)).decode().lower()
        with self.emulator.mutation():
            self.emulator.state.table(BUDGETS)[budget["name"]] = budget
        return copy_doc(budget)

    def _get(self, req: Request, account: str, budget: str, permission: str) -> dict[str, Any]:
        self.billing.account(req, account, permission)
        name = f"billingAccounts/{account}/budgets/{budget}"
        with self.emulator.state.lock:
            doc = self.emulator.state.table(BUDGETS).get(name)
            if doc is None:
                raise not_found(f"Budget {name} not found.")
            return copy_doc(doc)

    def get(self, req: Request, account: str, budget: str) -> dict[str, Any]:
        return self._get(req, account, budget, "billing.budgets.get")

    def list(self, req: Request, account: str) -> dict[str, Any]:
        self.billing.account(req, account, "billing.budgets.list")
        prefix = f"billingAccounts/{account}/budgets/"
        with self.emulator.state.lock:
            docs = [copy_doc(d) for n, d in sorted(self.emulator.state.table(BUDGETS).items()) if n.startswith(prefix)]
        return paginate(docs, req, key="budgets", default=50, maximum=100)

    def update(self, req: Request, account: str, budget: str) -> dict[str, Any]:
        given = self._parse(req)
        current = self._get(req, account, budget, "billing.budgets.update")
        if given.get("etag") and given["etag"] != current["etag"]:
            # Budget.etag: for a read-modify-write, a changed budget is refused.
            raise ApiError("ABORTED", "The budget was modified since it was read: read it again and retry.")
        mask = [m.strip() for m in (req.param("updateMask") or "").split(",") if m.strip()]
        fields = [re.sub(r"_([a-z])", lambda m: m[1].upper(), f).split(".", 1)[0] for f in mask]
        merged = dict(current)
        for key in fields or [k for k in given if k not in _BUDGET_OUTPUT_ONLY]:
            if key in given:
                merged[key] = given[key]
            else:
                merged.pop(key, None)
        record = self.billing.account(req, account, "billing.budgets.update")
        merged = self._normalize(merged, record)
        merged["name"] = current["name"]
        merged["etag"] = base64.b16encode(os.urandom(8)).decode().lower()
        with self.emulator.mutation():
            self.emulator.state.table(BUDGETS)[current["name"]] = merged
        return copy_doc(merged)

    def delete(self, req: Request, account: str, budget: str) -> dict[str, Any]:
        current = self._get(req, account, budget, "billing.budgets.delete")
        with self.emulator.mutation():
            self.emulator.state.table(BUDGETS).pop(current["name"], None)
        return {}


def register(emulator: Emulator) -> None:
    billing = CloudBilling(emulator)
    budgets = Budgets(emulator, billing)
    router = emulator.router
    router.add("GET", "/v1/projects/{project}/billingInfo", billing.get_billing_info)
    router.add("PUT", "/v1/projects/{project}/billingInfo", billing.update_billing_info)
    router.add("GET", "/v1/billingAccounts", lambda req: billing.list_accounts(req))
    router.add("GET", "/v1/billingAccounts/{account}", billing.get_account)
    router.add("GET", "/v1/billingAccounts/{account}/projects", billing.list_account_projects)
    router.add("GET", "/v1/billingAccounts/{account}:getIamPolicy", billing.get_account_policy)
    router.add("POST", "/v1/billingAccounts/{account}:setIamPolicy", billing.set_account_policy)
    router.add("POST", "/v1/billingAccounts/{account}:testIamPermissions", billing.test_account_permissions)
    router.add("POST", "/v1/billingAccounts/{account}/budgets", budgets.create)
    router.add("GET", "/v1/billingAccounts/{account}/budgets", budgets.list)
    router.add("GET", "/v1/billingAccounts/{account}/budgets/{budget}", budgets.get)
    router.add("PATCH", "/v1/billingAccounts/{account}/budgets/{budget}", budgets.update)
    router.add("DELETE", "/v1/billingAccounts/{account}/budgets/{budget}", budgets.delete)
