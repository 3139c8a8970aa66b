"""Cloud Billing Budgets v1: the monthly budget deployer keeps for a project, and how a live one compares.

Fields: https://cloud.google.com/billing/docs/reference/budget/rest/v1/billingAccounts.budgets.
"""

from __future__ import annotations

from typing import Any

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
