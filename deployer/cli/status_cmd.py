"""``deployer status``: what is running for a target, as Google reports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from deployer.cli import common

if TYPE_CHECKING:
    from deployer.gcp import GoogleCloud
    from deployer.services.vm_status import VmStatus


@common.shared_options(repository=False, run=False)
def status(
    name: str = typer.Argument(
        None, help="Which [vms.NAME], [services.NAME] or [jobs.NAME] (default: the only one).", metavar="NAME"
    ),
    lines: int = typer.Option(
        20, "--lines", "-n", min=0, help="How many lines of the VM's serial port output to show."
    ),
    opts: common.Shared = common.DEFAULTS,
) -> None:
    """Show a target's state. A VM: its state, external IP, machine and GPUs, the container's and the GPU driver's
    state as its serial console reports them, and the last lines of that output. A Cloud Run service: its URL,
    serving revision, condition, and the traffic split with each tag's URL. Sends only reads.
    """
    from deployer.cli.output import emit_json, out
    from deployer.gcp import GoogleCloud

    config = opts.load()
    target, kind, _ = config.target(name)
    project_id, region_id = config.require_project(), config.require_region()
    cloud = GoogleCloud()
    if kind == "job":
        _job_status(cloud, target, project_id, region_id, as_json=opts.as_json)
        return
    if kind == "service":
        from deployer.gcp.bodies.traffic import shares, split_text

        service = cloud.run.get_service(f"projects/{project_id}/locations/{region_id}/services/{target}")
        document = {
            "target": "service",
            "name": target,
            "project": project_id,
            "region": region_id,
            "exists": service is not None,
            "url": service.uri if service else "",
            "revision": service.latest_ready_revision if service else "",
            "condition": service.terminal_condition if service else {},
            "traffic": [share.to_json() for share in shares(service.doc)] if service else [],
        }
        if opts.as_json:
            emit_json(document)
            return
        if service is None:
            out(f"Service {target}: not deployed in {project_id}/{region_id}")
            return
        condition = service.terminal_condition
        out(f"Service {target}: {service.uri}")
        out(f"  revision:  {service.latest_ready_revision or '(none ready)'}")
        out(f"  condition: {condition.get('state', '?')} {condition.get('message', '')}".rstrip())
        out(f"  traffic:   {split_text(shares(service.doc))}")
        for share in shares(service.doc):
            if share.uri:
                out(f"    tag {share.tag}: {share.uri}")
        return

    from deployer.services.vm_status import vm_status

    result = vm_status(cloud, target, config.vms[target], project=project_id, region=region_id, lines=lines)
    if opts.as_json:
        emit_json(result.to_json())
        return
    _render_vm(result)


def _render_vm(result: VmStatus) -> None:
    from deployer.cli.output import out
    from deployer.services.deploy_vm import duration_text

    if not result.exists:
        out(
            f"VM {result.name}: not deployed in {result.project}/{result.region} (deploy it with `deployer deploy "
            f"{result.name}`)"
        )
        return
    gpus = ", ".join(f"{count} {gpu}" for gpu, count in result.gpus)
    machine = result.machine_type + (f", {gpus}" if gpus else "")
    if result.provisioning_model == "SPOT":
        machine += ", spot"
    if result.max_run_seconds:
        machine += f", stops after {duration_text(result.max_run_seconds)} of running"
    out(f"VM {result.name}: {result.status} in {result.zone}")
    out(f"  external IP: {result.external_ip or '(none)'}")
    out(f"  machine:     {machine}")
    out(f"  image:       {result.image or '(unknown)'}")
    if result.driver:
        out(f"  GPU driver:  {result.driver}")
    out(f"  container:   {result.container}")
    if result.firewall:
        ports = ", ".join(p for rule in result.firewall.get("allowed", []) for p in rule.get("ports", []))
        out(f"  firewall:    {result.firewall.get('name', '')} (TCP {ports})")
    if result.log:
        out(f"  last {len(result.log)} lines of the serial console:")
        for line in result.log:
            out(f"    | {line}")


def _job_status(cloud: GoogleCloud, name: str, project: str, region: str, *, as_json: bool) -> None:
    from deployer.cli.output import emit_json, out
    from deployer.services.run_job import job_status

    document = job_status(cloud, project, region, name)
    if as_json:
        emit_json(document)
        return
    if not document["exists"]:
        out(f"Job {name}: not deployed in {project}/{region} (deploy it with `deployer deploy {name}`)")
        return
    out(f"Job {name}: {document['image']} ({document['tasks']} tasks per execution)")
    if not document["executions"]:
        out("  no executions yet (start one with `deployer run`)")
    for execution in document["executions"]:
        took = f"{execution['duration_s']}s" if execution["duration_s"] is not None else "-"
        counts = f"{execution['succeeded']}/{execution['task_count']} succeeded, {execution['failed']} failed"
        out(f"  {execution['execution']}  {execution['status']:<9}  {counts}  {took}")
