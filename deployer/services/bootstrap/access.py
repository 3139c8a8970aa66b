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
from deployer.gcp.bodies.iam import (
    add_bindings,
    github_principal_set,
    github_provider_body,
    missing_grants,
    pool_body,
    provider_differences,
    service_account_body,
)
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
                roles.BUILD_ACCOUNT_ID,
                i.build_account,
                "deployer build",
                "Cloud Build runs deployer's builds as this account: it pushes images (made by deployer bootstrap)",
            ),
            (
                roles.RUNTIME_ACCOUNT_ID,
                i.runtime_account,
                "deployer deploy and runtime",
                "GitHub Actions deploys as this account, and the deployed workloads run as it (made by deployer "
                "bootstrap)",
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
        body = service_account_body(account_id, display, about)

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
        build = f"serviceAccount:{inputs.build_account}"
        runtime = f"serviceAccount:{inputs.runtime_account}"
        grants = [(grant.role, build) for grant in roles.build_account_roles()]
        grants += [(grant.role, runtime) for grant in roles.runtime_account_roles(vms=inputs.vms)]
        for member in inputs.members:
            grants += [(grant.role, member) for grant in roles.developer_roles(vms=inputs.vms)]
        return grants

    def _plan_project_roles(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        rm = self._cloud.resource_manager
        grants = self._project_grants(i)
        policy = rm.get_iam_policy(i.project) if world.readable("cloudresourcemanager.googleapis.com") else {}
        missing = missing_grants(policy, grants)
        resource = f"projects/{i.project}:iam"
        if not missing:
            result.plan.add(Step(Action.NOOP, resource, f"project roles are granted ({len(grants)} bindings)"))
            return

        def grant() -> None:
            self._read_modify_write(
                f"project {i.project}",
                lambda: rm.get_iam_policy(i.project),
                lambda updated: rm.set_iam_policy(i.project, updated),
                grants,
            )

        result.plan.add(
            Step(
                Action.UPDATE,
                resource,
                f"grant {len(missing)} project roles: {_describe_grants(missing)}",
                {
                    "method": "POST",
                    "url": f"/v3/projects/{i.project}:setIamPolicy",
                    "body": {"policy": add_bindings(policy, missing)},
                },
                apply=grant,
            )
        )

    def _read_modify_write(
        self,
        what: str,
        read: Callable[[], dict[str, Any]],
        write: Callable[[dict[str, Any]], dict[str, Any]],
        grants: list[tuple[str, str]],
    ) -> None:
        """Grant by read-modify-write with the etag; on a concurrent change, redo it all, backing off with jitter."""
        delay = 0.5
        for attempt in range(1, POLICY_ATTEMPTS + 1):
            updated = add_bindings(read(), grants)
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
                iam.create_pool(i.project, POOL_ID, pool_body())
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
                        "body": pool_body(),
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
        desired = github_provider_body(repository)
        provider = iam.get_provider(i.project, POOL_ID, PROVIDER_ID) if readable else None
        name = provider_resource(i.project, POOL_ID, PROVIDER_ID)

        def ensure() -> None:
            current = iam.get_provider(i.project, POOL_ID, PROVIDER_ID)
            if current is None:
                iam.create_provider(i.project, POOL_ID, PROVIDER_ID, desired)
                return
            if current.deleted:
                current = iam.undelete_provider(i.project, POOL_ID, PROVIDER_ID)
            changed = provider_differences(current.doc, desired)
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
            changed = provider_differences(provider.doc, desired)
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
        build = f"serviceAccount:{i.build_account}"
        runtime = f"serviceAccount:{i.runtime_account}"
        users = [*([i.caller] if i.caller else []), *i.members]
        if email == i.runtime_account:
            # The build account deploys from build steps; the runtime account deploys itself from CI.
            users += [build, runtime]
        else:
            # The deploy account submits builds that run as the build account.
            users += [runtime]
        grants = [(roles.SERVICE_ACCOUNT_USER, member) for member in dict.fromkeys(users)]
        if email == i.runtime_account and i.github:
            principal = github_principal_set(result.world.project_number(), POOL_ID, i.github)
            grants.append((roles.WORKLOAD_IDENTITY_USER, principal))
        return grants

    def _plan_account_policies(self, result: BootstrapResult) -> None:
        i, world = result.inputs, result.world
        if i.caller is None:
            self._reporter.warn(
                "cannot tell from the credentials who you are: you get no actAs grant on the deploy account "
                "(add yourself with --member user:YOU@EXAMPLE.COM)"
            )
        iam = self._cloud.iam
        for email in (i.runtime_account, i.build_account):
            exists = world.accounts.get(email, False)
            policy = iam.get_account_policy(i.project, email) if exists else {}
            grants = self._account_grants(result, email)
            missing = missing_grants(policy, grants)
            resource = f"projects/{i.project}/serviceAccounts/{email}:iam"
            if not missing:
                result.plan.add(Step(Action.NOOP, resource, f"who may act as {email} is set"))
                continue

            def grant(email: str = email) -> None:
                self._read_modify_write(
                    email,
                    lambda: iam.get_account_policy(i.project, email),
                    lambda updated: iam.set_account_policy(i.project, email, updated),
                    self._account_grants(result, email),
                )

            result.plan.add(
                Step(
                    Action.UPDATE,
                    resource,
                    f"on {email}, grant {_describe_grants(missing)}",
                    {
                        "method": "POST",
                        "url": f"/v1/projects/{i.project}/serviceAccounts/{email}:setIamPolicy",
                        "body": {"policy": add_bindings(policy, missing)},
                    },
                    apply=grant,
                )
            )


def _describe_grants(grants: list[tuple[str, str]]) -> str:
    by_member: dict[str, list[str]] = {}
    for role, member in grants:
        by_member.setdefault(member, []).append(role.removeprefix("roles/"))
    return "; ".join(f"{member}: {', '.join(names)}" for member, names in by_member.items())
