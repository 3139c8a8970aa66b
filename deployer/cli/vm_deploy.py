"""``deployer deploy NAME`` when NAME is a [vms.NAME] table: the VM half of the deploy command.

Called by ``cli/deploy_cmd.py`` after it has found the target; flags mean the same as for a Cloud Run service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployer.cli import common

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig
    from deployer.config.vm import VmConfig


def deploy_vm(
    config: ResolvedConfig,
    name: str,
    vm: VmConfig,
    *,
    image: str | None,
    max_context_mb: int | None,
    allow_large_context: bool,
    allow_credential_files: tuple[str, ...],
    dry_run: bool,
    diff: bool,
    yes: bool,
    as_json: bool,
    verbose: bool,
) -> None:
    from deployer.cli.output import ConsoleReporter, emit_json, out, render_plan
    from deployer.gcp import GoogleCloud
    from deployer.services.deploy_vm import VmDeployer, duration_text, vm_build_inputs
    from deployer.services.predeploy import ready_to_deploy

    inputs = vm_build_inputs(config, name, vm, max_context_mb, allow_large_context, allow_credential_files)
    reporter = ConsoleReporter(verbose=verbose)
    cloud = GoogleCloud()
    console = cloud.target.console_url("compute/instances", inputs.project)
    reporter.info(f"Deploying VM {name} in {inputs.project}/{inputs.region}: {console}")
    with ready_to_deploy(cloud, config, name, inputs, image=image, lint_target="vm", reporter=reporter) as ready:
        deployer = VmDeployer(cloud, reporter)
        with deployer.planned(
            name,
            vm,
            project=ready.inputs.project,
            region=ready.inputs.region,
            build_inputs=None if image else ready.inputs,
            image=image,
            source=ready.source,
        ) as result:
            result.dry_run = dry_run
            common.review_and_apply(result.plan, dry_run=dry_run, diff=diff, yes=yes, as_json=as_json)
    if as_json:
        emit_json(result.to_json(with_requests=dry_run))
        return
    if dry_run:
        render_plan(result.plan.to_json(with_request=True), with_requests=True)
        return
    if not result.plan.changes:
        reporter.info(f"VM {name} is up to date: nothing changed")
    reporter.finished()
    shape = [result.machine_type]
    if result.gpu:
        shape.append(f"{result.gpu.count} {result.gpu.type}")
    if result.spot:
        shape.append("spot")
    if result.max_run_seconds:
        shape.append(f"stops after {duration_text(result.max_run_seconds)}")
    out(f"VM {name}: {result.external_ip or '(no external IP yet)'} ({result.status} in {result.zone})")
    out(f"  image:   {result.image}@{result.digest}")
    out(f"  machine: {', '.join(shape)}")
    if result.firewall:
        out(f"  ports:   {', '.join(str(p) for p in vm.ports)} open (firewall rule {result.firewall})")
    out(f"  status:  deployer status {name}")
