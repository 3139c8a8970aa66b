"""The Cloud Run v2 routes, and the surface made of its parts."""

from __future__ import annotations

from deployer_emulator.core import Emulator
from deployer_emulator.logging.store import add_source
from deployer_emulator.run.base import SERVICES
from deployer_emulator.run.jobs import Jobs
from deployer_emulator.run.operations import Operations
from deployer_emulator.run.policies import Policies
from deployer_emulator.run.revisions import Revisions
from deployer_emulator.run.services import Services


class CloudRun(Services, Revisions, Jobs, Operations, Policies):
    """Cloud Run v2 as one object: each base holds one job; routes call its handlers."""


def register(emulator: Emulator) -> None:
    run = CloudRun(emulator)
    emulator.settings.setdefault(
        "run_idle_revision_remove_s", 30.0
    )  # how long a revision without traffic keeps running
    emulator.shutdown_hooks.append(run.runtime.close)
    add_source(emulator, run.runtime.log_entries)
    router = emulator.router
    base = "/v2/projects/{project}/locations/{location}"
    router.add("POST", f"{base}/services", run.create_service)
    router.add("GET", f"{base}/services", run.list_services)
    router.add("GET", f"{base}/services/{{service}}", run.get_service)
    router.add("PATCH", f"{base}/services/{{service}}", run.update_service)
    router.add("DELETE", f"{base}/services/{{service}}", run.delete_service)
    router.add("GET", f"{base}/services/{{service}}:getIamPolicy", run.get_iam_policy)
    router.add("POST", f"{base}/services/{{service}}:setIamPolicy", run.set_iam_policy)
    router.add("POST", f"{base}/services/{{service}}:testIamPermissions", run.test_iam_permissions)
    router.add("GET", f"{base}/services/{{service}}/revisions", run.list_revisions)
    router.add("GET", f"{base}/services/{{service}}/revisions/{{revision}}", run.get_revision)
    router.add("DELETE", f"{base}/services/{{service}}/revisions/{{revision}}", run.delete_revision)
    jobs = f"{base}/jobs"
    router.add("POST", jobs, run.create_job)
    router.add("GET", jobs, run.list_jobs)
    router.add("GET", f"{jobs}/{{job}}", run.get_job)
    router.add("PATCH", f"{jobs}/{{job}}", run.update_job)
    router.add("DELETE", f"{jobs}/{{job}}", run.delete_job)
    router.add("POST", f"{jobs}/{{job}}:run", run.run_job)
    router.add("GET", f"{jobs}/{{job}}/executions", run.list_executions)
    router.add("GET", f"{jobs}/{{job}}/executions/{{execution}}", run.get_execution)
    router.add("DELETE", f"{jobs}/{{job}}/executions/{{execution}}", run.delete_execution)
    router.add("POST", f"{jobs}/{{job}}/executions/{{execution}}:cancel", run.cancel_execution)
    router.add("GET", f"{jobs}/{{job}}/executions/{{execution}}/tasks", run.list_tasks)
    router.add("GET", f"{jobs}/{{job}}/executions/{{execution}}/tasks/{{task}}", run.get_task)
    router.add("GET", f"{base}/operations", run.list_operations)
    router.add("GET", f"{base}/operations/{{operation}}", run.get_operation)
    router.add("DELETE", f"{base}/operations/{{operation}}", run.delete_operation)
    router.add("POST", f"{base}/operations/{{operation}}:wait", run.wait_operation)
    router.add("GET", "/_emulator/run-logs/{project}/{location}/{service}/{revision}", run.revision_logs)
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        router.add(method, "/_emulator/run/{project}/{location}/{service}", run.not_served)
        router.add(method, "/_emulator/run/{project}/{location}/{service}/{rest=**}", run.not_served)
    with emulator.state.lock:
        persisted = bool(emulator.state.table(SERVICES))
    if persisted:
        emulator.spawn(run.restore, "run restore")
