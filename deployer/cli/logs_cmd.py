"""``deployer logs NAME``: a Cloud Run job's or service's logs, from Cloud Logging."""

from __future__ import annotations

import typer

from deployer.cli import common


@common.shared_options(repository=False, run=False)
def logs(
    name: str = typer.Argument(
        None, help="Which [jobs.NAME] or [services.NAME] (default: the only one).", metavar="NAME"
    ),
    opts: common.Shared = common.DEFAULTS,
    execution: str = typer.Option("", "--execution", help="Only this execution of a job (e.g. train-x7k2p)."),
    task: int = typer.Option(None, "--task", callback=common.at_least(0, "task index"), help="Only this task index."),
    since: str = typer.Option("", "--since", help="Only lines newer than this, e.g. 1h or 30m."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines (with backoff) until Ctrl-C."),
) -> None:
    """Print the log lines a Cloud Run job's tasks or a service's containers wrote, oldest first."""
    from deployer.cli.output import emit_json, out
    from deployer.errors import BadInput
    from deployer.gcp import GoogleCloud
    from deployer.services.logs import log_filter, read_logs, since_timestamp

    config = opts.load()
    target, kind, _ = config.target(name)
    if kind == "vm":
        raise BadInput(f"{target} is a VM: its logs are on its serial console", f"deployer status {target}")
    project, region = config.require_project(), config.require_region()
    text = log_filter(
        kind, target, region, execution=execution, task=task, since=since_timestamp(since) if since else ""
    )
    lines = read_logs(GoogleCloud(), project, text, follow=follow and not opts.as_json)
    if opts.as_json:
        emit_json(
            {
                "name": target,
                "filter": text,
                "lines": [
                    {
                        "timestamp": line.timestamp,
                        "text": line.text,
                        "execution": line.execution,
                        "task": line.task_index,
                    }
                    for line in lines
                ],
            }
        )
        return
    for line in lines:
        out(line.text)
