"""Cloud Billing Budgets v1: a budget on a billing account, filtered to one project.

https://cloud.google.com/billing/docs/reference/budget/rest/v1/billingAccounts.budgets; calls are synchronous.
Budgets travel as REST JSON dicts (camelCase), parsed strictly by the library's ``Budget`` type before sending.
"""

from __future__ import annotations

import json
from typing import Any

from deployer.gcp.billing import account_name
from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call

THRESHOLDS = (0.5, 0.9, 1.0)


def budget_display_name(project: str) -> str:
    return f"deployer: {project}"[:60]  # Google allows at most 60 characters


def money(amount: float, currency: str | None) -> dict[str, Any]:
    """A google.type.Money: whole ``units`` (int64, a string in JSON) and ``nanos``."""
    cents = round(amount * 100)
    doc: dict[str, Any] = {"units": str(cents // 100)}
    if cents % 100:
        doc["nanos"] = (cents % 100) * 10_000_000
    if currency:
        doc["currencyCode"] = currency
    return doc


def budget_body(project: str, project_number: str, amount: float, currency: str | None) -> dict[str, Any]:
    """A monthly budget on the billing account, for this project only, alerting at 50, 90 and 100 % of spend.

    No currency means the billing account's (Google refuses any other).
    """
    return {
        "displayName": budget_display_name(project),
        "budgetFilter": {"projects": [f"projects/{project_number}"]},
        "amount": {"specifiedAmount": money(amount, currency)},
        "thresholdRules": [{"thresholdPercent": t, "spendBasis": "CURRENT_SPEND"} for t in THRESHOLDS],
    }


def _amount_of(doc: dict[str, Any]) -> tuple[float, str]:
    specified = (doc.get("amount") or {}).get("specifiedAmount") or {}
    value = int(specified.get("units", 0) or 0) + int(specified.get("nanos", 0) or 0) / 1e9
    return round(value, 2), str(specified.get("currencyCode", ""))


def budget_differences(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Update-mask paths (``amount``, ``threshold_rules``) where the live budget differs from the desired one."""
    changed = []
    want_value, want_currency = _amount_of(desired)
    have_value, have_currency = _amount_of(current)
    if want_value != have_value or (want_currency and want_currency != have_currency):
        changed.append("amount")
    want_rules = [(r["thresholdPercent"], r["spendBasis"]) for r in desired["thresholdRules"]]
    have_rules = [
        (float(r.get("thresholdPercent", 0)), str(r.get("spendBasis", "CURRENT_SPEND")))
        for r in current.get("thresholdRules", [])
    ]
    if sorted(want_rules) != sorted(have_rules):
        changed.append("threshold_rules")
    return changed


def _to_doc(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    # Enum names and camelCase, as the REST API writes them.
    return dict(json_format.MessageToDict(type(message).pb(message)))


class BudgetsAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def list_budgets(self, account: str, *, project_number: str | None = None) -> list[dict[str, Any]]:
        """The account's budgets; with ``project_number``, only those that cover that project alone."""
        with google_call(f"listing the budgets of billing account {account}"):
            budgets = [_to_doc(b) for b in self._clients.budgets.list_budgets(parent=account_name(account))]
        if project_number is None:
            return budgets
        wanted = [f"projects/{project_number}"]
        return [b for b in budgets if (b.get("budgetFilter") or {}).get("projects") == wanted]

    def create(self, account: str, body: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.billing import budgets_v1

        budget = budgets_v1.Budget.from_json(json.dumps(body), ignore_unknown_fields=False)
        with google_call(f"creating a budget on billing account {account}"):
            created = self._clients.budgets.create_budget(parent=account_name(account), budget=budget)
        return _to_doc(created)

    def update(self, body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        """``body`` carries the budget's ``name`` (and its ``etag``); only ``fields`` are written."""
        from google.cloud.billing import budgets_v1
        from google.protobuf import field_mask_pb2

        budget = budgets_v1.Budget.from_json(json.dumps(body), ignore_unknown_fields=True)
        with google_call(f"updating budget {body.get('displayName', body.get('name'))}"):
            updated = self._clients.budgets.update_budget(
                budget=budget, update_mask=field_mask_pb2.FieldMask(paths=fields)
            )
        return _to_doc(updated)
