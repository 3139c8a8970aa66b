"""Cloud Billing Budgets v1: a budget on a billing account, filtered to one project.

https://cloud.google.com/billing/docs/reference/budget/rest/v1/billingAccounts.budgets; calls are synchronous.
Budgets travel as REST JSON dicts (camelCase), parsed strictly by the library's ``Budget`` type before sending.
"""

from __future__ import annotations

import json
from typing import Any

from deployer.gcp.bodies.billing import account_name
from deployer.gcp.clients import Adapter
from deployer.gcp.errors import google_call


def _to_doc(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    # Enum names and camelCase, as the REST API writes them.
    return dict(json_format.MessageToDict(type(message).pb(message)))


class BudgetsAdapter(Adapter):
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
