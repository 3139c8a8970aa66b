"""``[bootstrap]``: what `deployer bootstrap` sets up in the project.

Every value may also come from a flag of `deployer bootstrap` (the flag wins; ``--member`` adds to ``members``).
The checks are shared with the flags, so a bad value reads the same wherever it was written.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, WithJsonSchema

from deployer.config.checks import matching, strings_only, to_seconds
from deployer.config.table import Table

# Shown as three groups of six uppercase letters or digits (https://cloud.google.com/billing/docs/how-to/
# find-billing-account-id), e.g. 012345-6789AB-CDEF01.
_BILLING_ACCOUNT_RE = re.compile(r"^[0-9A-Z]{6}-[0-9A-Z]{6}-[0-9A-Z]{6}$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_DOMAIN_RE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
# GitHub: an owner is 1-39 letters, digits or hyphens, not starting with a hyphen; a repository name is letters,
# digits, ".", "-" and "_" (https://docs.github.com/en/repositories/creating-and-managing-repositories).
_GITHUB_OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
_GITHUB_REPO_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_PARENT_RE = re.compile(r"^(organizations|folders)/[0-9]{1,20}$")
_SERVICE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.googleapis\.com$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_AGE_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

MEMBER_KINDS = ("user", "group", "serviceAccount", "domain")
DEFAULT_KEEP_VERSIONS = 10
DEFAULT_UNTAGGED_OLDER_THAN_S = 7 * 86400
MIN_AGE_S = 3600
MAX_AGE_S = 3650 * 86400
MAX_KEEP_VERSIONS = 10000


def check_billing_account(value: str) -> str:
    """``012345-6789AB-CDEF01`` (``billingAccounts/`` in front is accepted and dropped)."""
    account = value.strip().removeprefix("billingAccounts/").upper()
    if not _BILLING_ACCOUNT_RE.fullmatch(account):
        raise ValueError(
            'a billing account id looks like "012345-6789AB-CDEF01" (three groups of six letters or digits); '
            "`gcloud billing accounts list` shows yours"
        )
    return account


def check_member(value: str) -> str:
    kind, _, identity = value.partition(":")
    if kind not in MEMBER_KINDS or not identity:
        raise ValueError(
            "a member is user:EMAIL, group:EMAIL, serviceAccount:EMAIL or domain:DOMAIN, e.g. user:ana@example.com"
        )
    if kind == "domain":
        if not _DOMAIN_RE.fullmatch(identity):
            raise ValueError("a domain member names a domain in lowercase, e.g. domain:example.com")
    elif not _EMAIL_RE.fullmatch(identity):
        raise ValueError(f"{kind}: needs an email address, e.g. {kind}:ana@example.com")
    return value


def check_github(value: str) -> str:
    """``OWNER/REPO``, optionally ``@ref`` (a branch, ``refs/...`` or ``environment:NAME``) to bind the trust to."""
    repository, at, ref = value.partition("@")
    if at and not re.fullmatch(r"[A-Za-z0-9._/:-]+", ref):
        raise ValueError('after @ comes a branch, a ref or environment:NAME, e.g. "my-org/api@main"')
    owner, slash, repo = repository.partition("/")
    if not slash or not _GITHUB_OWNER_RE.fullmatch(owner) or not _GITHUB_REPO_RE.fullmatch(repo) or repo in (".", ".."):
        raise ValueError('a GitHub repository is OWNER/REPO, e.g. "my-org/my-model-api"')
    return value


check_parent = matching(_PARENT_RE, 'a parent is "organizations/NUMBER" or "folders/NUMBER"')


def check_api(value: str) -> str:
    """``secretmanager`` or ``secretmanager.googleapis.com`` to the full service name."""
    name = value.strip()
    if "." not in name:
        name += ".googleapis.com"
    if not _SERVICE_NAME_RE.fullmatch(name):
        raise ValueError('an API is a service name like "secretmanager.googleapis.com" (or just "secretmanager")')
    return name


check_currency = matching(
    _CURRENCY_RE, 'a currency is an ISO 4217 code like "USD" or "EUR" (the billing account\'s currency)'
)


def check_budget(value: object) -> float:
    allowed = "a budget is an amount greater than 0 in the billing account's currency, e.g. 50 or 12.5"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(allowed)
    try:
        amount = float(value)
    except ValueError:
        raise ValueError(allowed) from None
    if not amount > 0 or amount > 1e12 or round(amount, 2) != amount:
        raise ValueError(allowed + " (at most two decimals)")
    return amount


def parse_age(value: object) -> int:
    """``"7d"``, ``"36h"``, ``"604800s"`` or a number of seconds, to seconds (1 hour to 10 years)."""
    allowed = f'an age like "7d", "36h" or "604800s" between {MIN_AGE_S // 3600}h and {MAX_AGE_S // 86400}d'
    return to_seconds(value, _AGE_RE, (86400, 3600, 60, 1), MIN_AGE_S, MAX_AGE_S, allowed)


BillingAccount = Annotated[str, BeforeValidator(strings_only(check_billing_account))]
Member = Annotated[str, AfterValidator(check_member)]
GitHubRepository = Annotated[str, AfterValidator(check_github)]
Parent = Annotated[str, AfterValidator(check_parent)]
ApiName = Annotated[str, BeforeValidator(strings_only(check_api))]
Currency = Annotated[str, AfterValidator(check_currency)]
Budget = Annotated[
    float,
    BeforeValidator(check_budget),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "description": "Monthly budget amount."}),
]
Age = Annotated[
    int,
    BeforeValidator(parse_age),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": _AGE_RE.pattern}, {"type": "integer"}],
            "description": 'An age like "7d", "36h" or "604800s" (or a number of seconds).',
        }
    ),
]


class BootstrapConfig(Table):
    """``[bootstrap]``: the project setup `deployer bootstrap` performs."""

    billing_account: BillingAccount | None = Field(
        default=None, description="Billing account to link, e.g. 012345-6789AB-CDEF01."
    )
    parent: Parent | None = Field(
        default=None, description="Where a created project goes: organizations/NUMBER or folders/NUMBER."
    )
    members: tuple[Member, ...] = Field(
        default=(), description="Team members who get the developer roles (user:, group:, serviceAccount:, domain:)."
    )
    github: GitHubRepository | None = Field(
        default=None, description="OWNER/REPO allowed to deploy from GitHub Actions (Workload Identity Federation)."
    )
    budget: Budget | None = Field(default=None, description="Monthly budget with alerts at 50, 90 and 100 %.")
    budget_currency: Currency | None = Field(
        default=None, description="Currency of the budget; the billing account's currency when unset."
    )
    cleanup_keep_versions: StrictInt = Field(
        default=DEFAULT_KEEP_VERSIONS,
        ge=1,
        le=MAX_KEEP_VERSIONS,
        description="Artifact Registry cleanup: the most recent versions of each image that are always kept.",
    )
    cleanup_untagged_older_than: Age = Field(
        default=DEFAULT_UNTAGGED_OLDER_THAN_S,
        description="Artifact Registry cleanup: delete untagged images older than this, in seconds once loaded.",
    )
    apis_extra: tuple[ApiName, ...] = Field(
        default=(), description="More APIs to enable, e.g. secretmanager.googleapis.com."
    )
