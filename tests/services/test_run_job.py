"""Pure tier: following an execution past 15 minutes, and the sweep grid; the cloud is a stand-in here because a
real wait of that length is what the test avoids (the emulator runs the same code in tests/cli/test_run_cmd.py)."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.config.job import JobConfig
from deployer.errors import BadInput
from deployer.reporter import SilentReporter
from deployer.services.run_job import SWEEP_POINT_ENV, JobRunner, grid, parse_sweep, point_overrides

EXECUTION = "projects/p/locations/r/jobs/train/executions/train-abcde"


class _Jobs:
    """Answers ``get_execution`` with a running execution ``polls`` times, then a finished one."""

    def __init__(self, polls: int) -> None:
        self.left = polls
        self.reads = 0

    def get_execution(self, name: str) -> dict[str, Any]:
        self.reads += 1
        self.left -= 1
        doc: dict[str, Any] = {"name": name, "taskCount": 1, "createTime": "2026-01-01T00:00:00Z"}
        if self.left > 0:
            return {**doc, "runningCount": 1}
        return {**doc, "succeededCount": 1, "completionTime": "2026-01-01T06:00:00Z"}


class _Cloud:
    def __init__(self, jobs: _Jobs) -> None:
        self.run_jobs = jobs


def test_a_six_hour_execution_is_followed_to_its_end() -> None:
    jobs = _Jobs(polls=10_800)  # six hours of 2-second polls: far past the client's 15-minute default
    slept: list[float] = []
    runner = JobRunner(_Cloud(jobs), SilentReporter(), project="p", region="r", job="train", sleep=slept.append)  # type: ignore[arg-type]
    outcome = runner.follow({"name": EXECUTION, "logUri": ""})
    assert outcome.ok
    assert jobs.reads == 10_800
    assert sum(slept) == pytest.approx(2.0 * 10_799)
    assert outcome.duration_s == 6 * 3600


def test_the_grid_and_its_overrides() -> None:
    axes = parse_sweep(["lr=0.1,0.01", "bs=32,64"])
    points = grid(axes)
    assert len(points) == 4
    with_template = JobConfig(sweep_args=("--lr", "{lr}", "--bs", "{bs}"))
    assert point_overrides(with_template, points[0]) == (
        ["--lr", "0.1", "--bs", "32"],
        {SWEEP_POINT_ENV: "lr=0.1,bs=32"},
    )
    assert point_overrides(JobConfig(), points[0]) == (None, {SWEEP_POINT_ENV: "lr=0.1,bs=32", "LR": "0.1", "BS": "32"})


@pytest.mark.parametrize("given", [["lr"], ["lr="], ["1x=3"], ["lr=1", "lr=2"]])
def test_bad_sweeps_are_refused(given: list[str]) -> None:
    with pytest.raises(BadInput):
        parse_sweep(given)


def test_a_template_that_does_not_match_the_sweep_is_refused() -> None:
    with pytest.raises(BadInput, match="sweep_args"):
        point_overrides(JobConfig(sweep_args=("--lr", "{lr}")), {"lr": "1", "bs": "2"})


def test_following_logs_backs_off_while_nothing_arrives() -> None:
    from deployer.gcp.logging import LogLine
    from deployer.services.logs import MAX_WAIT_S, read_logs

    batches = [[LogLine("t", "1", "first", "", "", "")], [], [], [], [], [], [], []]

    class _Logging:
        def read(self, log_filter: str) -> list[LogLine]:
            if not batches:
                raise KeyboardInterrupt
            return batches.pop(0)

    class _Cloud:
        def logging(self, project: str) -> _Logging:
            return _Logging()

    waits: list[float] = []
    lines = read_logs(_Cloud(), "p", "f", follow=True, sleep=waits.append)  # type: ignore[arg-type]
    seen: list[str] = []
    with pytest.raises(KeyboardInterrupt):  # the stand-in's way to stop the endless follow
        seen.extend(line.text for line in lines)
    assert seen == ["first"]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, MAX_WAIT_S, MAX_WAIT_S, MAX_WAIT_S]
