"""The GitHub repository the keyless trust is bound to: ``OWNER/REPO[@ref]``, and its immutable ids.

Google's provider condition binds the repository's ``repository_id`` and ``repository_owner_id`` claims, which a
renamed, deleted or re-created repository of the same name does not keep. The ids come from the flags
(``--github-repository-id``, ``--github-owner-id``) or, when not given, from GitHub's public REST API
(``GET /repos/OWNER/REPO``: ``id`` and ``owner.id``; https://docs.github.com/en/rest/repos/repos#get-a-repository).
Without the network, the error says how to find them on any machine that has it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from deployer.errors import BadInput

GITHUB_API = "https://api.github.com"


def split_github(value: str | None) -> tuple[str | None, str | None]:
    """``OWNER/REPO@ref`` into (``OWNER/REPO``, ``ref``); the ref is None when not given."""
    if not value:
        return None, None
    repository, at, ref = value.partition("@")
    if at and not ref:
        raise BadInput(
            f"--github {value!r}: nothing after @",
            "give a branch (OWNER/REPO@main), a ref (@refs/tags/v1) or an environment (@environment:prod)",
        )
    return repository, ref or None


def _check_id(flag: str, value: str) -> str:
    if not value.isdigit():
        raise BadInput(f"{flag} {value!r}: a GitHub id is a number, e.g. 123456789", f"correct {flag}")
    return value


def github_ids(repository: str, repository_id: str | None, owner_id: str | None) -> tuple[str, str]:
    """The repository's (id, owner id): as given, else asked of GitHub's API (one unauthenticated GET)."""
    if repository_id and owner_id:
        return _check_id("--github-repository-id", repository_id), _check_id("--github-owner-id", owner_id)
    api = os.environ.get("DEPLOYER_GITHUB_API_URL", GITHUB_API).rstrip("/")
    request = urllib.request.Request(
        f"{api}/repos/{repository}", headers={"Accept": "application/vnd.github+json", "User-Agent": "deployer"}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            doc = json.loads(response.read())
        found = str(doc["id"]), str(doc["owner"]["id"])
    except urllib.error.HTTPError as exc:
        raise BadInput(
            f"--github {repository}: GitHub answers {exc.code} for it (a private repository needs the ids given)",
            _ids_hint(repository),
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError, KeyError, ValueError) as exc:
        raise BadInput(
            f"--github {repository}: cannot ask GitHub for the repository's ids ({exc})", _ids_hint(repository)
        ) from None
    return _check_id("--github-repository-id", repository_id or found[0]), _check_id(
        "--github-owner-id", owner_id or found[1]
    )


def _ids_hint(repository: str) -> str:
    return (
        f"find them where GitHub is reachable: `gh api repos/{repository} --jq '.id, .owner.id'` (or open "
        f"https://api.github.com/repos/{repository} and read id and owner.id), then run bootstrap again with "
        "--github-repository-id ID --github-owner-id OWNER_ID"
    )
