"""Pure tier: the budget body, parsed strictly by budgets_v1's types, and how a live budget compares with it."""

from __future__ import annotations

import json

from google.cloud.billing import budgets_v1

from deployer.gcp.bodies.budgets import budget_body, budget_differences, money


def test_budget_body_is_a_strict_budget_for_this_project_with_three_alerts() -> None:
    body = budget_body("my-proj", "123456789012", 50.5, "EUR")
    budget = budgets_v1.Budget.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert list(budget.budget_filter.projects) == ["projects/123456789012"]
    assert (budget.amount.specified_amount.units, budget.amount.specified_amount.nanos) == (50, 500000000)
    assert budget.amount.specified_amount.currency_code == "EUR"
    assert [rule.threshold_percent for rule in budget.threshold_rules] == [0.5, 0.9, 1.0]
    assert money(40, None) == {"units": "40"}


def test_budget_differences_compare_amount_and_thresholds_only() -> None:
    desired = budget_body("p", "1", 40, None)
    live = {**desired, "name": "billingAccounts/X/budgets/b", "etag": "e", "budgetFilter": {"projects": ["projects/1"]}}
    live["amount"] = {"specifiedAmount": {"units": "40", "currencyCode": "USD"}}
    assert budget_differences(live, desired) == []
    assert budget_differences(live, budget_body("p", "1", 45, None)) == ["amount"]
    live["thresholdRules"] = [{"thresholdPercent": 0.5}]
    assert budget_differences(live, desired) == ["threshold_rules"]
