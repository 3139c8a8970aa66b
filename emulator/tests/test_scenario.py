"""Scenario files (scenario.py): checked before anything starts, TOML like JSON, the documented example."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deployer_emulator import scenario as scenarios

ALICE = "user:alice@example.com"


def _emulator_program(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m deployer_emulator`` with ``args``, as a user starts it."""
    return subprocess.run(
        [sys.executable, "-m", "deployer_emulator", *args], capture_output=True, text=True, timeout=60, check=False
    )


# -- scenario files ------------------------------------------------------------------------------------------
def test_scenario_files_are_checked_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "scenario.json"
    bad.write_text(json.dumps({"projects": [{"id": "ok-project", "servces": []}]}))
    answer = _emulator_program("--scenario", str(bad), "--quiet")
    assert answer.returncode == 2
    assert "projects[0].servces: unknown key" in answer.stderr
    missing = _emulator_program("--scenario", str(tmp_path / "none.toml"))
    assert missing.returncode == 2
    assert "none.toml: cannot read the scenario file: no such file" in missing.stderr


def test_a_toml_scenario_reads_like_the_json_one(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(
        "[settings]\nservice_enable_delay_s = 1.5\n\n"
        '[[billing_accounts]]\nid = "0F0F0F-0F0F0F-0F0F0F"\nproject_limit = 3\n\n'
        '[[projects]]\nid = "toml-project"\nbilling_account = "0F0F0F-0F0F0F-0F0F0F"\n'
        'services = ["run.googleapis.com"]\n[projects.iam]\n"roles/owner" = ["user:alice@example.com"]\n'
    )
    scenario = scenarios.load_scenario(path)
    assert scenario["projects"][0]["iam"] == {"roles/owner": [ALICE]}
    assert scenario["settings"] == {"service_enable_delay_s": 1.5}
    path.write_text('[[projects]]\nid = "Bad_Id"\n')
    with pytest.raises(scenarios.ScenarioError, match=r"projects\[0\]\.id = 'Bad_Id'"):
        scenarios.load_scenario(path)


def test_the_documented_scenario_example_is_valid(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = text.split("### Scenario files", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "documented.toml"
    path.write_text(example)
    scenario = scenarios.load_scenario(path)
    assert scenario["projects"][0]["service_accounts"][0]["id"] == "deploy"
    assert scenario["billing_accounts"][0]["project_limit"] == 5


@pytest.mark.parametrize(
    ("bucket", "message"),
    [
        ({"name": "Has_Capitals"}, r"projects\[0\]\.buckets\[0\]\.name = 'Has_Capitals'"),
        ({"name": "ok-name", "region": "US"}, r"projects\[0\]\.buckets\[0\]"),
    ],
)
def test_a_projects_buckets_are_checked(bucket: dict[str, str], message: str) -> None:
    with pytest.raises(scenarios.ScenarioError, match=message):
        scenarios.validate_scenario({"projects": [{"id": "owner-proj", "buckets": [bucket]}]})
