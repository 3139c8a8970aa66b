"""Pure tier: every GitHub Actions workflow the repository ships or `deployer init --github` generates.

Each is validated against GitHub's published schemas as check-jsonschema vendors them (offline), and every
``${{ }}`` expression (and every bare ``if:``) may name only contexts that exist, inputs that are declared, step ids
defined earlier in the same job, and jobs listed in ``needs``. Both checks are shown to fail on broken fixtures.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer import __version__
from deployer.services.init import TEMPLATES, render_workflow

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = REPO_ROOT / "action.yml"

CONTEXTS = {
    "github",
    "env",
    "vars",
    "secrets",
    "inputs",
    "steps",
    "needs",
    "matrix",
    "runner",
    "job",
    "strategy",
    "jobs",
}
# GitHub's expression functions; their names are case-insensitive (toJSON and toJson both work).
FUNCTIONS = {
    "contains",
    "startswith",
    "endswith",
    "format",
    "join",
    "tojson",
    "fromjson",
    "hashfiles",
    "success",
    "always",
    "cancelled",
    "failure",
}
LITERALS = {"true", "false", "null"}
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_STRING = re.compile(r"'(?:[^']|'')*'")
# A root name and the property path after it: inputs.python-version, steps.deploy.outputs.url, github.event.x
_REFERENCE = re.compile(r"(?<![\w.\-])([A-Za-z_][\w-]*)((?:\.[\w-]+|\.\*|\[[^\]]*\])*)(\s*\()?")
_NUMBER = re.compile(r"^\d")


def _yaml(path: Path) -> dict[str, Any]:
    # `on:` is YAML 1.1's boolean True to PyYAML; GitHub reads it as the key "on".
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def generated_workflows(tmp_path: Path) -> list[Path]:
    paths = []
    for template in TEMPLATES.values():
        path = tmp_path / f"generated-{template.name}.yml"
        path.write_text(render_workflow(template, "api", "main"))
        paths.append(path)
    return paths


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("check-jsonschema")
    if binary is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    return subprocess.run(
        [binary, "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120, check=False
    )


# --- the expression check --------------------------------------------------------------------------------------------


def expressions(value: Any, key: str = "") -> list[str]:
    """Every expression in a YAML value: the insides of ``${{ }}``, and the text of a bare ``if:``."""
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in expressions(v, str(k))]
    if isinstance(value, list):
        return [e for item in value for e in expressions(item, key)]
    if isinstance(value, str):
        found = [m.group(1) for m in _EXPRESSION.finditer(value)]
        if key == "if" and not found:
            found = [value]
        return found
    return []


def reference_problems(
    expression: str, *, inputs: set[str], steps: set[str], needs: set[str], jobs: set[str]
) -> list[str]:
    problems = []
    code = _STRING.sub("''", expression)
    for match in _REFERENCE.finditer(code):
        root, path, call = match.group(1), match.group(2), match.group(3)
        if call:
            if root.lower() not in FUNCTIONS:
                problems.append(f"unknown function {root}() in {expression.strip()!r}")
            continue
        if root in LITERALS or _NUMBER.match(root):
            continue
        if root not in CONTEXTS:
            problems.append(f"unknown context {root!r} in {expression.strip()!r}")
            continue
        first = path.split(".")[1] if path.startswith(".") and len(path.split(".")) > 1 else ""
        declared = {"inputs": inputs, "steps": steps, "needs": needs, "jobs": jobs}.get(root)
        if declared is not None and first and first not in declared:
            problems.append(f"{root}.{first} is not declared in {expression.strip()!r}")
    return problems


def workflow_problems(doc: dict[str, Any]) -> list[str]:
    """Names in expressions that do not exist, for a workflow or an action."""
    problems: list[str] = []
    on = doc.get("on") or {}
    if "runs" in doc:  # an action
        inputs = set((doc.get("inputs") or {}).keys())
        steps_seen: set[str] = set()
        for step in doc["runs"].get("steps", []):
            for expression in expressions(step):
                problems += reference_problems(expression, inputs=inputs, steps=steps_seen, needs=set(), jobs=set())
            if "id" in step:
                steps_seen.add(step["id"])
        for expression in expressions(doc.get("outputs") or {}):
            problems += reference_problems(expression, inputs=inputs, steps=steps_seen, needs=set(), jobs=set())
        return problems
    inputs = set()
    if isinstance(on, dict):
        for trigger in ("workflow_call", "workflow_dispatch"):
            inputs |= set(((on.get(trigger) or {}).get("inputs") or {}).keys())
    job_ids = set(doc.get("jobs", {}))
    top = {key: value for key, value in doc.items() if key != "jobs"}
    for expression in expressions(top):
        problems += reference_problems(expression, inputs=inputs, steps=set(), needs=set(), jobs=job_ids)
    for job in doc.get("jobs", {}).values():
        needs = job.get("needs", [])
        needs = {needs} if isinstance(needs, str) else set(needs)
        steps_seen = set()
        for step in job.get("steps", []):
            for expression in expressions(step):
                problems += reference_problems(expression, inputs=inputs, steps=steps_seen, needs=needs, jobs=set())
            if "id" in step:
                steps_seen.add(step["id"])
        job_level = {key: value for key, value in job.items() if key != "steps"}
        all_steps = {step["id"] for step in job.get("steps", []) if "id" in step}
        for expression in expressions(job_level):
            problems += reference_problems(expression, inputs=inputs, steps=all_steps, needs=needs, jobs=set())
    return problems


# --- the shipped and generated files ----------------------------------------------------------------------------------


def test_the_repository_ships_ci_a_reusable_deploy_workflow_and_an_action() -> None:
    assert {p.name for p in SHIPPED_WORKFLOWS} >= {"ci.yml", "deploy.yml"}
    assert ACTION.is_file()


@pytest.mark.parametrize("path", SHIPPED_WORKFLOWS, ids=lambda p: p.name)
def test_shipped_workflow_passes_githubs_schema(path: Path) -> None:
    result = check_jsonschema("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_passes_githubs_schema() -> None:
    result = check_jsonschema("vendor.github-actions", ACTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_workflows_pass_githubs_schema(tmp_path: Path) -> None:
    for path in generated_workflows(tmp_path):
        result = check_jsonschema("vendor.github-workflows", path)
        assert result.returncode == 0, f"{path.name}: {result.stdout}{result.stderr}"


def test_every_expression_names_only_what_exists(tmp_path: Path) -> None:
    for path in [*SHIPPED_WORKFLOWS, ACTION, *generated_workflows(tmp_path)]:
        doc = _yaml(path)
        assert expressions(doc), f"{path.name} has no expressions: the check would prove nothing"
        assert workflow_problems(doc) == [], path.name


def test_the_schema_check_fails_on_a_misspelt_permission_scope(tmp_path: Path) -> None:
    good = generated_workflows(tmp_path)[0]
    bad = tmp_path / "misspelt.yml"
    bad.write_text(good.read_text().replace("id-token: write", "id-tokens: write", 1))
    assert "id-tokens: write" in bad.read_text()
    result = check_jsonschema("vendor.github-workflows", bad)
    assert result.returncode != 0
    assert "id-tokens" in result.stdout


def test_the_expression_check_fails_on_unknown_names() -> None:
    doc = {
        "on": {"workflow_call": {"inputs": {"service": {"type": "string"}}}},
        "jobs": {
            "deploy": {
                "if": "github.event_name == 'push' && secret.TOKEN",
                "steps": [
                    {"run": "echo ${{ inputs.servise }} ${{ inputs.service }}"},
                    {"id": "late", "run": "echo ${{ steps.late.outputs.url }} ${{ steps.missing.outputs.url }}"},
                    {
                        "run": "echo ${{ toJson(github) }} ${{ vars.GCP_PROJECT }} ${{ format('{0}', 'a.b c') }} "
                        "${{ tojsn(env) }}"
                    },
                ],
            }
        },
    }
    problems = workflow_problems(doc)
    assert any("'secret'" in p for p in problems)
    assert any("inputs.servise" in p for p in problems)
    assert any("steps.late" in p for p in problems)  # a step may only read steps before it
    assert any("steps.missing" in p for p in problems)
    assert any("tojsn()" in p for p in problems)
    assert len(problems) == 5, problems


# --- what the generated workflow does -------------------------------------------------------------------------------


def test_generated_service_workflow_is_keyless_least_privilege_and_previews_pull_requests(tmp_path: Path) -> None:
    path = generated_workflows(tmp_path)[0]
    text = path.read_text()
    doc = _yaml(path)
    assert set(doc["on"]) == {"push", "pull_request", "workflow_dispatch"}
    assert doc["on"]["push"]["branches"] == ["main"]
    assert doc["permissions"] == {}
    deploy, preview = doc["jobs"]["deploy"], doc["jobs"]["preview"]
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    for job in (deploy, preview):
        auth = next(step for step in job["steps"] if str(step.get("uses", "")).startswith("google-github-actions/auth"))
        assert auth["with"] == {
            "workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
            "service_account": "${{ vars.GCP_SERVICE_ACCOUNT }}",
        }
        assert "GITHUB_STEP_SUMMARY" in "".join(str(step.get("run", "")) for step in job["steps"])
    # Never a key: no credentials_json, no secrets at all.
    assert "credentials_json" not in text
    assert "secrets." not in text
    assert doc["env"]["DEPLOYER_PROJECT"] == "${{ vars.GCP_PROJECT }}"
    assert doc["env"]["DEPLOYER_REGION"] == "${{ vars.GCP_REGION }}"
    assert doc["env"]["DEPLOYER_VERSION"] == __version__
    runs = "\n".join(str(step.get("run", "")) for step in deploy["steps"])
    assert "deployer deploy api --yes --json" in runs
    preview_runs = "\n".join(str(step.get("run", "")) for step in preview["steps"])
    assert 'deployer deploy api --preview "$TAG" --yes --json' in preview_runs
    assert "pr-${{ github.event.pull_request.number }}" in text
    # The comment step runs after the deploy step and reads its output.
    comment = preview["steps"][-1]
    assert comment["uses"].startswith("actions/github-script@")
    assert comment["env"]["URL"] == "${{ steps.deploy.outputs.url }}"
    # Deploys of the same service do not race; previews are one per pull request.
    assert deploy["concurrency"] == {"group": "deployer-api", "cancel-in-progress": False}
    assert preview["concurrency"]["group"] == "deployer-api-pr-${{ github.event.pull_request.number }}"
    assert "github.event.repository.default_branch" in deploy["if"]
    assert "github.event_name == 'pull_request'" in preview["if"]


def test_a_closed_pull_request_removes_its_preview_tag_and_deploys_nothing(tmp_path: Path) -> None:
    doc = _yaml(generated_workflows(tmp_path)[0])
    assert "closed" in doc["on"]["pull_request"]["types"]
    steps = doc["jobs"]["preview"]["steps"]
    on_close = [s for s in steps if s.get("if") == "github.event.action == 'closed'"]
    assert [s["run"] for s in on_close] == ['deployer traffic api --untag "$TAG" --yes']
    assert on_close[0]["env"]["TAG"] == "pr-${{ github.event.pull_request.number }}"
    deploying = [
        s for s in steps if "deployer deploy" in str(s.get("run", "")) or "github-script" in str(s.get("uses"))
    ]
    assert len(deploying) == 2
    assert all(s.get("if") == "github.event.action != 'closed'" for s in deploying)


def test_generated_vm_workflow_deploys_the_default_branch_only(tmp_path: Path) -> None:
    paths = {path.name: path for path in generated_workflows(tmp_path)}
    doc = _yaml(paths["generated-batch-job.yml"])
    assert set(doc["on"]) == {"push", "workflow_dispatch"}
    assert set(doc["jobs"]) == {"deploy"}
    assert doc["jobs"]["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}


def test_ci_runs_the_same_command_as_ci_run() -> None:
    ci = _yaml(REPO_ROOT / ".github" / "workflows" / "ci.yml")
    runs = [step.get("run") for step in ci["jobs"]["test"]["steps"] if "run" in step]
    assert runs == ["bash .ci/run"]
    assert "bash tests/setup.sh && python3 -m pytest" in (REPO_ROOT / ".ci" / "run").read_text()


def test_reusable_workflow_and_action_deploy_with_deployer() -> None:
    reusable = _yaml(REPO_ROOT / ".github" / "workflows" / "deploy.yml")
    assert "workflow_call" in reusable["on"]
    assert {"service", "directory", "preview", "python-version"} <= set(reusable["on"]["workflow_call"]["inputs"])
    assert reusable["jobs"]["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}
    action = _yaml(ACTION)
    assert action["runs"]["using"] == "composite"
    for doc in (reusable, action):
        text = yaml.safe_dump(doc)
        assert "--yes --json" in text
        assert "GITHUB_STEP_SUMMARY" in text


def test_the_workflow_reads_the_variables_bootstrap_prints(tmp_path: Path) -> None:
    from deployer.services.bootstrap import GITHUB_VARIABLES

    for path in generated_workflows(tmp_path):
        used = set(re.findall(r"\bvars\.([A-Za-z_][A-Za-z0-9_]*)", path.read_text()))
        assert used == set(GITHUB_VARIABLES), path.name


def test_the_reusable_workflow_installs_this_version_by_name() -> None:
    inputs = _yaml(REPO_ROOT / ".github" / "workflows" / "deploy.yml")["on"]["workflow_call"]["inputs"]
    assert inputs["deployer-version"]["default"] == __version__
