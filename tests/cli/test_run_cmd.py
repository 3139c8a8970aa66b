"""`deployer deploy JOB` and `deployer run JOB` against a real emulator; the container tier really runs the tasks.

The job is the seed course's shape: an argparse script behind ``ENTRYPOINT ["python"]`` with default arguments in
``CMD``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer_emulator.testing import EmulatorHandle

REGION = "europe-west4"
SCRIPT = """import argparse, sys
parser = argparse.ArgumentParser()
parser.add_argument("--arg1", default="none")
parser.add_argument("--lr", default="-")
parser.add_argument("--bs", default="-")
parser.add_argument("--fail", type=int, default=0)
args = parser.parse_args()
print(f"arg1={args.arg1} lr={args.lr} bs={args.bs}", flush=True)
sys.exit(args.fail)
"""


def make_job(directory: Path, extra: str = "") -> str:
    project = f"jobs-{uuid.uuid4().hex[:10]}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(
        "FROM python:3.12-slim\nCOPY main.py /main.py\nWORKDIR /\n"
        'ENTRYPOINT ["python"]\nCMD ["main.py", "--arg1", "a"]\n'
    )
    (directory / "main.py").write_text(SCRIPT)
    toml = [f'project = "{project}"', f'region = "{REGION}"', "[jobs.train]", "max_retries = 0", extra]
    (directory / "deployer.toml").write_text("\n".join(toml))
    return project


def invoke(emulator: EmulatorHandle, *args: str) -> Any:
    env = {"DEPLOYER_EMULATOR_URL": emulator.url, "NO_COLOR": "1", "CI": "1"}
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def jobs_client(emulator: EmulatorHandle) -> run_v2.JobsClient:
    return run_v2.JobsClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )


def test_deploy_creates_the_job_and_an_unchanged_deploy_mutates_nothing(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    project = make_job(tmp_path / "job", 'tasks = 4\nparallelism = 2\ntimeout = "2h"\n')
    first = invoke(emulator, "deploy", "train", "-C", str(tmp_path / "job"), "--json")
    assert first.exit_code == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["job"] == "train"
    assert doc["changed"] is True
    job = jobs_client(emulator).get_job(name=f"projects/{project}/locations/{REGION}/jobs/train")
    assert (job.template.task_count, job.template.parallelism) == (4, 2)
    assert job.template.template.timeout.seconds == 7200
    assert job.template.template.max_retries == 0
    assert job.labels["managed-by"] == "deployer"
    assert job.execution_count == 0  # deploy runs nothing
    emulator.mark()
    second = invoke(emulator, "deploy", "train", "-C", str(tmp_path / "job"), "--json")
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout)["changed"] is False
    assert emulator.mutating_requests() == []


def test_a_config_change_updates_the_job(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "job"
    project = make_job(directory)
    assert invoke(emulator, "deploy", "train", "-C", str(directory)).exit_code == 0
    (directory / "deployer.toml").write_text((directory / "deployer.toml").read_text() + "\ntasks = 3\n")
    emulator.mark()
    result = invoke(emulator, "deploy", "train", "-C", str(directory))
    assert result.exit_code == 0, result.stderr
    mutating = [f"{r['method']} {r['path']}" for r in emulator.mutating_requests()]
    assert mutating == [f"PATCH /v2/projects/{project}/locations/{REGION}/jobs/train"]


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ("tasks = 10001\n", "jobs.train.tasks = 10001"),
        ("max_retries = 11\n", "must be at most 10"),
        ('timeout = "169h"\n', "jobs.train.timeout"),
        ("tasks = 2\nparallelism = 3\n", "parallelism = 3 is more than tasks = 2"),
    ],
)
def test_bad_job_config_exits_2_and_sends_nothing(
    emulator: EmulatorHandle, tmp_path: Path, toml: str, words: str
) -> None:
    directory = tmp_path / "job"
    make_job(directory)
    text = (directory / "deployer.toml").read_text().replace("max_retries = 0\n", "") + "\n"
    (directory / "deployer.toml").write_text(text + toml)
    emulator.mark()
    result = invoke(emulator, "run", "train", "-C", str(directory))
    assert result.exit_code == 2
    assert "deployer.toml" in result.stderr
    assert words in result.stderr
    assert emulator.requests() == []


def test_a_bad_sweep_exits_2_before_anything_is_sent(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "job"
    make_job(directory)
    emulator.mark()
    result = invoke(emulator, "run", "train", "-C", str(directory), "--sweep", "lr")
    assert result.exit_code == 2
    assert "--sweep" in result.stderr
    assert emulator.requests() == []


@pytest.mark.containers
def test_run_args_sweep_and_failure_through_the_engine(engine_emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "job"
    make_job(directory, 'sweep_args = ["main.py", "--lr", "{lr}", "--bs", "{bs}"]\n')

    ran = invoke(engine_emulator, "run", "train", "-C", str(directory), "--args", "main.py --arg1 x")
    assert ran.exit_code == 0, ran.stderr
    assert "arg1=x lr=- bs=-" in ran.stdout
    assert "1/1 tasks succeeded" in ran.stdout

    sweep = invoke(
        engine_emulator, "run", "train", "-C", str(directory), "--sweep", "lr=0.1,0.01", "--sweep", "bs=32,64",
        "--max-parallel", "2", "--json",
    )  # fmt: skip
    assert sweep.exit_code == 0, sweep.stderr
    doc = json.loads(sweep.stdout)
    points = sorted((p["point"]["lr"], p["point"]["bs"]) for p in doc["points"])
    assert points == [("0.01", "32"), ("0.01", "64"), ("0.1", "32"), ("0.1", "64")]
    assert len({p["execution"] for p in doc["points"]}) == 4
    assert all(p["status"] == "succeeded" for p in doc["points"])
    logs = invoke(engine_emulator, "logs", "train", "-C", str(directory))
    assert logs.exit_code == 0, logs.stderr
    outputs = {line for line in logs.stdout.splitlines() if line.startswith("arg1=none lr=0")}
    assert outputs == {f"arg1=none lr={lr} bs={bs}" for lr, bs in points}

    again = invoke(engine_emulator, "run", "train", "-C", str(directory), "--sweep", "lr=0.1,0.01", "--sweep",
                   "bs=32,64", "--resume")  # fmt: skip
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines()[0].split()[:4] == ["point", "execution", "status", "duration"]
    assert again.stdout.count("succeeded (earlier)") == 4

    failed = invoke(engine_emulator, "run", "train", "-C", str(directory), "--args", "main.py --arg1 bad --fail 3")
    assert failed.exit_code == 1
    assert "task 0 failed (exit code 3)" in failed.stdout
    assert "| arg1=bad lr=- bs=-" in failed.stdout


def test_status_of_a_job_lists_its_last_executions(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "job"
    make_job(directory)
    before = invoke(emulator, "status", "train", "-C", str(directory))
    assert before.exit_code == 0
    assert "not deployed" in before.stdout
    assert invoke(emulator, "deploy", "train", "-C", str(directory)).exit_code == 0
    # No engine here: the task cannot run, and the execution says so as a failure.
    failed = invoke(emulator, "run", "train", "-C", str(directory), "--json")
    assert failed.exit_code == 1
    run_doc = json.loads(failed.stdout)
    assert run_doc["status"] == "failed"
    assert "no container engine" in run_doc["failed_tasks"][0]["message"]
    status = invoke(emulator, "status", "train", "-C", str(directory), "--json")
    assert status.exit_code == 0
    doc = json.loads(status.stdout)
    assert doc["exists"] is True
    assert [e["execution"] for e in doc["executions"]] == [run_doc["execution"]]
    assert doc["executions"][0]["status"] == "failed"


@pytest.mark.gcp
def test_live_deploy_run_and_logs_of_googles_sample_job(tmp_path: Path) -> None:
    """Against a real project (DEPLOYER_LIVE_PROJECT, DEPLOYER_LIVE_REGION, Application Default Credentials):
    Google's public sample job image, deployed, run with an override, its logs read back, then deleted."""
    import os

    from deployer.gcp import GoogleCloud

    project = os.environ["DEPLOYER_LIVE_PROJECT"]
    region = os.environ.get("DEPLOYER_LIVE_REGION", "europe-west4")
    name = f"deployer-live-{uuid.uuid4().hex[:6]}"
    directory = tmp_path / "live"
    directory.mkdir()
    (directory / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "{region}"\n[jobs.{name}]\n'
        'image = "us-docker.pkg.dev/cloudrun/container/job:latest"\ntasks = 2\nmax_retries = 0\n'
    )
    runner = CliRunner()
    try:
        ran = runner.invoke(app, ["run", name, "-C", str(directory), "--env", "SLEEP_MS=1000", "--json"])
        assert ran.exit_code == 0, ran.stderr
        assert json.loads(ran.stdout)["succeeded"] == 2
        status = runner.invoke(app, ["status", name, "-C", str(directory), "--json"])
        assert json.loads(status.stdout)["executions"][0]["status"] == "succeeded"
    finally:
        GoogleCloud().run_jobs.delete_job(f"projects/{project}/locations/{region}/jobs/{name}")


@pytest.mark.containers
def test_the_batch_job_template_splits_its_items_between_tasks(engine_emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "batch"
    directory.mkdir()
    project = f"batch-{uuid.uuid4().hex[:8]}"
    made = invoke(
        engine_emulator, "init", "-C", str(directory), "--template", "batch-job", "--service", "etl",
        "--project", project, "--region", REGION,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    ran = invoke(engine_emulator, "run", "etl", "-C", str(directory), "--args", "--count 6 --message hi", "--json")
    assert ran.exit_code == 0, ran.stderr
    doc = json.loads(ran.stdout)
    assert (doc["task_count"], doc["succeeded"]) == (4, 4)  # tasks = 4 in the template's deployer.toml
    logs = invoke(engine_emulator, "logs", "etl", "-C", str(directory), "--execution", doc["execution"], "--json")
    summaries = [
        json.loads(line["text"])["summary"] for line in json.loads(logs.stdout)["lines"] if "summary" in line["text"]
    ]
    assert sorted((s["task"], s["tasks"], s["processed"]) for s in summaries) == [
        (0, 4, 2),
        (1, 4, 2),
        (2, 4, 1),
        (3, 4, 1),
    ]


def test_no_wait_starts_one_execution_with_the_overrides(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "job"
    project = make_job(directory)
    result = invoke(
        emulator, "run", "train", "-C", str(directory), "--no-wait", "--json", "--tasks", "3", "--timeout", "1h",
        "--env", "MODE=fast", "--args", "main.py --arg1 z",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    started = json.loads(result.stdout)
    assert started["status"] == "running"
    executions = run_v2.ExecutionsClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    parent = f"projects/{project}/locations/{REGION}/jobs/train"
    (execution,) = executions.list_executions(parent=parent)
    assert execution.name == f"{parent}/executions/{started['execution']}"
    assert execution.task_count == 3
    assert execution.template.timeout.seconds == 3600
    container = execution.template.containers[0]
    assert list(container.args) == ["main.py", "--arg1", "z"]
    assert {e.name: e.value for e in container.env} == {"MODE": "fast"}
