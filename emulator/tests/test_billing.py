"""Cloud Billing and Billing Budgets in the strict-world emulator, through google-cloud-billing and
google-cloud-billing-budgets (REST transport)."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import billing_v1
from google.cloud.billing import budgets_v1
from google.type import money_pb2

from deployer_emulator.testing import EmulatorHandle, error_json, rest_client

ALICE = "user:alice@example.com"  # billing admin of FULL and CLOSED, owner of every project
BOB = "user:bob@example.com"  # billing user of SPARE, owner of bob-project
CAROL = "user:carol@example.com"  # no billing role
FULL = "0A0A0A-0A0A0A-0A0A0A"  # links at most two projects; one is linked already
SPARE = "0B0B0B-0B0B0B-0B0B0B"
CLOSED = "0C0C0C-0C0C0C-0C0C0C"

SCENARIO: dict[str, Any] = {
    "billing_accounts": [
        {"id": FULL, "display_name": "Team account", "project_limit": 2, "iam": {"roles/billing.admin": [ALICE]}},
        {"id": SPARE, "iam": {"roles/billing.user": [BOB], "roles/billing.admin": [ALICE]}},
        {"id": CLOSED, "open": False, "iam": {"roles/billing.admin": [ALICE]}},
    ],
    "projects": [
        {"id": "billed-one", "billing_account": FULL, "iam": {"roles/owner": [ALICE]}},
        {"id": "free-a", "iam": {"roles/owner": [ALICE, CAROL]}},
        {"id": "free-b", "iam": {"roles/owner": [ALICE]}},
        {"id": "free-c", "iam": {"roles/owner": [ALICE]}},
        {"id": "bob-project", "iam": {"roles/owner": [BOB]}},
    ],
}


def billing(handle: EmulatorHandle, member: str = ALICE) -> billing_v1.CloudBillingClient:
    return rest_client(billing_v1.CloudBillingClient, handle, member)


def budgets(handle: EmulatorHandle, member: str = ALICE) -> budgets_v1.BudgetServiceClient:
    return rest_client(budgets_v1.BudgetServiceClient, handle, member)


def link(handle: EmulatorHandle, project: str, account: str, member: str = ALICE) -> billing_v1.ProjectBillingInfo:
    info = billing_v1.ProjectBillingInfo(billing_account_name=f"billingAccounts/{account}" if account else "")
    result: billing_v1.ProjectBillingInfo = billing(handle, member).update_project_billing_info(
        name=f"projects/{project}", project_billing_info=info
    )
    return result


def test_linking_and_unlinking_a_project(world: EmulatorHandle) -> None:
    client = billing(world)
    before = client.get_project_billing_info(name="projects/free-a")
    assert (before.name, before.billing_enabled, before.billing_account_name) == (
        "projects/free-a/billingInfo",
        False,
        "",
    )
    linked = link(world, "free-a", SPARE)
    assert linked.billing_enabled is True
    assert linked.billing_account_name == f"billingAccounts/{SPARE}"
    world.mark()
    again = link(world, "free-a", SPARE)
    assert again == linked
    assert [r["status"] for r in world.mutating_requests()] == [200]
    unlinked = link(world, "free-a", "")
    assert (unlinked.billing_enabled, unlinked.billing_account_name) == (False, "")
    assert client.get_project_billing_info(name="projects/free-a").billing_enabled is False


def test_an_account_at_its_project_limit_refuses_with_precondition_check_failed(world: EmulatorHandle) -> None:
    assert link(world, "free-b", FULL).billing_enabled  # the second of two
    with pytest.raises(gexc.BadRequest) as raised:
        link(world, "free-c", FULL)
    error = error_json(raised.value)
    assert (error["code"], error["status"], error["message"]) == (
        400,
        "FAILED_PRECONDITION",
        "Precondition check failed.",
    )
    assert error["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "subject": f"billingAccounts/{FULL}",
                    "description": "Cloud billing quota exceeded: "
                    "https://support.google.com/code/contact/billing_quota_increase",
                }
            ],
        }
    ]
    assert billing(world).get_project_billing_info(name="projects/free-c").billing_enabled is False
    listed = billing(world).list_project_billing_info(name=f"billingAccounts/{FULL}")
    assert sorted(i.project_id for i in listed) == ["billed-one", "free-b"]


def test_a_closed_account_refuses_links(world: EmulatorHandle) -> None:
    with pytest.raises(gexc.BadRequest) as raised:
        link(world, "free-c", CLOSED)
    assert error_json(raised.value)["message"] == "Precondition check failed."


def test_linking_needs_rights_on_both_the_account_and_the_project(world: EmulatorHandle) -> None:
    # Carol owns free-a but has no role on the billing account.
    with pytest.raises(gexc.Forbidden) as on_account:
        link(world, "free-a", SPARE, CAROL)
    error = error_json(on_account.value)
    assert error["message"] == "The caller does not have permission"
    assert error["details"][0]["metadata"] == {"permission": "billing.resourceAssociations.create"}
    # Bob may use SPARE but does not own free-c.
    with pytest.raises(gexc.Forbidden) as on_project:
        link(world, "free-c", SPARE, BOB)
    assert error_json(on_project.value)["details"][0]["metadata"] == {
        "permission": "resourcemanager.projects.createBillingAssignment"
    }
    assert link(world, "bob-project", SPARE, BOB).billing_enabled


def test_accounts_are_listed_for_those_who_may_see_them(world: EmulatorHandle) -> None:
    names = {a.name for a in billing(world).list_billing_accounts()}
    assert names == {f"billingAccounts/{FULL}", f"billingAccounts/{SPARE}", f"billingAccounts/{CLOSED}"}
    assert {a.name for a in billing(world, BOB).list_billing_accounts()} == {f"billingAccounts/{SPARE}"}
    assert list(billing(world, CAROL).list_billing_accounts()) == []
    account = billing(world).get_billing_account(name=f"billingAccounts/{FULL}")
    assert (account.display_name, account.open_, account.currency_code) == ("Team account", True, "USD")
    closed = billing(world).get_billing_account(name=f"billingAccounts/{CLOSED}")
    assert closed.open_ is False


def test_test_iam_permissions_on_an_account(world: EmulatorHandle) -> None:
    asked = ["billing.resourceAssociations.create", "billing.accounts.update", "billing.budgets.create"]
    held = billing(world, BOB).test_iam_permissions(resource=f"billingAccounts/{SPARE}", permissions=asked)
    assert list(held.permissions) == ["billing.resourceAssociations.create"]
    admin = billing(world).test_iam_permissions(resource=f"billingAccounts/{SPARE}", permissions=asked)
    assert list(admin.permissions) == asked


def _budget(project: str) -> budgets_v1.Budget:
    return budgets_v1.Budget(
        display_name="deployer budget",
        budget_filter=budgets_v1.Filter(projects=[f"projects/{project}"]),
        amount=budgets_v1.BudgetAmount(specified_amount=money_pb2.Money(currency_code="USD", units=100)),
        threshold_rules=[budgets_v1.ThresholdRule(threshold_percent=p) for p in (0.5, 0.9, 1.0)],
    )


def test_budget_lifecycle(world: EmulatorHandle) -> None:
    client = budgets(world)
    created = client.create_budget(parent=f"billingAccounts/{FULL}", budget=_budget("billed-one"))
    assert created.name.startswith(f"billingAccounts/{FULL}/budgets/")
    # Budgets name projects by number, whatever the request used.
    number = world.state()["resourcemanager.projects"]["billed-one"]["name"].split("/")[1]
    assert list(created.budget_filter.projects) == [f"projects/{number}"]
    assert [r.threshold_percent for r in created.threshold_rules] == [0.5, 0.9, 1.0]
    assert created.budget_filter.credit_types_treatment == budgets_v1.Filter.CreditTypesTreatment.INCLUDE_ALL_CREDITS
    assert client.get_budget(name=created.name) == created
    assert [b.name for b in client.list_budgets(parent=f"billingAccounts/{FULL}")] == [created.name]
    changed = budgets_v1.Budget(name=created.name, display_name="renamed", etag=created.etag)
    updated = client.update_budget(budget=changed, update_mask={"paths": ["display_name"]})
    assert updated.display_name == "renamed"
    assert updated.amount == created.amount
    with pytest.raises(gexc.Conflict):
        client.update_budget(budget=changed, update_mask={"paths": ["display_name"]})  # the old etag
    client.delete_budget(name=created.name)
    assert list(client.list_budgets(parent=f"billingAccounts/{FULL}")) == []


def test_budgets_are_parsed_strictly_and_need_budget_rights(world: EmulatorHandle) -> None:
    session = world.as_caller(ALICE)
    unknown = session.post(
        f"{world.url}/v1/billingAccounts/{FULL}/budgets",
        json={"displayName": "x", "amount": {"specifiedAmount": {"units": "5"}}, "thresholdRule": []},
        timeout=10,
    )
    assert unknown.status_code == 400
    assert "thresholdRule" in unknown.json()["error"]["message"]
    no_amount = session.post(f"{world.url}/v1/billingAccounts/{FULL}/budgets", json={"displayName": "x"}, timeout=10)
    assert no_amount.status_code == 400
    assert "amount" in no_amount.json()["error"]["message"]
    with pytest.raises(gexc.Forbidden) as raised:
        budgets(world, BOB).create_budget(parent=f"billingAccounts/{SPARE}", budget=_budget("bob-project"))
    assert error_json(raised.value)["details"][0]["metadata"] == {"permission": "billing.budgets.create"}
