"""Emulator tier: `deployer bootstrap`'s service against a strict-world emulator, through the real client libraries.

The world: an organization where the owner may create projects, and billing accounts (an ordinary one, one at its
project limit, a closed one, and one the owner may not use). Assertions are on what the emulator recorded and
holds, read back through Google's client libraries.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from google.cloud import artifactregistry_v1, resourcemanager_v3
from google.cloud.billing import budgets_v1

from deployer.errors import BadInput, DeployerError
from deployer.gcp import GoogleCloud, Target
from deployer.gcp.errors import BILLING_QUOTA_INCREASE_URL
from deployer.reporter import SilentReporter
from deployer.services.bootstrap import (
    BASE_APIS,
    GITHUB_VARIABLES,
    POOL_ID,
    BootstrapInputs,
    Bootstrapper,
    BootstrapResult,
    _batches,
    bootstrap_accounts,
    gh_commands,
    github_variables,
    needed_apis,
)
from deployer_emulator.testing import EmulatorHandle, caller_credentials

REGION = "europe-west4"
OWNER = "user:owner@example.com"
ORG_ID = "100000000001"
ORG = f"organizations/{ORG_ID}"
ACCOUNT = "0000AA-BBBBBB-CCCCCC"
FULL_ACCOUNT = "0000AA-FULL00-000001"
CLOSED_ACCOUNT = "0000AA-CLOSED-000002"
FOREIGN_ACCOUNT = "0000AA-OTHERS-000003"
REPOSITORY_ID, OWNER_ID = "654321987", "12345678"  # GitHub's immutable ids of the repository and its owner

SCENARIO: dict[str, Any] = {
    "organizations": [{"id": ORG_ID, "iam": {"roles/resourcemanager.projectCreator": [OWNER]}}],
    "billing_accounts": [
        {"id": ACCOUNT, "parent": ORG, "iam": {"roles/billing.admin": [OWNER]}},
        {"id": FULL_ACCOUNT, "project_limit": 1, "iam": {"roles/billing.admin": [OWNER]}},
        {"id": CLOSED_ACCOUNT, "open": False, "iam": {"roles/billing.admin": [OWNER]}},
        {"id": FOREIGN_ACCOUNT, "iam": {"roles/billing.admin": ["user:someone-else@example.com"]}},
    ],
    "projects": [{"id": "already-paid-by-full", "billing_account": FULL_ACCOUNT}],
}


@pytest.fixture(autouse=True)
def _no_faults_left(world: EmulatorHandle) -> Any:
    yield
    world.clear_faults()
    world.settings(service_enable_delay_s=0)


def new_project() -> str:
    return f"bs-{uuid.uuid4().hex[:12]}"


def cloud(emulator: EmulatorHandle, caller: str = OWNER) -> GoogleCloud:
    return GoogleCloud(Target(emulator_url=emulator.url, caller=caller))


def inputs(project: str, caller: str = OWNER, **overrides: Any) -> BootstrapInputs:
    values: dict[str, Any] = {
        "project": project,
        "region": REGION,
        "repository": "deployer",
        "create": True,
        "parent": ORG,
        "billing_account": ACCOUNT,
        "caller": caller,
    }
    values.update(overrides)
    if values.get("github") and "github_ids" not in values:
        values["github_ids"] = (REPOSITORY_ID, OWNER_ID)
    return BootstrapInputs(**values)


def run(emulator: EmulatorHandle, given: BootstrapInputs, caller: str = OWNER) -> BootstrapResult:
    bootstrapper = Bootstrapper(cloud(emulator, caller), SilentReporter())
    result = bootstrapper.plan(given)
    bootstrapper.apply(result)
    return result


def mutations(emulator: EmulatorHandle) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in emulator.mutating_requests()]


def projects_client(emulator: EmulatorHandle, caller: str = OWNER) -> Any:
    return resourcemanager_v3.ProjectsClient(
        credentials=caller_credentials(caller), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def project_bindings(emulator: EmulatorHandle, project: str) -> dict[str, set[str]]:
    policy = projects_client(emulator).get_iam_policy(request={"resource": f"projects/{project}"})
    return {binding.role: set(binding.members) for binding in policy.bindings}


def account_policy(emulator: EmulatorHandle, email: str, project: str) -> dict[str, set[str]]:
    response = emulator.as_caller(OWNER).post(
        f"{emulator.url}/v1/projects/{project}/serviceAccounts/{email}:getIamPolicy", timeout=10
    )
    response.raise_for_status()
    return {b["role"]: set(b["members"]) for b in response.json().get("bindings", [])}


# --- a brand-new project, from nothing --------------------------------------------------------------------------------


def test_bootstrap_creates_everything_a_new_project_needs_and_a_second_run_changes_nothing(
    world: EmulatorHandle,
) -> None:
    project = new_project()
    world.mark()
    result = run(world, inputs(project, members=("user:ana@example.com",), github="my-org/api", budget=50.0))

    sent = mutations(world)
    assert sent[0] == "POST /v3/projects"
    assert sent[1] == f"PUT /v1/projects/{project}/billingInfo"
    enables = [r for r in world.requests() if r["path"].endswith("services:batchEnable")]
    assert len(enables) == 1
    assert not any("/keys" in path for path in sent), "bootstrap must never create a service account key"
    number = result.project_number
    assert number is not None
    assert number.isdigit()

    # The repository, with both cleanup policies, as Artifact Registry's client reads it.
    registry = artifactregistry_v1.ArtifactRegistryClient(
        credentials=caller_credentials(OWNER), transport="rest", client_options={"api_endpoint": world.url}
    )
    repo = registry.get_repository(name=f"projects/{project}/locations/{REGION}/repositories/deployer")
    assert repo.cleanup_policies["deployer-keep-recent"].most_recent_versions.keep_count == 10
    assert repo.cleanup_policies["deployer-delete-untagged"].condition.older_than.total_seconds() == 7 * 86400
    # What a deploy runs is tagged deployed-… (services/deployed.py): kept however old it is.
    assert list(repo.cleanup_policies["deployer-keep-deployed"].condition.tag_prefixes) == ["deployed-"]

    build = f"serviceAccount:deployer-build@{project}.iam.gserviceaccount.com"
    runtime = f"serviceAccount:deployer-runtime@{project}.iam.gserviceaccount.com"
    ci = f"serviceAccount:deployer-ci@{project}.iam.gserviceaccount.com"
    bindings = project_bindings(world, project)
    assert build in bindings["roles/artifactregistry.writer"]
    assert build in bindings["roles/logging.logWriter"]
    assert ci in bindings["roles/run.admin"]
    assert not any(runtime in members for members in bindings.values()), "the runtime account holds nothing"
    assert "user:ana@example.com" in bindings["roles/run.admin"]
    assert OWNER in bindings["roles/owner"]  # the creator's ownership is kept by the read-modify-write

    runtime_policy = account_policy(world, f"deployer-runtime@{project}.iam.gserviceaccount.com", project)
    assert runtime_policy == {"roles/iam.serviceAccountUser": {OWNER, ci, "user:ana@example.com"}}
    ci_policy = account_policy(world, f"deployer-ci@{project}.iam.gserviceaccount.com", project)
    assert ci_policy["roles/iam.workloadIdentityUser"] == {
        f"principalSet://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{POOL_ID}/"
        f"attribute.repository_id/{REPOSITORY_ID}"
    }
    provider = (
        world.as_caller(OWNER)
        .get(
            f"{world.url}/v1/projects/{project}/locations/global/workloadIdentityPools/{POOL_ID}/providers/github",
            timeout=10,
        )
        .json()
    )
    assert provider["attributeCondition"] == (
        f"assertion.repository_id == '{REPOSITORY_ID}' && assertion.repository_owner_id == '{OWNER_ID}'"
    )
    github = result.github()
    assert github is not None
    assert github["service_account"] == f"deployer-ci@{project}.iam.gserviceaccount.com"
    assert github["workload_identity_provider"] == (
        f"projects/{number}/locations/global/workloadIdentityPools/{POOL_ID}/providers/github"
    )

    budgets = budgets_v1.BudgetServiceClient(
        credentials=caller_credentials(OWNER), transport="rest", client_options={"api_endpoint": world.url}
    )
    (budget,) = list(budgets.list_budgets(parent=f"billingAccounts/{ACCOUNT}"))
    assert list(budget.budget_filter.projects) == [f"projects/{number}"]
    assert [rule.threshold_percent for rule in budget.threshold_rules] == [0.5, 0.9, 1.0]

    world.mark()
    again = run(world, inputs(project, members=("user:ana@example.com",), github="my-org/api", budget=50.0))
    assert world.mutating_requests() == []
    assert again.plan.changes == []
    assert bootstrap_accounts(cloud(world), project) == (
        f"deployer-build@{project}.iam.gserviceaccount.com",
        f"deployer-runtime@{project}.iam.gserviceaccount.com",
    )


def test_an_existing_project_is_adopted_and_only_missing_apis_are_enabled(world: EmulatorHandle) -> None:
    project = new_project()
    run(world, inputs(project))
    usage = cloud(world).service_usage
    world.mark()
    run(world, inputs(project, create=False, vms=True))
    enables = [r for r in world.requests() if r["path"].endswith("services:batchEnable")]
    assert len(enables) == 1
    assert "compute.googleapis.com" in usage.enabled(project)
    assert "POST /v3/projects" not in mutations(world)


def test_a_repository_made_elsewhere_gets_the_cleanup_policies_and_keeps_its_own(world: EmulatorHandle) -> None:
    project = new_project()
    run(world, inputs(project))
    registry = artifactregistry_v1.ArtifactRegistryClient(
        credentials=caller_credentials(OWNER), transport="rest", client_options={"api_endpoint": world.url}
    )
    mine = artifactregistry_v1.CleanupPolicy(
        id="keep-release",
        action=artifactregistry_v1.CleanupPolicy.Action.KEEP,
        condition=artifactregistry_v1.CleanupPolicyCondition(
            tag_state=artifactregistry_v1.CleanupPolicyCondition.TagState.TAGGED, tag_prefixes=["release"]
        ),
    )
    registry.create_repository(
        parent=f"projects/{project}/locations/{REGION}",
        repository_id="models",
        repository=artifactregistry_v1.Repository(
            format_=artifactregistry_v1.Repository.Format.DOCKER, cleanup_policies={"keep-release": mine}
        ),
    ).result(timeout=60)

    world.mark()
    result = run(world, inputs(project, create=False, repository="models", keep_versions=5))
    step = next(s for s in result.plan.steps if s.resource.endswith("/repositories/models"))
    assert step.summary.startswith("set the cleanup policies")
    assert mutations(world) == [f"PATCH /v1/projects/{project}/locations/{REGION}/repositories/models"]
    repo = registry.get_repository(name=f"projects/{project}/locations/{REGION}/repositories/models")
    assert set(repo.cleanup_policies) == {
        "keep-release",
        "deployer-keep-recent",
        "deployer-delete-untagged",
        "deployer-delete-old-builds",
        "deployer-keep-deployed",
    }
    assert repo.cleanup_policies["deployer-keep-recent"].most_recent_versions.keep_count == 5


def test_a_newly_enabled_api_is_waited_for_until_it_answers(world: EmulatorHandle) -> None:
    project = new_project()
    world.settings(service_enable_delay_s=1.0)
    world.mark()
    run(world, inputs(project))
    log = world.requests()
    enabled = next(i for i, r in enumerate(log) if r["path"].endswith("services:batchEnable"))
    created = next(i for i, r in enumerate(log) if r["path"].endswith(f"{REGION}/repositories"))
    probes = [r for r in log[enabled + 1 : created] if r["method"] == "GET" and "/operations/" not in r["path"]]
    refused = {r["path"] for r in probes if r["status"] == 403}
    # Some API answered SERVICE_DISABLED at first; each was asked again until it answered, before anything used it.
    assert refused, "no API was still propagating: the test proves nothing"
    for path in refused:
        assert [r["status"] for r in probes if r["path"] == path][-1] == 200


# --- interruption and concurrency -------------------------------------------------------------------------------------

# The first mutating request of each step, in order: a run that fails there stopped right after the step before.
STEP_REQUESTS = [
    ("POST", r"^/v3/projects$"),
    ("PUT", r"/billingInfo$"),
    ("POST", r"/services:batchEnable$"),
    ("POST", r"/locations/europe-west4/repositories$"),
    ("POST", r"/serviceAccounts$"),
    ("POST", r"^/v3/projects/[^/]+:setIamPolicy$"),
    ("POST", r"/workloadIdentityPools$"),
    ("POST", r"/providers$"),
    ("POST", r"/serviceAccounts/[^/]+:setIamPolicy$"),
    ("POST", r"/budgets$"),
]


@pytest.mark.parametrize(("method", "path_regex"), STEP_REQUESTS, ids=[p for _, p in STEP_REQUESTS])
def test_a_run_interrupted_at_any_step_finishes_when_run_again(
    world: EmulatorHandle, method: str, path_regex: str
) -> None:
    project = new_project()
    given = inputs(project, members=("user:ana@example.com",), github="my-org/api", budget=20.0)
    world.add_fault(path_regex=path_regex, method=method, status=500, error_status="INTERNAL", times=1)
    world.mark()
    with pytest.raises(DeployerError):
        run(world, given)
    assert any(r["status"] == 500 for r in world.requests()), "the injected failure was not reached"
    world.clear_faults()

    run(world, given)
    world.mark()
    final = run(world, given)
    assert world.mutating_requests() == []
    assert final.plan.changes == []


def test_two_bootstraps_adding_different_members_at_once_lose_no_binding(world: EmulatorHandle) -> None:
    project = new_project()
    run(world, inputs(project))
    # Both writes of the project policy are held back, so both read-modify-writes read the same etag: one of
    # them must get 409 ABORTED and redo its read-modify-write.
    world.add_fault(path_regex=rf"^/v3/projects/{project}:setIamPolicy$", method="POST", delay_s=0.5, times=2)
    world.mark()
    members = ["user:first@example.com", "user:second@example.com"]
    barrier = threading.Barrier(len(members))
    failures: list[BaseException] = []

    def add(member: str) -> None:
        try:
            bootstrapper = Bootstrapper(cloud(world), SilentReporter())
            result = bootstrapper.plan(inputs(project, create=False, members=(member,)))
            barrier.wait(timeout=30)
            bootstrapper.apply(result)
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=add, args=(member,)) for member in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    conflicts = [r for r in world.requests() if r["path"] == f"/v3/projects/{project}:setIamPolicy"]
    assert 409 in [r["status"] for r in conflicts], "the two writes did not collide: the test proves nothing"
    bindings = project_bindings(world, project)
    assert set(members) <= bindings["roles/run.admin"]
    assert set(members) <= bindings["roles/logging.viewer"]
    runtime = f"deployer-runtime@{project}.iam.gserviceaccount.com"
    assert set(members) <= account_policy(world, runtime, project)["roles/iam.serviceAccountUser"]


# --- billing ----------------------------------------------------------------------------------------------------------


def test_a_billing_account_at_its_project_limit_is_explained_in_words(world: EmulatorHandle) -> None:
    project = new_project()
    world.mark()
    with pytest.raises(DeployerError) as caught:
        run(world, inputs(project, billing_account=FULL_ACCOUNT))
    error = caught.value
    assert "Precondition check failed" in error.message
    assert "as many projects as it may" in error.message
    assert error.hint is not None
    assert BILLING_QUOTA_INCREASE_URL in error.hint
    assert "gcloud billing projects unlink" in error.hint
    link = [r for r in world.requests() if r["path"] == f"/v1/projects/{project}/billingInfo" and r["method"] == "PUT"]
    assert [r["status"] for r in link] == [400]
    assert not any(r["path"].endswith("services:batchEnable") for r in world.requests())


@pytest.mark.parametrize(
    ("account", "words"),
    [
        (CLOSED_ACCOUNT, "is closed"),
        (FOREIGN_ACCOUNT, "does not exist, or you may not see it"),
        ("0000AA-NOSUCH-000009", "does not exist, or you may not see it"),
    ],
)
def test_the_billing_account_is_checked_before_anything_is_created(
    world: EmulatorHandle, account: str, words: str
) -> None:
    world.mark()
    with pytest.raises(DeployerError) as caught:
        Bootstrapper(cloud(world), SilentReporter()).plan(inputs(new_project(), billing_account=account))
    assert words in caught.value.message
    assert world.mutating_requests() == []


def test_a_caller_who_may_see_but_not_use_a_billing_account_is_told_which_role_to_ask_for(
    world: EmulatorHandle,
) -> None:
    # someone-else is the account's admin and grants our owner only the viewer role on it.
    admin = world.as_caller("user:someone-else@example.com")
    policy = admin.get(f"{world.url}/v1/billingAccounts/{FOREIGN_ACCOUNT}:getIamPolicy", timeout=10).json()
    policy.setdefault("bindings", []).append({"role": "roles/billing.viewer", "members": [OWNER]})
    admin.post(
        f"{world.url}/v1/billingAccounts/{FOREIGN_ACCOUNT}:setIamPolicy", json={"policy": policy}, timeout=10
    ).raise_for_status()
    world.mark()
    with pytest.raises(DeployerError) as caught:
        Bootstrapper(cloud(world), SilentReporter()).plan(inputs(new_project(), billing_account=FOREIGN_ACCOUNT))
    assert "billing.resourceAssociations.create" in caught.value.message
    assert caught.value.hint is not None
    assert "roles/billing.user" in caught.value.hint
    assert world.mutating_requests() == []


def test_billing_off_and_no_account_given_is_bad_input_before_any_change(world: EmulatorHandle) -> None:
    project = new_project()
    projects_client(world).create_project(project=resourcemanager_v3.Project(project_id=project, parent=ORG)).result(
        timeout=60
    )
    world.mark()
    with pytest.raises(BadInput) as caught:
        Bootstrapper(cloud(world), SilentReporter()).plan(inputs(project, create=False, billing_account=None))
    assert "--billing-account" in (caught.value.hint or "")
    assert world.mutating_requests() == []


def test_a_missing_project_without_create_says_how_to_create_it(world: EmulatorHandle) -> None:
    world.mark()
    with pytest.raises(DeployerError) as caught:
        Bootstrapper(cloud(world), SilentReporter()).plan(inputs(new_project(), create=False))
    assert "--create" in (caught.value.hint or "")
    assert world.mutating_requests() == []


# --- Workload Identity Federation -------------------------------------------------------------------------------------


def test_a_deleted_pool_is_undeleted_not_recreated(world: EmulatorHandle) -> None:
    project = new_project()
    run(world, inputs(project, github="my-org/api"))
    pool = f"{world.url}/v1/projects/{project}/locations/global/workloadIdentityPools/{POOL_ID}"
    owner = world.as_caller(OWNER)
    owner.delete(pool, timeout=10).raise_for_status()
    assert owner.get(pool, timeout=10).json()["state"] == "DELETED"

    world.mark()
    result = run(world, inputs(project, create=False, github="my-org/api"))
    step = next(s for s in result.plan.steps if s.resource.endswith(f"workloadIdentityPools/{POOL_ID}"))
    assert "undelete" in step.summary
    sent = mutations(world)
    assert f"POST /v1/projects/{project}/locations/global/workloadIdentityPools/{POOL_ID}:undelete" in sent
    assert f"POST /v1/projects/{project}/locations/global/workloadIdentityPools" not in sent
    assert owner.get(pool, timeout=10).json()["state"] == "ACTIVE"
    world.mark()
    run(world, inputs(project, create=False, github="my-org/api"))
    assert world.mutating_requests() == []


def _add_bindings(emulator: EmulatorHandle, url: str, read: str, grants: dict[str, list[str]]) -> None:
    owner = emulator.as_caller(OWNER)
    policy = owner.post(f"{url}:getIamPolicy", json={}, timeout=10).json() if read == "POST" else {}
    for role, members in grants.items():
        policy.setdefault("bindings", []).append({"role": role, "members": members})
    owner.post(f"{url}:setIamPolicy", json={"policy": policy}, timeout=10).raise_for_status()


def test_a_project_bootstrapped_with_the_old_roles_is_migrated_and_the_plan_says_what_goes(
    world: EmulatorHandle,
) -> None:
    project = new_project()
    result = run(world, inputs(project, github="my-org/api", members=("user:ana@example.com",)))
    number = result.project_number
    runtime_email = f"deployer-runtime@{project}.iam.gserviceaccount.com"
    runtime = f"serviceAccount:{runtime_email}"
    build = f"serviceAccount:deployer-build@{project}.iam.gserviceaccount.com"
    old_principal = (
        f"principalSet://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{POOL_ID}/"
        "attribute.repository/my-org/api"
    )
    # What the earlier bootstrap granted: one deploy-and-runtime account with project-wide roles, trusted by name.
    old_roles = ("roles/run.developer", "roles/cloudbuild.builds.editor", "roles/storage.admin")
    _add_bindings(world, f"{world.url}/v3/projects/{project}", "POST", {r: [runtime] for r in old_roles})
    _add_bindings(world, f"{world.url}/v3/projects/{project}", "POST", {"roles/run.developer": [build]})
    account_url = f"{world.url}/v1/projects/{project}/serviceAccounts/{runtime_email}"
    _add_bindings(
        world,
        account_url,
        "POST",
        {"roles/iam.serviceAccountUser": [build, runtime], "roles/iam.workloadIdentityUser": [old_principal]},
    )
    provider_url = (
        f"{world.url}/v1/projects/{project}/locations/global/workloadIdentityPools/{POOL_ID}/providers/github"
    )
    world.as_caller(OWNER).patch(
        f"{provider_url}?updateMask=attributeCondition",
        json={"attributeCondition": "assertion.repository == 'my-org/api'"},
        timeout=10,
    ).raise_for_status()

    plan = Bootstrapper(cloud(world), SilentReporter()).plan(
        inputs(project, create=False, github="my-org/api", members=("user:ana@example.com",))
    )
    said = {step.resource: step.summary for step in plan.plan.changes}
    project_step = said[f"projects/{project}:iam"]
    assert f"remove {runtime}: " in project_step
    for role in old_roles:
        assert role.removeprefix("roles/") in project_step
    assert "run.developer (no longer needed)" in project_step
    assert (
        f"{old_principal}: iam.workloadIdentityUser" in said[f"projects/{project}/serviceAccounts/{runtime_email}:iam"]
    )
    assert (
        "was assertion.repository == 'my-org/api'"
        in said[f"projects/{project}/locations/global/workloadIdentityPools/{POOL_ID}/providers/github"]
    )
    plan.apply()

    bindings = project_bindings(world, project)
    assert not any(runtime in members for members in bindings.values())
    assert "roles/run.developer" not in bindings
    assert "user:ana@example.com" in bindings["roles/run.admin"]  # people's grants are never taken away
    assert OWNER in bindings["roles/owner"]
    runtime_policy = account_policy(world, runtime_email, project)
    assert build not in runtime_policy["roles/iam.serviceAccountUser"]
    assert "roles/iam.workloadIdentityUser" not in runtime_policy
    world.mark()
    run(world, inputs(project, create=False, github="my-org/api", members=("user:ana@example.com",)))
    assert world.mutating_requests() == []


# --- the caller -------------------------------------------------------------------------------------------------------


def test_the_caller_is_carried_in_the_emulator_token(world: EmulatorHandle) -> None:
    world.mark()
    cloud(world, "user:somebody@example.com").resource_manager.get_project("already-paid-by-full")
    assert {r["caller"] for r in world.requests()} == {"user:somebody@example.com"}


def test_bootstrap_accounts_are_none_where_bootstrap_never_ran(world: EmulatorHandle) -> None:
    assert bootstrap_accounts(cloud(world), "already-paid-by-full") == (None, None)


# --- pure: APIs, GitHub output ---------------------------------------------------------------------------------------


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
