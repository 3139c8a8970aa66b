"""Fetch Google's predefined roles again from the public dataset the emulator's role table comes from.

    python3 scripts/refresh_gcp_roles.py [--commit SHA] [--out PATH]

The source is iann0036/iam-dataset (MIT), which records Google's ``roles.get`` output as ``gcp/roles/NAME.json``
(``{"name", "title", "stage", "includedPermissions", ...}``). The script keeps the roles the data file already
lists (the roles of the APIs deployer touches, plus the basic ones) and, of their permissions, those of the same
prefixes, then rewrites ``_about`` with the commit and date it read. It needs the network; without it, it says so
and changes nothing. Run the IAM tests afterwards: a role Google changed shows up as a failing role table test.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "emulator" / "deployer_emulator" / "data" / "gcp-roles.json"
REPOSITORY = "iann0036/iam-dataset"
PREFIXES = (
    "run.",
    "cloudbuild.",
    "artifactregistry.",
    "storage.",
    "compute.",
    "iam.",
    "resourcemanager.",
    "serviceusage.",
    "billing.",
    "secretmanager.",
    "logging.",
)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: bytes = response.read()
        return body


def latest_commit() -> str:
    doc = json.loads(_get(f"https://api.github.com/repos/{REPOSITORY}/commits/main"))
    return str(doc["sha"])


def fetch_role(commit: str, role: str) -> dict[str, object]:
    name = role.removeprefix("roles/")
    doc = json.loads(_get(f"https://raw.githubusercontent.com/{REPOSITORY}/{commit}/gcp/roles/{name}.json"))
    permissions = sorted(p for p in doc.get("includedPermissions", []) if p.startswith(PREFIXES))
    return {"permissions": permissions, "stage": doc.get("stage", "GA"), "title": doc.get("title", "")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", help="the dataset commit to read (default: the newest on main)")
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args(argv)
    current = json.loads(DATA.read_text(encoding="utf-8"))
    try:
        commit = args.commit or latest_commit()
        roles = {role: fetch_role(commit, role) for role in sorted(current["roles"])}
    except (urllib.error.URLError, TimeoutError) as exc:
        print(f"cannot reach GitHub ({exc}); {args.out} is unchanged", file=sys.stderr)
        return 1
    about = {
        "filter": current["_about"]["filter"],
        "source": f"{REPOSITORY} gcp/roles/*.json (MIT), which records Google's roles.get output; snapshot of "
        f"{datetime.now(UTC):%Y-%m-%d} (commit {commit[:7]})",
    }
    args.out.write_text(json.dumps({"_about": about, "roles": roles}, indent=1, sort_keys=True) + "\n")
    print(f"{len(roles)} roles written to {args.out} from {REPOSITORY}@{commit[:7]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
