"""``deployer run JOB``: deploy if needed, start an execution (or a sweep of them), follow it, exit by its result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from deployer.cli import common

if TYPE_CHECKING:
    from deployer.services.run_job import ExecutionOutcome


@common.shared_options(run=False)
def run(
    name: str = typer.Argument(None, help="Which [jobs.NAME] to run (default: the only target).", metavar="JOB"),
    opts: common.Shared = common.DEFAULTS,
    args: str = typer.Option(
        None, "--args", help='Replace the job\'s arguments for this execution, e.g. "main.py --arg1 x".'
    ),
    env: list[str] = typer.Option([], "--env", help="K=V merged into the job's env for this execution (repeatable)."),
    tasks: int = typer.Option(None, "--tasks", callback=common.at_least(1, "tasks"), help="Tasks for this execution."),
    timeout: str = typer.Option(None, "--timeout", help='Per-task timeout for this execution, e.g. "2h".'),
    no_wait: bool = typer.Option(False, "--no-wait", help="Start the execution and return without following it."),
    sweep: list[str] = typer.Option([], "--sweep", help="NAME=V1,V2: one execution per grid point (repeatable)."),
    max_parallel: int = typer.Option(
        4, "--max-parallel", callback=common.at_least(1, "executions"), help="Sweep executions running at once."
    ),
    resume: bool = typer.Option(False, "--resume", help="Skip the sweep points whose execution succeeded before."),
) -> None:
    """Deploy the job if it changed, start one execution with these overrides, stream its logs and exit 0 when
    every task succeeded (1 otherwise, with the failed tasks' exit codes and last log lines). With --sweep, one
    execution per point of the grid and a table of them. Follows executions for as long as they run."""
    import shlex
    import sys

    from deployer.cli import flow
    from deployer.cli.output import emit_json, out
    from deployer.config.checks import parse_duration
    from deployer.config.job import MAX_TASK_TIMEOUT_S
    from deployer.errors import BadInput
    from deployer.gcp import GoogleCloud
    from deployer.services.run_job import JobRunner, parse_sweep, run_sweep
    from deployer.services.targets import DeployRequest, planned_deploy, target_for

    config = opts.load()
    target = target_for(config, name)
    if target.label != "Job":
        raise BadInput(f"{target.name} is not a [jobs] table: `deployer run` runs Cloud Run jobs", "name a [jobs.NAME]")
    overrides_env: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f'--env "{item}": give KEY=VALUE', "e.g. --env MODE=fast")
        overrides_env[key] = value
    timeout_s = None
    if timeout is not None:
        try:
            timeout_s = parse_duration(timeout, low=1, high=MAX_TASK_TIMEOUT_S)
        except ValueError as exc:
            raise BadInput(f'--timeout "{timeout}": {exc}', "e.g. --timeout 30m or --timeout 2h") from None
    axes = parse_sweep(sweep)
    if axes and args is not None:
        raise BadInput("--args and --sweep together: a sweep makes each point's arguments", "use one of them")
    arg_list = shlex.split(args) if args is not None else None
    reporter = opts.reporter()
    cloud = GoogleCloud()
    flow.run(planned_deploy(cloud, reporter, target, DeployRequest()), flow.Flags(yes=True), render=lambda _: None)
    job = config.jobs[target.name]
    runner = JobRunner(
        cloud, reporter, project=config.require_project(), region=config.require_region(), job=target.name
    )
    if axes:
        outcomes = run_sweep(
            runner, job, axes, max_parallel=max_parallel, resume=resume, tasks=tasks, timeout_s=timeout_s
        )
        if opts.as_json:
            emit_json(
                {"job": target.name, "ok": all(o.ok for o in outcomes), "points": [o.to_json() for o in outcomes]}
            )
        else:
            _table(outcomes)
        if not all(o.ok for o in outcomes):
            raise typer.Exit(1)
        return
    execution = runner.start(args=arg_list, env=overrides_env, tasks=tasks, timeout_s=timeout_s)
    if no_wait:
        short = str(execution["name"]).rsplit("/", 1)[-1]
        if opts.as_json:
            emit_json({"job": target.name, "execution": short, "status": "running", "log_uri": execution.get("logUri")})
        else:
            out(f"Execution {short} started: {execution.get('logUri', '')}")
        return
    stream = sys.stderr if opts.as_json else sys.stdout
    outcome = runner.follow(execution, on_log=lambda line: out(line.text, stream=stream))
    if opts.as_json:
        emit_json({"job": target.name, **outcome.to_json()})
    else:
        _explain(outcome)
    if not outcome.ok:
        raise typer.Exit(1)


def _explain(outcome: ExecutionOutcome) -> None:
    from deployer.cli.output import out

    out(
        f"Execution {outcome.execution}: {outcome.status} ({outcome.succeeded}/{outcome.task_count} tasks succeeded"
        + (f", {outcome.duration_s}s)" if outcome.duration_s is not None else ")")
    )
    for failure in outcome.failures:
        code = f"exit code {failure.exit_code}" if failure.exit_code is not None else "no exit code"
        out(f"  task {failure.index} failed ({code}): {failure.message}")
        for line in failure.last_lines:
            out(f"    | {line}")


def _table(outcomes: list[ExecutionOutcome]) -> None:
    from deployer.cli.output import out
    from deployer.services.run_job import point_text

    rows = [("point", "execution", "status", "duration", "log")]
    for o in outcomes:
        duration = f"{o.duration_s}s" if o.duration_s is not None else "-"
        status = "succeeded (earlier)" if o.skipped else o.status
        rows.append((point_text(o.point), o.execution or "-", status, duration, o.log_uri or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        out("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
