"""Pure tier: IAM v1 bodies (service accounts, Workload Identity Federation) checked against gcloud's IAM v1 schema,
and the policy edits every setIamPolicy goes through."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from google.iam.v1 import policy_pb2
from google.protobuf import json_format

from deployer.gcp.bodies.iam import (
    GITHUB_ISSUER,
    add_bindings,
    github_principal_set,
    github_provider_body,
    missing_grants,
    pool_body,
    provider_differences,
    service_account_body,
    unwanted_grants,
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


def test_iam_v1_bodies_match_the_iam_v1_schema() -> None:
    messages = _iam_v1_messages()
    request = _strict_apitools(
        messages.CreateServiceAccountRequest, service_account_body("deployer-build", "deployer build", "builds")
    )
    assert request.accountId == "deployer-build"
    _strict_apitools(messages.WorkloadIdentityPool, pool_body())
    provider = _strict_apitools(messages.WorkloadIdentityPoolProvider, github_provider_body("my-org/api", "42", "7"))
    assert provider.oidc.issuerUri == GITHUB_ISSUER
    assert len(pool_body()["displayName"]) <= 32  # IAM's limit for display names


def test_github_provider_is_bound_to_the_repository_ids_and_the_ref() -> None:
    body = github_provider_body("my-org/api", "42", "7")
    assert body["attributeCondition"] == "assertion.repository_id == '42' && assertion.repository_owner_id == '7'"
    mapping = body["attributeMapping"]
    assert mapping["google.subject"] == "assertion.sub"
    assert mapping["attribute.repository_id"] == "assertion.repository_id"
    assert provider_differences(body, body) == []
    other = github_provider_body("my-org/api", "43", "7")
    assert provider_differences(body, other) == ["attributeCondition"]
    assert provider_differences({**body, "oidc": {"issuerUri": "https://x"}}, body) == ["oidc"]
    branch = github_provider_body("my-org/api", "42", "7", "main")["attributeCondition"]
    assert branch.endswith(" && assertion.ref == 'refs/heads/main'")
    tag = github_provider_body("my-org/api", "42", "7", "refs/tags/v1")["attributeCondition"]
    assert tag.endswith(" && assertion.ref == 'refs/tags/v1'")
    environment = github_provider_body("my-org/api", "42", "7", "environment:prod")["attributeCondition"]
    assert environment.endswith(" && assertion.environment == 'prod'")


def test_principal_set_names_the_pool_by_project_number_and_the_repository_id() -> None:
    assert github_principal_set("123", "deployer-github", "42") == (
        "principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/deployer-github/"
        "attribute.repository_id/42"
    )


def test_unwanted_grants_are_only_deployers_own_and_are_removed() -> None:
    policy = {
        "bindings": [
            {"role": "roles/run.developer", "members": ["serviceAccount:rt@p", "user:a@x.com"]},
            {"role": "roles/run.admin", "members": ["serviceAccount:ci@p"]},
        ]
    }
    managed = {"serviceAccount:rt@p", "serviceAccount:ci@p"}
    removals = unwanted_grants(policy, managed, [("roles/run.admin", "serviceAccount:ci@p")])
    assert removals == [("roles/run.developer", "serviceAccount:rt@p")]
    updated = add_bindings(policy, [], removals)
    assert updated is not None
    assert updated["bindings"] == [
        {"role": "roles/run.developer", "members": ["user:a@x.com"]},
        {"role": "roles/run.admin", "members": ["serviceAccount:ci@p"]},
    ]


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
