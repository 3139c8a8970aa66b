"""The accounts bootstrap made, as a deploy or build finds them (reads only)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud
from deployer.services import roles


def bootstrap_accounts(cloud: GoogleCloud, project: str) -> tuple[str | None, str | None]:
    """The build and deploy/runtime service accounts bootstrap made in ``project``, each None when absent.

    Reads only (a GET each). A caller who may not read an account (no iam.serviceAccounts.get) still learns
    whether it exists, through testIamPermissions, which any caller may call; then deploy's actAs check names the
    grant that is missing instead of silently falling back to Google's default accounts.
    """

    def find(account_id: str) -> str | None:
        email = roles.service_account_email(account_id, project)
        try:
            account = cloud.iam.get_service_account(project, email)
            return account.email if account is not None and not account.disabled else None
        except DeployerError:
            try:
                return email if cloud.iam.account_exists(project, email) else None
            except DeployerError:
                return None

    # The two reads do not depend on each other: one round trip of wall time, not two.
    with ThreadPoolExecutor(2, thread_name_prefix="deployer-accounts") as pool:
        build, runtime = pool.map(find, (roles.BUILD_ACCOUNT_ID, roles.RUNTIME_ACCOUNT_ID))
    return build, runtime
