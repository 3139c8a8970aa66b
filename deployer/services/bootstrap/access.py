"""Bootstrap's steps for who may do what: the service accounts, the project roles of the accounts and the
team, Workload Identity Federation for GitHub Actions, and the accounts' own policies (who may act as them).

IAM policies are changed by read-modify-write with the etag; when Google answers 409 ABORTED (someone else changed
the policy in between) the whole read-modify-write is redone, with backoff, so no binding is lost.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies import iam as bodies
from deployer.gcp.errors import PolicyConflict
from deployer.gcp.iam import pool_resource, provider_resource
from deployer.plan import Action, Step
from deployer.reporter import Reporter
from deployer.services import roles
from deployer.services.bootstrap.inputs import POLICY_ATTEMPTS, POOL_ID, PROVIDER_ID, BootstrapInputs
from deployer.services.bootstrap.result import BootstrapResult


class AccessSteps:
    """Plans (reads only) the account, role, GitHub and account-policy steps."""

    # The Bootstrapper (bootstrap/__init__.py) that mixes these steps in provides them.
    _cloud: GoogleCloud
    _reporter: Reporter

    # -- 5. service accounts -------------------------------------------------------------------------------------------
    def _plan_accounts(self, result: BootstrapResult) -> None:
        i = result.inputs
        accounts = (
            (
                roles.CI_ACCOUNT_ID,
                i.ci_account,
                "deployer CI",
                "GitHub Actions deploys as this account, keylessly (made by deployer bootstrap)",
            ),
            (
                roles.BUILD_ACCOUNT_ID,
                i.build_account,
                "deployer build",
                "Cloud Build runs deployer's builds as this account: it pushes images (made by deployer bootstrap)",
            ),
            (
                roles.RUNTIME_ACCOUNT_ID,
                i.runtime_account,
                "deployer runtime",
                "The deployed services, jobs and VMs run as this account (made by deployer bootstrap)",
            ),
        )
        for account_id, email, display, description in accounts:
            self._plan_account(result, account_id, email, display, description)

    def _plan_account(self, result: BootstrapResult, account_id: str, email: str, display: str, about: str) -> None:
        i, world = result.inputs, result.world
        iam = self._cloud.iam
        found = iam.get_service_account(i.project, email) if world.readable("iam.googleapis.com") else None
        world.accounts[email] = found is not None
        resource = f"projects/{i.project}/serviceAccounts/{email}"
        if found is not None:
            result.plan.add(Step(Action.NOOP, resource, f"service account {account_id} exists"))
            return
        body = bodies.service_account_body(account_id, display, about)

        def create() -> None:
            if iam.get_service_account(i.project, email) is None:
                iam.create_service_account(i.project, email, body)
            world.accounts[email] = True

        result.plan.add(
            Step(
                Action.CREATE,
                resource,
                f"create service account {email} (no key is ever made)",
                {"method": "POST", "url": f"/v1/projects/{i.project}/serviceAccounts", "body": body},
                apply=create,
            )
        )

    # -- 6. project roles ----------------------------------------------------------------------------------------------
    def _project_grants(self, inputs: BootstrapInputs) -> list[tuple[str, str]]:
        ci = f"serviceAccount:{inputs.ci_account}"
        build = f"serviceAccount:{inputs.build_account}"
        runtime = f"serviceAccount:{inputs.runtime_account}"
        grants = [(grant.role, ci) for grant in roles.ci_roles(vms=inputs.vms)]
        grants += [(grant.role, build) for grant in roles.build_account_roles()]
        runtime_roles = roles.runtime_account_roles(vms=inputs.vms, workload_roles=inputs.workload_roles)
        grants += [(grant.role, runtime) for grant in runtime_roles]
        for member in inputs.members:
            grants += [(grant.role, member) for grant in roles.developer_roles(vms=inputs.vms)]
        return grants

    def _managed_members(self, result: BootstrapResult) -> set[str]:
        """Members whose grants deployer owns: its accounts, and the principals of its workload identity pool.
        Their grants are exactly what the code says; a re-run removes the rest (old roles), and the plan says so."""
        i = result.inputs
        accounts = {f"serviceAccount:{email}" for email in (i.ci_account, i.build_account, i.runtime_account)}
        return accounts | {p for p in result.world.principals if p.startswith(self._pool_principal_prefix(result))}

    def _pool_principal_prefix(self, result: BootstrapResult) -> str:
        number = result.world.project_number()
        return f"principalSet://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{POOL_ID}/"

    def _plan_project_roles(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        rm = self._cloud.resource_manager
        policy = rm.get_iam_policy(i.project) if world.readable("cloudresourcemanager.googleapis.com") else {}
        self._plan_policy(
            result,
            policy,
            resource=f"projects/{i.project}:iam",
            what=f"project {i.project}",
            url=f"/v3/projects/{i.project}:setIamPolicy",
            grants=lambda: self._project_grants(i),
            read=lambda: rm.get_iam_policy(i.project),
            write=lambda updated: rm.set_iam_policy(i.project, updated),
        )

    def _plan_policy(
        self,
        result: BootstrapResult,
        policy: dict[str, Any],
        *,
        resource: str,
        what: str,
        url: str,
        grants: Callable[[], list[tuple[str, str]]],
        read: Callable[[], dict[str, Any]],
        write: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        """One step that makes a policy hold ``grants`` and, for deployer's own members, nothing else."""
        desired = grants()
        result.world.principals |= {m for b in policy.get("bindings", []) for m in b.get("members", [])}
        managed = self._managed_members(result)
        missing = bodies.missing_grants(policy, desired)
        removals = bodies.unwanted_grants(policy, managed, desired)
        if not missing and not removals:
            result.plan.add(Step(Action.NOOP, resource, f"roles on {what} are as deployer grants them"))
            return
        said = [f"grant {_describe_grants(missing)}"] if missing else []
        said += [f"remove {_describe_grants(removals)} (no longer needed)"] if removals else []

        def apply() -> None:
            # Again at apply time: a project created on the way has its number now (the pool's principal needs it).
            self._read_modify_write(what, read, write, grants(), self._managed_members(result))

        result.plan.add(
            Step(
                Action.UPDATE,
                resource,
                f"on {what}, " + "; and ".join(said),
                {"method": "POST", "url": url, "body": {"policy": bodies.add_bindings(policy, missing, removals)}},
                apply=apply,
            )
        )

    def _read_modify_write(
        self,
        what: str,
        read: Callable[[], dict[str, Any]],
        write: Callable[[dict[str, Any]], dict[str, Any]],
        grants: list[tuple[str, str]],
        managed: set[str],
    ) -> None:
        """Grant (and take back what deployer's own members no longer need) by read-modify-write with the etag; on
        a concurrent change, redo it all, backing off with jitter."""
        delay = 0.5
        for attempt in range(1, POLICY_ATTEMPTS + 1):
            current = read()
            updated = bodies.add_bindings(current, grants, bodies.unwanted_grants(current, managed, grants))
            if updated is None:
                return
            try:
                write(updated)
                return
            except PolicyConflict as conflict:
                if attempt == POLICY_ATTEMPTS:
                    raise DeployerError(
                        f"the IAM policy of {what} kept changing while deployer updated it "
                        f"({POLICY_ATTEMPTS} attempts): {conflict.message}",
                        "run the same command again; nothing already granted is lost",
                    ) from conflict
                self._reporter.info(f"The IAM policy of {what} changed meanwhile: reading it again")
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 16.0)

    # -- 7. GitHub Actions through Workload Identity Federation --------------------------------------------------------
    def _plan_github(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        assert i.github is not None
        iam = self._cloud.iam
        readable = world.readable("iam.googleapis.com")
        pool = iam.get_pool(i.project, POOL_ID) if readable else None
        pool_name = pool_resource(i.project, POOL_ID)

        def ensure_pool() -> None:
            current = iam.get_pool(i.project, POOL_ID)
            if current is None:
                iam.create_pool(i.project, POOL_ID, bodies.pool_body())
            elif current.deleted:
                iam.undelete_pool(i.project, POOL_ID)
            elif current.disabled:
                iam.enable_pool(i.project, POOL_ID)

        if pool is None:
            result.plan.add(
                Step(
                    Action.CREATE,
                    pool_name,
                    f"create workload identity pool {POOL_ID}",
                    {
                        "method": "POST",
                        "url": f"/v1/projects/{i.project}/locations/global/workloadIdentityPools"
                        f"?workloadIdentityPoolId={POOL_ID}",
                        "body": bodies.pool_body(),
                    },
                    apply=ensure_pool,
                )
            )
        elif pool.deleted:
            result.plan.add(
                Step(
                    Action.UPDATE,
                    pool_name,
                    f"undelete workload identity pool {POOL_ID} (deleted less than 30 days ago, its id is reserved)",
                    {"method": "POST", "url": f"/v1/{pool_name}:undelete", "body": {}},
                    apply=ensure_pool,
                )
            )
        elif pool.disabled:
            result.plan.add(
                Step(
                    Action.UPDATE,
                    pool_name,
                    f"enable workload identity pool {POOL_ID} (it is disabled)",
                    {"method": "PATCH", "url": f"/v1/{pool_name}?updateMask=disabled", "body": {"disabled": False}},
                    apply=ensure_pool,
                )
            )
        else:
            result.plan.add(Step(Action.NOOP, pool_name, f"workload identity pool {POOL_ID} exists"))
        self._plan_provider(result, readable and pool is not None and not pool.deleted)

    def _plan_provider(self, result: BootstrapResult, readable: bool) -> None:
        i = result.inputs
        assert i.github is not None
        iam = self._cloud.iam
        repository = i.github
        assert i.github_ids is not None
        desired = bodies.github_provider_body(repository, *i.github_ids, i.github_ref)
        provider = iam.get_provider(i.project, POOL_ID, PROVIDER_ID) if readable else None
        name = provider_resource(i.project, POOL_ID, PROVIDER_ID)

        def ensure() -> None:
            current = iam.get_provider(i.project, POOL_ID, PROVIDER_ID)
            if current is None:
                iam.create_provider(i.project, POOL_ID, PROVIDER_ID, desired)
                return
            if current.deleted:
                current = iam.undelete_provider(i.project, POOL_ID, PROVIDER_ID)
            changed = bodies.provider_differences(current.doc, desired)
            if changed:
                iam.update_provider(i.project, POOL_ID, PROVIDER_ID, desired, changed)

        bound = f"bound to {repository} ({desired['attributeCondition']})"
        if provider is None:
            step = Step(
                Action.CREATE,
                name,
                f"create GitHub OIDC provider {PROVIDER_ID}, {bound}",
                {
                    "method": "POST",
                    "url": f"/v1/{pool_resource(i.project, POOL_ID)}/providers"
                    f"?workloadIdentityPoolProviderId={PROVIDER_ID}",
                    "body": desired,
                },
                apply=ensure,
            )
        elif provider.deleted:
            step = Step(
                Action.UPDATE,
                name,
                f"undelete GitHub OIDC provider {PROVIDER_ID} and keep it {bound}",
                {"method": "POST", "url": f"/v1/{name}:undelete", "body": {}},
                apply=ensure,
            )
        else:
            changed = bodies.provider_differences(provider.doc, desired)
            if not changed:
                step = Step(Action.NOOP, name, f"GitHub OIDC provider {PROVIDER_ID} exists, {bound}")
            else:
                was = provider.doc.get("attributeCondition") or "no condition"
                step = Step(
                    Action.UPDATE,
                    name,
                    f"update GitHub OIDC provider {PROVIDER_ID} ({', '.join(changed)}): now {bound}, was {was}",
                    {"method": "PATCH", "url": f"/v1/{name}?updateMask={','.join(changed)}", "body": desired},
                    apply=ensure,
                )
        result.plan.add(step)

    # -- 8. who may act as the service accounts ------------------------------------------------------------------------
    def _account_grants(self, result: BootstrapResult, email: str) -> list[tuple[str, str]]:
        i = result.inputs
        if email == i.ci_account:
            if not i.github or i.github_ids is None:
                return []
            principal = bodies.github_principal_set(result.world.project_number(), POOL_ID, i.github_ids[0])
            return [(roles.WORKLOAD_IDENTITY_USER, principal)]
        # The CI deployer deploys workloads that run as the runtime account and submits builds that run as the
        # build account; so do the person bootstrapping and the team.
        users = [f"serviceAccount:{i.ci_account}", *([i.caller] if i.caller else []), *i.members]
        return [(roles.SERVICE_ACCOUNT_USER, member) for member in dict.fromkeys(users)]

    def _plan_account_policies(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        if i.caller is None:
            self._reporter.warn(
                "cannot tell from the credentials who you are: you get no actAs grant on the deployer accounts "
                "(add yourself with --member user:YOU@EXAMPLE.COM)"
            )
        iam = self._cloud.iam
        for email in (i.runtime_account, i.build_account, i.ci_account):
            exists = world.accounts.get(email, False)
            self._plan_policy(
                result,
                iam.get_account_policy(i.project, email) if exists else {},
                resource=f"projects/{i.project}/serviceAccounts/{email}:iam",
                what=email,
                url=f"/v1/projects/{i.project}/serviceAccounts/{email}:setIamPolicy",
                grants=lambda email=email: self._account_grants(result, email),  # type: ignore[misc]
                read=lambda email=email: iam.get_account_policy(i.project, email),  # type: ignore[misc]
                write=lambda updated, email=email: iam.set_account_policy(i.project, email, updated),  # type: ignore[misc]
            )


def _describe_grants(grants: list[tuple[str, str]]) -> str:
    by_member: dict[str, list[str]] = {}
    for role, member in grants:
        by_member.setdefault(member, []).append(role.removeprefix("roles/"))
    return "; ".join(f"{member}: {', '.join(names)}" for member, names in by_member.items())
