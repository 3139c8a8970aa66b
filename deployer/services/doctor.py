"""``deployer doctor``: is this project ready for what deployer.toml describes, and if not, the exact fix.

Each check gives a Finding: what was checked, what was found, its severity (ok, warning, error) and the fix (a
deployer command where one exists). Checks read only. ``preflight_for_deploy`` runs the subset that matters for one
target, so ``deploy`` can stop before uploading anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.errors import ROLE_FOR_PERMISSION
from deployer.services import permissions, roles
from deployer.services.bootstrap import BUDGETS_API, needed_apis

if TYPE_CHECKING:
    from deployer.config import ResolvedConfig
    from deployer.config.job import JobConfig
    from deployer.config.service import ServiceConfig
    from deployer.config.vm import VmConfig


class Severity(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    check: str  # what was checked, e.g. "billing" or "permission run.services.create"
    severity: Severity
    found: str  # what was found, in words
    fix: str = ""  # the exact fix; empty when there is nothing to do

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity.value, "found": self.found, "fix": self.fix}


@dataclass
class DoctorReport:
    project: str
    region: str | None
    findings: list[Finding] = field(default_factory=list)
    # bootstrap's build and runtime accounts as found (None: absent, or IAM could not be asked)
    accounts: tuple[str | None, str | None] = (None, None)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "region": self.region,
            "ok": not self.errors,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.to_json() for f in self.findings],
        }


ACT_AS = permissions.ACT_AS
REPOSITORY_CREATE = "artifactregistry.repositories.create"
GPUS_ALL_REGIONS = "GPUS_ALL_REGIONS"  # the project-wide GPU quota (Compute Engine projects.get)

# The APIs a deploy calls: the build (upload, Cloud Build, Artifact Registry), then Cloud Run or Compute Engine.
DEPLOY_APIS = ("storage.googleapis.com", "cloudbuild.googleapis.com", "artifactregistry.googleapis.com")
RUN_API = "run.googleapis.com"
COMPUTE_API = "compute.googleapis.com"
WORKLOAD_IDENTITY_APIS = ("iamcredentials.googleapis.com", "sts.googleapis.com")


_KIND_WORDS = {"service": "service", "vm": "VM", "job": "job"}


@dataclass(frozen=True)
class _Target:
    """What one entry of deployer.toml needs: its kind, whether it is public, who it runs as, its GPU."""

    name: str
    kind: str  # "service" or "vm"
    public: bool = False
    service_account: str = ""
    vm: VmConfig | None = None
    ports: bool = False
    service: ServiceConfig | None = None
    job: JobConfig | None = None

    @property
    def options(self) -> tuple[str, ...]:
        return (*(["public"] if self.public else []), *(["ports"] if self.ports else []))

    def describe(self) -> str:
        return f"{_KIND_WORDS.get(self.kind, self.kind)} {self.name}" + (
            f" ({', '.join(self.options)})" if self.options else ""
        )


def _targets(config: ResolvedConfig, only: str | None = None) -> list[_Target]:
    found: list[_Target] = []
    for name, service in sorted(config.services.items()):
        found.append(_Target(name, "service", bool(service.public), service.service_account, service=service))
    for name, vm in sorted(config.vms.items()):
        found.append(_Target(name, "vm", False, vm.service_account, vm, bool(vm.ports)))
    for name, job in sorted(config.jobs.items()):
        found.append(_Target(name, "job", False, job.service_account, job=job))
    if only is not None:
        found = [t for t in found if t.name == only]
    return found


def _permissions_for(targets: list[_Target], *, repository_exists: bool) -> dict[str, list[str]]:
    """Each permission the targets' deploys need (the adapters' lists), with the targets that need it."""
    wanted: dict[str, list[str]] = {}
    for target in targets:
        needed = permissions.deploy_permissions(target.kind, *target.options, repository_exists=repository_exists)
        for permission in needed:
            wanted.setdefault(permission, []).append(target.describe())
    return wanted


class Doctor:
    """Runs the checks against one project. Each ``check_*`` appends findings and returns what later checks need."""

    def __init__(self, cloud: GoogleCloud, config: ResolvedConfig, project: str, region: str | None) -> None:
        self._cloud = cloud
        self._config = config
        self.report = DoctorReport(project, region)
        self.caller: str | None = None

    @property
    def project(self) -> str:
        return self.report.project

    def add(self, check: str, severity: Severity, found: str, fix: str = "") -> None:
        self.report.findings.append(Finding(check, severity, found, fix))

    def _bootstrap_fix(self, extra: str = "") -> str:
        return f"deployer bootstrap --project {self.project}{extra}"

    # -- credentials, project, billing, APIs ---------------------------------------------------------------------------
    def check_credentials(self) -> bool:
        clients = self._cloud.clients
        try:
            clients.credentials  # noqa: B018 - loading them is the check
        except DeployerError as exc:
            self.add("credentials", Severity.ERROR, exc.message, exc.hint or "")
            return False
        self.caller = clients.caller()
        where = "the emulator" if self._cloud.target.is_emulator else "Application Default Credentials"
        if self.caller is None:
            self.add(
                "credentials",
                Severity.WARNING,
                f"credentials found ({where}), but they do not say whose they are",
                "run `gcloud auth application-default login` to use your own account",
            )
        else:
            self.add("credentials", Severity.OK, f"{self.caller} ({where})")
        return True

    def check_project(self) -> str | None:
        """The project's number when it exists and is ACTIVE."""
        project = self._cloud.resource_manager.get_project(self.project)
        if project is None:
            self.add(
                "project",
                Severity.ERROR,
                f"project {self.project} does not exist, or {self.caller or 'the caller'} may not see it",
                self._bootstrap_fix(" --create --billing-account ACCOUNT_ID") + " (or ask for access to it)",
            )
            return None
        if not project.active:
            self.add(
                "project",
                Severity.ERROR,
                f"project {self.project} is {project.state} (deleted, waiting to be purged)",
                f"gcloud projects undelete {self.project}",
            )
            return None
        self.add("project", Severity.OK, f"{self.project} exists and is ACTIVE (number {project.number})")
        return project.number

    def check_billing(self) -> bool:
        try:
            info = self._cloud.billing.get_info(self.project)
        except DeployerError as exc:
            self.add("billing", Severity.WARNING, f"cannot read the project's billing: {exc.message}", exc.hint or "")
            return True
        if not info.enabled:
            account = self._config.bootstrap.billing_account or "ACCOUNT_ID"
            self.add(
                "billing",
                Severity.ERROR,
                "billing is not enabled: Cloud Build, Cloud Run and Compute Engine refuse to work",
                self._bootstrap_fix(f" --billing-account {account}"),
            )
            return False
        self.add("billing", Severity.OK, f"enabled (billing account {info.account})")
        return True

    def needed_apis(self, targets: list[_Target] | None = None) -> list[str]:
        """What bootstrap would enable for this config; for given targets, only what deploying them calls."""
        if targets is not None:
            apis = [*DEPLOY_APIS]
            for target in targets:
                apis.append(COMPUTE_API if target.kind == "vm" else RUN_API)
            return list(dict.fromkeys(apis))
        bootstrap = self._config.bootstrap
        # Token exchange and impersonation matter only to keyless GitHub Actions; the budget API is called on the
        # billing account's side, so its state on the project is nobody's problem here.
        unneeded = {BUDGETS_API, *([] if bootstrap.github else WORKLOAD_IDENTITY_APIS)}
        apis = needed_apis(
            vms=bool(self._config.vms), budget=bootstrap.budget is not None, extra=tuple(bootstrap.apis_extra)
        )
        return [api for api in apis if api not in unneeded]

    def check_apis(self, needed: list[str]) -> set[str]:
        """Every API enabled on the project (when they cannot be listed: the needed ones, taken on trust)."""
        try:
            enabled = self._cloud.service_usage.enabled(self.project)
        except DeployerError as exc:
            self.add("apis", Severity.WARNING, f"cannot list the enabled APIs: {exc.message}", exc.hint or "")
            return {*needed, "iam.googleapis.com", "artifactregistry.googleapis.com", COMPUTE_API}
        missing = [api for api in needed if api not in enabled]
        for api in missing:
            self.add(
                f"api {api}",
                Severity.ERROR,
                f"{api} is not enabled",
                self._bootstrap_fix() + f" (or: gcloud services enable {api} --project {self.project})",
            )
        if len(missing) < len(needed):
            self.add("apis", Severity.OK, f"{len(needed) - len(missing)} of {len(needed)} needed APIs are enabled")
        return enabled

    # -- who deploys, and as whom --------------------------------------------------------------------------------------
    def accounts(self, enabled: set[str]) -> tuple[str | None, str | None]:
        """The bootstrap build and runtime accounts that exist (None when absent or IAM cannot be asked)."""
        if "iam.googleapis.com" not in enabled:
            return None, None
        from deployer.services.bootstrap import bootstrap_accounts

        return bootstrap_accounts(self._cloud, self.project)

    def repository_exists(self, enabled: set[str], region: str | None) -> bool:
        if region is None or "artifactregistry.googleapis.com" not in enabled:
            return True  # unknown: do not ask for the right to create it
        try:
            found = self._cloud.artifact_registry.get_repository(self.project, region, self._config.repository.value)
        except DeployerError:
            return True
        return found is not None

    def check_caller_permissions(self, needed: dict[str, list[str]], *, act_as_project: bool) -> None:
        """One testIamPermissions call; each missing permission is an error naming what cannot be deployed and the
        role that grants it."""
        wanted = [*needed, *([ACT_AS] if act_as_project else [])]
        if not wanted:
            return
        who = self.caller or "the caller"
        try:
            held = self._cloud.resource_manager.test_permissions(self.project, wanted)
        except DeployerError as exc:
            self.add("permissions", Severity.WARNING, f"cannot test {who}'s permissions: {exc.message}", exc.hint or "")
            return
        missing = [p for p in wanted if p not in held]
        # The team roles hold every permission a deploy needs (tested against Google's role definitions).
        team = set(permissions.every_deploy_permission())
        member = self.caller or "user:YOU@EXAMPLE.COM"
        for permission in missing:
            role = ROLE_FOR_PERMISSION.get(permission, "a role that includes it")
            grant_it = f"gcloud projects add-iam-policy-binding {self.project} --member {member} --role {role}"
            if permission in team:
                team_fix = self._bootstrap_fix(f" --member {member}")
                fix = f"a project owner runs: {team_fix} (the team roles), or: {grant_it}"
            else:
                fix = grant_it
            blocked = ", ".join(needed.get(permission, ["workloads that run as the project's default account"]))
            self.add(
                f"permission {permission}",
                Severity.ERROR,
                f"{who} lacks {permission}, so cannot deploy {blocked}; {role} grants it",
                fix,
            )
        if not missing:
            self.add("permissions", Severity.OK, f"{who} holds all {len(wanted)} permissions the targets need")

    def check_act_as(self, accounts: list[str]) -> None:
        """The caller may act as each account (``iam.serviceAccounts.actAs`` on it: the account's own policy)."""
        if not accounts:
            return
        who = self.caller or "the caller"
        refused: list[str] = []
        for email in dict.fromkeys(accounts):
            try:
                held = self._cloud.iam.test_account_permissions(self.project, email, [ACT_AS])
            except DeployerError as exc:
                self.add(f"act as {email}", Severity.WARNING, f"cannot test: {exc.message}", exc.hint or "")
                continue
            if ACT_AS not in held:
                refused.append(email)
        if refused:
            member = self.caller or "user:YOU@EXAMPLE.COM"
            self.add(
                "act as service accounts",
                Severity.ERROR,
                f"{who} lacks {ACT_AS} on {', '.join(refused)}: a deploy that runs as them is refused",
                f"a project owner runs: {self._bootstrap_fix(f' --member {member}')} (grants "
                f"{roles.SERVICE_ACCOUNT_USER} on the deployer accounts), or: gcloud iam service-accounts "
                f"add-iam-policy-binding {refused[0]} --project {self.project} --member {member} "
                f"--role {roles.SERVICE_ACCOUNT_USER}",
            )
        else:
            self.add("act as service accounts", Severity.OK, f"{who} may act as {', '.join(dict.fromkeys(accounts))}")

    def check_build_account(self, build: str | None, enabled: set[str]) -> None:
        if "iam.googleapis.com" not in enabled:
            return
        if build is None:
            self.add(
                "build account",
                Severity.WARNING,
                "no dedicated build account: builds run as Google's default one, which since mid-2024 may lack the "
                "roles to push images",
                self._bootstrap_fix(),
            )
            return
        try:
            policy = self._cloud.resource_manager.get_iam_policy(self.project)
        except DeployerError as exc:
            self.add(
                "build account",
                Severity.WARNING,
                f"{build} exists; cannot read the project's IAM policy to check its roles: {exc.message}",
                exc.hint or "",
            )
            return
        member = f"serviceAccount:{build}"
        held_roles = {
            str(b.get("role"))
            for b in policy.get("bindings", [])
            if not b.get("condition") and member in b.get("members", [])
        }
        basic = held_roles & {"roles/owner", "roles/editor"}
        missing = [g.role for g in roles.build_account_roles() if g.role not in held_roles and not basic]
        if missing:
            self.add(
                "build account",
                Severity.ERROR,
                f"{build} cannot read the source, write logs and push: it lacks {', '.join(missing)}",
                self._bootstrap_fix(),
            )
        else:
            self.add("build account", Severity.OK, f"{build} holds the roles to read the source and push images")

    def check_runtime_account(self, runtime: str | None, enabled: set[str]) -> None:
        if "iam.googleapis.com" not in enabled:
            return
        if runtime is None:
            self.add(
                "runtime account",
                Severity.WARNING,
                "no dedicated deploy/runtime account: workloads run as the Compute Engine default account, which "
                "often has the broad Editor role",
                self._bootstrap_fix(),
            )
        else:
            self.add("runtime account", Severity.OK, f"{runtime} exists")

    # -- GPUs ----------------------------------------------------------------------------------------------------------
    def check_gpus(self, targets: list[_Target], region: str | None, enabled: set[str]) -> None:
        for target in targets:
            if target.vm is not None:
                self._check_vm_gpu(target.name, target.vm, region, enabled)

    def check_run_gpus(self, targets: list[_Target], region: str | None) -> None:
        """Cloud Run GPU services: the regional GPU, CPU and memory quotas cover max_instances (services/run_gpu.py)."""
        from deployer.services.run_gpu import quota_findings

        for target in targets:
            # A job's GPU tasks run as instances; Google documents no job-specific GPU quota rule, so the bound is
            # the most tasks one execution runs at once (parallelism, "allowed by quota" per configuring/parallelism).
            workload = target.service or target.job
            if workload is None or workload.gpu is None or region is None:
                continue
            count, bound = (
                (target.job.most_tasks_at_once, "parallelism")
                if target.job
                else (workload.max_instances, "max_instances")  # type: ignore[union-attr]
            )
            shape = (workload.cpu, workload.memory, workload.gpu)
            found = quota_findings(self._cloud, self.project, region, count, *shape, bound=bound)
            self.report.findings += [Finding(f"gpu {target.name}", Severity(f.severity), f.found, f.fix) for f in found]

    def _check_vm_gpu(self, name: str, vm: VmConfig, region: str | None, enabled: set[str]) -> None:
        choice = vm.gpu_choice
        if choice is None or region is None:
            return
        check = f"gpu {name}"
        compute = self._cloud.compute
        if "compute.googleapis.com" not in enabled:
            return  # the API finding already says what to do
        try:
            zones = [z for z in compute.accelerator_zones(self.project, choice.type) if z.startswith(f"{region}-")]
            quotas = dict(compute.region(self.project, region).quotas)
            overall = compute.project(self.project).quotas.get(GPUS_ALL_REGIONS)
        except DeployerError as exc:
            self.add(check, Severity.WARNING, f"cannot check {choice.type} in {region}: {exc.message}", exc.hint or "")
            return
        if not zones:
            self.add(
                check,
                Severity.ERROR,
                f"{choice.type} is not offered in any zone of {region}",
                "choose a region that offers it: https://cloud.google.com/compute/docs/gpus/gpu-regions-zones",
            )
            return
        metric = choice.quota_metric(spot=vm.spot)
        quota = quotas.get(metric)
        console = f"https://console.cloud.google.com/iam-admin/quotas?project={self.project}&metric={metric}"
        if quota is not None and quota.limit < choice.count:
            self.add(
                check,
                Severity.ERROR,
                f"{metric} quota in {region} is {quota.limit:g}; the VM needs {choice.count} (new projects start at 0)",
                f"request a quota increase for {metric} in {region}: {console}",
            )
            return
        if overall is not None and overall.limit < choice.count:
            self.add(
                check,
                Severity.ERROR,
                f"the project's {GPUS_ALL_REGIONS} quota is {overall.limit:g}; the VM needs {choice.count} (new and "
                "free-trial projects start at 0)",
                "request a quota increase for GPUS_ALL_REGIONS: "
                f"https://console.cloud.google.com/iam-admin/quotas?project={self.project}&metric={GPUS_ALL_REGIONS}",
            )
            return
        shown = f"quota {quota.limit:g}" if quota is not None else "quota not reported"
        self.add(check, Severity.OK, f"{choice.type} offered in {', '.join(zones)}; {metric} {shown}")

    # -- the whole run -------------------------------------------------------------------------------------------------
    def run(
        self,
        only: str | None = None,
        *,
        accounts: tuple[str | None, str | None] | None = None,
        repository_exists: bool | None = None,
    ) -> DoctorReport:
        """Every check (or ``only`` one target's). ``accounts`` and ``repository_exists``, when the caller has read
        them already, are taken as given instead of read again."""
        region = self.report.region
        if not self.check_credentials():
            return self.report
        if self.check_project() is None:
            return self.report
        self.check_billing()
        targets = _targets(self._config, only)
        enabled = self.check_apis(self.needed_apis(targets if only is not None else None))
        build, runtime = self.report.accounts = accounts if accounts is not None else self.accounts(enabled)
        run_as = [t.service_account or runtime for t in targets]
        act_as = [email for email in [*run_as, *([build] if targets and build else [])] if email]
        act_as_project = any(not email for email in run_as)
        if repository_exists is None:
            repository_exists = self.repository_exists(enabled, region)
        needed = _permissions_for(targets, repository_exists=repository_exists)
        self.check_caller_permissions(needed, act_as_project=act_as_project)
        self.check_act_as(act_as)
        # Cloud Run checks no quota before a GPU deploy's upload: these reads run before deploys too.
        self.check_run_gpus(targets, region)
        if only is None:
            self.check_build_account(build, enabled)
            self.check_runtime_account(runtime, enabled)
            # Before a deploy, the VM deployer checks zones and quota itself, exactly (usage, the spot metric's
            # fallback, the zone it will use): checking here too would be the same reads with a coarser rule.
            self.check_gpus(targets, region, enabled)
        return self.report


def run_doctor(cloud: GoogleCloud, config: ResolvedConfig) -> DoctorReport:
    """Every check, for every target in deployer.toml. Needs a project; the region only for region checks."""
    return Doctor(cloud, config, config.require_project(), config.region.value).run()


def preflight_report(
    cloud: GoogleCloud,
    config: ResolvedConfig,
    target: str,
    *,
    accounts: tuple[str | None, str | None] | None = None,
    repository_exists: bool | None = None,
) -> DoctorReport:
    """The checks that matter before deploying ``target`` (a [services] / [vms] name): project, billing, APIs,
    the caller's permissions for that target and the accounts it runs as. Reads only. The report also carries
    bootstrap's accounts, as found (or as given, when the deploy read them already), for the deploy to run as."""
    doctor = Doctor(cloud, config, config.require_project(), config.region.value)
    return doctor.run(only=target, accounts=accounts, repository_exists=repository_exists)


def preflight_for_deploy(cloud: GoogleCloud, config: ResolvedConfig, target: str) -> list[Finding]:
    """``preflight_report``'s findings."""
    return preflight_report(cloud, config, target).findings


def require_ready(findings: list[Finding]) -> None:
    """Raise a DeployerError listing the error findings and their fixes; nothing when there are none."""
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if not errors:
        return
    lines = [f"{f.check}: {f.found}" for f in errors]
    fixes = [f.fix for f in errors if f.fix]
    raise DeployerError(
        "the project is not ready:\n  " + "\n  ".join(lines),
        "\n       ".join(dict.fromkeys(fixes)) or "run `deployer doctor` for details",
    )
