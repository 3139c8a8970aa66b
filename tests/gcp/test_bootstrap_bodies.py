"""Pure tier: what bootstrap sends (as values, parsed strictly by Google's own types), its config, its role tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from google.cloud import artifactregistry_v1, resourcemanager_v3
from google.cloud.billing import budgets_v1
from google.iam.v1 import policy_pb2
from google.protobuf import json_format
from pydantic import ValidationError

from deployer.config import load_config
from deployer.config.bootstrap import BootstrapConfig, parse_age
from deployer.errors import BadInput
from deployer.gcp.budgets import budget_body, budget_differences, money
from deployer.gcp.iam import (
    GITHUB_ISSUER,
    add_bindings,
    github_principal_set,
    github_provider_body,
    missing_grants,
    pool_body,
    provider_differences,
    service_account_body,
)
from deployer.gcp.resourcemanager import project_body
from deployer.services import roles
from deployer.services.bootstrap import (
    BASE_APIS,
    GITHUB_VARIABLES,
    _batches,
    cleanup_policies,
    gh_commands,
    github_variables,
    needed_apis,
)
from deployer.services.doctor import (
    BUILD_PERMISSIONS,
    PUBLIC_PERMISSION,
    SERVICE_PERMISSIONS,
    VM_PERMISSIONS,
)

GCLOUD_LIB = Path("/usr/lib/google-cloud-sdk/lib")


def _iam_v1_messages() -> Any:
    """gcloud's generated IAM v1 types: the only strict schema of IAM v1 on this machine (no library ships one)."""
    if not GCLOUD_LIB.is_dir():
        pytest.skip("gcloud's generated IAM v1 client is not installed: cannot check IAM v1 bodies strictly")
    for path in (str(GCLOUD_LIB / "third_party"), str(GCLOUD_LIB)):
        if path not in sys.path:
            sys.path.append(path)
    from googlecloudsdk.generated_clients.apis.iam.v1 import iam_v1_messages

    return iam_v1_messages


def _strict_apitools(message_type: Any, body: dict[str, Any]) -> Any:
    from apitools.base.py import encoding

    message = encoding.JsonToMessage(message_type, json.dumps(body))

    def unknown(msg: Any) -> list[str]:
        found = list(msg.all_unrecognized_fields())
        for field in msg.all_fields():
            value = getattr(msg, field.name)
            if hasattr(value, "all_unrecognized_fields"):
                found += unknown(value)
        return found

    assert unknown(message) == []
    return message


# --- config -----------------------------------------------------------------------------------------------------------


def test_bootstrap_defaults() -> None:
    assert BootstrapConfig().model_dump(mode="json") == {
        "billing_account": None,
        "parent": None,
        "members": [],
        "github": None,
        "budget": None,
        "budget_currency": None,
        "cleanup_keep_versions": 10,
        "cleanup_untagged_older_than": 604800,
        "apis_extra": [],
    }


def test_bootstrap_values_are_normalized() -> None:
    config = BootstrapConfig.model_validate(
        {
            "billing_account": "billingAccounts/0a1b2c-000000-ffffff",
            "members": ["user:ana@example.com", "group:ml@example.com", "domain:example.com"],
            "github": "my-org/model-api",
            "budget": 12.5,
            "cleanup_untagged_older_than": "36h",
            "apis_extra": ["secretmanager"],
            "parent": "folders/123",
        }
    )
    assert config.billing_account == "0A1B2C-000000-FFFFFF"
    assert config.cleanup_untagged_older_than == 36 * 3600
    assert config.apis_extra == ("secretmanager.googleapis.com",)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("billing_account", "12345", "three groups of six letters or digits"),
        ("members", ["ana@example.com"], "user:EMAIL, group:EMAIL, serviceAccount:EMAIL or domain:DOMAIN"),
        ("members", ["user:not-an-email"], "user: needs an email address"),
        ("github", "just-a-repo", "OWNER/REPO"),
        ("budget", 0, "greater than 0"),
        ("budget", 1.234, "at most two decimals"),
        ("budget_currency", "euro", "ISO 4217"),
        ("cleanup_keep_versions", 0, "greater than or equal to 1"),
        ("cleanup_untagged_older_than", "7 days", '"7d"'),
        ("cleanup_untagged_older_than", "10m", "between 1h"),
        ("parent", "org/1", "organizations/NUMBER"),
        ("apis_extra", ["Secret Manager"], "secretmanager.googleapis.com"),
    ],
)
def test_bad_bootstrap_values_say_what_is_allowed(key: str, value: Any, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BootstrapConfig.model_validate({key: value})
    assert words in str(caught.value)


def test_age_parsing() -> None:
    assert parse_age("7d") == 604800
    assert parse_age("604800s") == 604800
    assert parse_age("1d12h") == 36 * 3600
    assert parse_age(7200) == 7200


def test_bootstrap_table_in_deployer_toml_is_read_and_its_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "deployer.toml").write_text(
        'project = "my-proj"\nregion = "europe-west4"\n[bootstrap]\nmembers = ["user:ana@example.com"]\n'
        'github = "o/r"\nbudget = 40\n'
    )
    config = load_config(tmp_path, environ={})
    assert config.bootstrap.members == ("user:ana@example.com",)
    assert config.bootstrap.budget == 40

    (tmp_path / "deployer.toml").write_text('project = "my-proj"\n[bootstrap]\nmembers = ["ana@example.com"]\n')
    with pytest.raises(BadInput) as caught:
        load_config(tmp_path, environ={})
    assert "deployer.toml" in caught.value.message
    assert "bootstrap.members" in caught.value.message


# --- request bodies, parsed by Google's types -------------------------------------------------------------------------


def test_project_body_is_a_strict_resource_manager_project() -> None:
    body = project_body("new-proj-1", "organizations/123", {"managed-by": "deployer"})
    project = resourcemanager_v3.Project.from_json(json.dumps(body), ignore_unknown_fields=False)
    assert (project.project_id, project.parent, project.display_name) == (
        "new-proj-1",
        "organizations/123",
        body["projectId"],
    )
    assert "parent" not in project_body("new-proj-1", None, {})


def test_repository_with_cleanup_policies_is_a_strict_artifact_registry_repository() -> None:
    policies = cleanup_policies(10, 7 * 86400)
    body = {"format": "DOCKER", "cleanupPolicies": policies}
    repo = artifactregistry_v1.Repository.from_json(json.dumps(body), ignore_unknown_fields=False)
    keep = repo.cleanup_policies["deployer-keep-recent"]
    delete = repo.cleanup_policies["deployer-delete-untagged"]
    assert keep.action == artifactregistry_v1.CleanupPolicy.Action.KEEP
    assert keep.most_recent_versions.keep_count == 10
    assert delete.action == artifactregistry_v1.CleanupPolicy.Action.DELETE
    assert delete.condition.tag_state == artifactregistry_v1.CleanupPolicyCondition.TagState.UNTAGGED
    assert delete.condition.older_than.total_seconds() == 7 * 86400
    # Every build tags its image: old build tags are deleted too, or the repository would only grow.
    builds = repo.cleanup_policies["deployer-delete-old-builds"]
    assert builds.action == artifactregistry_v1.CleanupPolicy.Action.DELETE
    assert builds.condition.tag_state == artifactregistry_v1.CleanupPolicyCondition.TagState.TAGGED
    assert list(builds.condition.tag_prefixes) == ["src-", "git-"]
    assert builds.condition.older_than.total_seconds() == 7 * 86400


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


def test_iam_v1_bodies_match_the_iam_v1_schema() -> None:
    messages = _iam_v1_messages()
    request = _strict_apitools(
        messages.CreateServiceAccountRequest, service_account_body("deployer-build", "deployer build", "builds")
    )
    assert request.accountId == "deployer-build"
    _strict_apitools(messages.WorkloadIdentityPool, pool_body())
    provider = _strict_apitools(messages.WorkloadIdentityPoolProvider, github_provider_body("my-org/api"))
    assert provider.oidc.issuerUri == GITHUB_ISSUER
    assert len(pool_body()["displayName"]) <= 32  # IAM's limit for display names


def test_github_provider_is_bound_to_the_repository() -> None:
    body = github_provider_body("my-org/api")
    assert body["attributeCondition"] == "assertion.repository == 'my-org/api'"
    mapping = body["attributeMapping"]
    assert mapping["google.subject"] == "assertion.sub"
    assert mapping["attribute.repository"] == "assertion.repository"
    assert mapping["attribute.repository_owner"] == "assertion.repository_owner"
    assert mapping["attribute.repository_id"] == "assertion.repository_id"
    assert provider_differences(body, body) == []
    other = github_provider_body("my-org/other")
    assert provider_differences(body, other) == ["attributeCondition"]
    assert provider_differences({**body, "oidc": {"issuerUri": "https://x"}}, body) == ["oidc"]


def test_principal_set_names_the_pool_by_project_number_and_the_repository() -> None:
    assert github_principal_set("123", "deployer-github", "o/r") == (
        "principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/deployer-github/"
        "attribute.repository/o/r"
    )


# --- IAM policy read-modify-write -------------------------------------------------------------------------------------


def test_add_bindings_adds_only_what_is_missing_and_keeps_the_rest() -> None:
    policy = {
        "version": 3,
        "etag": "BwXhqDY3=",
        "bindings": [
            {"role": "roles/run.admin", "members": ["user:a@x.com"]},
            {"role": "roles/run.admin", "members": ["user:b@x.com"], "condition": {"expression": "true", "title": "t"}},
        ],
        "auditConfigs": [{"service": "allServices"}],
    }
    updated = add_bindings(policy, [("roles/run.admin", "user:b@x.com"), ("roles/logging.viewer", "user:b@x.com")])
    assert updated is not None
    assert updated["etag"] == "BwXhqDY3="  # the write is guarded by the etag that was read
    assert updated["auditConfigs"] == policy["auditConfigs"]
    assert updated["bindings"][0] == {"role": "roles/run.admin", "members": ["user:a@x.com", "user:b@x.com"]}
    assert updated["bindings"][1] == policy["bindings"][1]  # a conditional grant is left alone
    assert updated["bindings"][2] == {"role": "roles/logging.viewer", "members": ["user:b@x.com"]}
    assert add_bindings(updated, [("roles/run.admin", "user:b@x.com")]) is None
    json_format.ParseDict(updated, policy_pb2.Policy())  # still a valid Policy


def test_missing_grants_ignores_conditional_bindings_and_duplicates() -> None:
    policy = {"bindings": [{"role": "r/a", "members": ["user:a@x.com"], "condition": {"expression": "x"}}]}
    assert missing_grants(policy, [("r/a", "user:a@x.com"), ("r/a", "user:a@x.com")]) == [("r/a", "user:a@x.com")]
    assert missing_grants({}, []) == []


# --- APIs, GitHub output ----------------------------------------------------------------------------------------------


def test_needed_apis_follow_the_targets() -> None:
    base = needed_apis(vms=False, budget=False)
    assert base == list(BASE_APIS)
    assert "compute.googleapis.com" not in base
    assert "compute.googleapis.com" in needed_apis(vms=True, budget=False)
    assert "billingbudgets.googleapis.com" in needed_apis(vms=False, budget=True)
    assert needed_apis(vms=False, budget=False, extra=("run.googleapis.com",)) == base  # no duplicates


def test_batches_hold_at_most_twenty() -> None:
    names = [f"api{i}.googleapis.com" for i in range(45)]
    assert [len(batch) for batch in _batches(names, 20)] == [20, 20, 5]


def test_github_variables_and_commands_use_the_names_the_workflow_reads() -> None:
    variables = github_variables("projects/1/locations/global/workloadIdentityPools/p/providers/g", "sa@x", "p", "r")
    assert (
        list(variables)
        == list(GITHUB_VARIABLES)
        == [
            "GCP_WORKLOAD_IDENTITY_PROVIDER",
            "GCP_SERVICE_ACCOUNT",
            "GCP_PROJECT",
            "GCP_REGION",
        ]
    )
    assert gh_commands("o/r", variables)[1] == 'gh variable set GCP_SERVICE_ACCOUNT --body "sa@x" --repo o/r'


# --- role tables ------------------------------------------------------------------------------------------------------


def test_every_granted_role_has_a_reason_and_is_known_to_doctor() -> None:
    for grant in (
        *roles.build_account_roles(),
        *roles.runtime_account_roles(vms=True),
        *roles.developer_roles(vms=True),
    ):
        assert grant.role.startswith("roles/")
        assert len(grant.reason) > 10
        assert grant.role in roles.ROLE_PERMISSIONS or grant.role in (
            "roles/logging.viewer",
            "roles/serviceusage.serviceUsageConsumer",
        )


def test_the_build_account_roles_cover_what_doctor_checks() -> None:
    granted = roles.permissions_of({grant.role for grant in roles.build_account_roles()})
    assert set(roles.BUILD_ACCOUNT_NEEDS) <= granted


def test_a_developer_holds_every_permission_doctor_tests_for_each_kind_of_target() -> None:
    granted = roles.permissions_of({grant.role for grant in roles.developer_roles(vms=True)})
    wanted = {*BUILD_PERMISSIONS, *SERVICE_PERMISSIONS, PUBLIC_PERMISSION, *VM_PERMISSIONS}
    assert wanted <= granted


def test_the_deploy_account_can_deploy_private_services_but_not_change_iam() -> None:
    granted = roles.permissions_of({grant.role for grant in roles.runtime_account_roles(vms=False)})
    assert {*BUILD_PERMISSIONS, *SERVICE_PERMISSIONS} <= granted
    assert PUBLIC_PERMISSION not in granted
    assert "resourcemanager.projects.setIamPolicy" not in granted


def test_service_account_emails() -> None:
    assert roles.service_account_email("deployer-build", "my-proj") == "deployer-build@my-proj.iam.gserviceaccount.com"
    assert roles.service_account_email("x-y-z1", "example.com:p") == "x-y-z1@p.example.com.iam.gserviceaccount.com"
