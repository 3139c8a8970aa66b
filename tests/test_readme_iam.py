"""Pure tier: README's "Who may do what (IAM)" table lists exactly the grants deployer/services/roles.py makes."""

from __future__ import annotations

import re
from pathlib import Path

from deployer.services import roles

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_rows() -> set[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Who may do what (IAM)") :]
    section = section[: section.index("\n## ")]
    rows = set()
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`roles/"):
            rows.add((cells[0], cells[1].strip("`"), cells[2]))
    return rows


def code_rows() -> set[tuple[str, str, str]]:
    rows = set()
    for identity, always, with_vms in (
        ("CI deployer `deployer-ci`", roles.CI_ROLES, roles.CI_VM_ROLES),
        ("build account `deployer-build`", roles.BUILD_ACCOUNT_ROLES, ()),
        ("runtime account `deployer-runtime`", roles.RUNTIME_ACCOUNT_ROLES, roles.RUNTIME_ACCOUNT_VM_ROLES),
        ("team member (`--member`)", roles.DEVELOPER_ROLES, roles.DEVELOPER_VM_ROLES),
    ):
        rows |= {(identity, grant.role, "project") for grant in always}
        rows |= {(identity, grant.role, "project (with `[vms]`)") for grant in with_vms}
    rows.add(("runtime and build accounts", roles.SERVICE_ACCOUNT_USER, "on each account"))
    rows.add(("CI deployer `deployer-ci`", roles.WORKLOAD_IDENTITY_USER, "on the account"))
    return rows


def test_the_readme_iam_table_is_the_code() -> None:
    assert readme_rows() == code_rows()


def test_the_readme_names_each_identity_by_the_code_s_account_ids() -> None:
    text = README.read_text(encoding="utf-8")
    for account_id in roles.ACCOUNT_IDS:
        assert re.search(rf"\*\*[A-Za-z ]+\*\* \(`{account_id}`\)", text), account_id
