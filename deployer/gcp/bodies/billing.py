"""Cloud Billing v1: the billing account a project is linked to.

Fields: https://cloud.google.com/billing/docs/reference/rest/v1/projects/updateBillingInfo.
"""

from __future__ import annotations

from typing import Any


def account_name(account: str) -> str:
    return f"billingAccounts/{account}"


def billing_info_body(account: str) -> dict[str, Any]:
    """The ``ProjectBillingInfo`` that links ``account`` to the project it is sent for."""
    return {"billingAccountName": account_name(account)}
