"""Live tier (opt-in, never in CI): the identities bootstrap makes, against a real Google Cloud project.

    DEPLOYER_LIVE_PROJECT=my-scratch-project DEPLOYER_LIVE_BILLING_ACCOUNT=012345-6789AB-CDEF01 \\
        python3 -m pytest -m gcp --run-gcp tests/live/ -q

Needs Application Default Credentials of a user who owns the project (``gcloud auth application-default
login``), and optionally DEPLOYER_LIVE_REGION (default us-central1). It bootstraps the project (linking the billing
account), runs doctor, deploys a Cloud Run service as the CI deployer and a small VM with a port, checks that the
runtime account may deploy nothing, then deletes the service, the VM and its firewall rule and takes back the
token-creator grant it gave itself, even when a step fails. The service accounts and the repository stay (they
cost nothing). Cost: a few Cloud Build minutes and an e2-small VM for a few minutes: well under US$0.10 a run.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer.services import roles

pytestmark = pytest.mark.gcp
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.skip(f"set {name} to run the live suite")
    return value


def _user_credentials() -> dict[str, Any]:
    path = Path(
        os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        or Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
    )
    if not path.is_file():
        pytest.skip("no Application Default Credentials: run `gcloud auth application-default login`")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _as(identity: str, tmp: Path) -> dict[str, str]:
    """Environment for acting as a service account: an ADC file google-auth reads as impersonation."""
    path = tmp / f"{identity.split('@')[0]}.json"
    path.write_text(
        json.dumps(
            {
                "type": "impersonated_service_account",
                "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/"
                f"serviceAccounts/{identity}:generateAccessToken",
                "source_credentials": _user_credentials(),
                "delegates": [],
            }
        )
    )
    return {"GOOGLE_APPLICATION_CREDENTIALS": str(path)}


def _token_creator(verb: str, account: str, project: str, member: str, *, check: bool) -> None:
    """gcloud iam service-accounts add- or remove-iam-policy-binding of the token creator role for ``member``."""
    import subprocess

    command = ["gcloud", "iam", "service-accounts", f"{verb}-iam-policy-binding", account, f"--project={project}"]
    subprocess.run([*command, f"--member={member}", f"--role={TOKEN_CREATOR}"], check=check)


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env={"CI": "1", "NO_COLOR": "1", **(env or {})}, catch_exceptions=False)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    project, billing = _env("DEPLOYER_LIVE_PROJECT"), _env("DEPLOYER_LIVE_BILLING_ACCOUNT")
    region = os.environ.get("DEPLOYER_LIVE_REGION", "us-central1")
    directory = tmp_path_factory.mktemp("live-app")
    suffix = uuid.uuid4().hex[:6]
    service, vm = f"live-api-{suffix}", f"live-vm-{suffix}"
    (directory / "Dockerfile").write_text('FROM python:3.12-slim\nCMD ["python", "-m", "http.server", "8080"]\n')
    (directory / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "{region}"\n\n[services.{service}]\n\n'
        f'[vms.{vm}]\nmachine_type = "e2-small"\nports = [8080]\nmax_run_duration = "1h"\n'
    )
    state: dict[str, Any] = {"project": project, "region": region, "dir": directory, "service": service, "vm": vm}
    state["billing"] = billing
    try:
        yield state
    finally:
        _cleanup(state)


def _cleanup(state: dict[str, Any]) -> None:
    """Delete what the suite made, each part on its own so one failure does not keep the rest."""
    from google.api_core import exceptions as gexc
    from google.cloud import run_v2

    project, region = state["project"], state["region"]
    _run("destroy", state["vm"], "-C", str(state["dir"]), "--yes")
    try:
        run_v2.ServicesClient().delete_service(
            name=f"projects/{project}/locations/{region}/services/{state['service']}"
        ).result(timeout=300)
    except gexc.NotFound:
        pass
    me = state.get("me")
    if me:
        for account_id in (roles.CI_ACCOUNT_ID, roles.RUNTIME_ACCOUNT_ID):
            _token_creator("remove", roles.service_account_email(account_id, project), project, me, check=False)


def test_bootstrap_doctor_and_deploys_as_each_identity(live: dict[str, Any], tmp_path: Path) -> None:
    import subprocess

    project, directory = live["project"], str(live["dir"])
    done = _run("bootstrap", "-C", directory, "--billing-account", live["billing"], "--yes", "--json")
    assert done.exit_code == 0, done.stderr
    doctor = _run("doctor", "-C", directory, "--json")
    assert json.loads(doctor.stdout)["errors"] == 0, doctor.stdout

    # Acting as an account needs a token for it: the suite grants itself the token creator role on it.
    me = subprocess.run(
        ["gcloud", "config", "get-value", "account"], capture_output=True, text=True, check=True
    ).stdout.strip()
    live["me"] = f"user:{me}"
    ci = roles.service_account_email(roles.CI_ACCOUNT_ID, project)
    runtime = roles.service_account_email(roles.RUNTIME_ACCOUNT_ID, project)
    for account in (ci, runtime):
        _token_creator("add", account, project, live["me"], check=True)
    for name in (live["service"], live["vm"]):
        deployed = _run("deploy", name, "-C", directory, "--yes", env=_as(ci, tmp_path))
        assert deployed.exit_code == 0, deployed.stderr
    refused = _run("deploy", live["service"], "-C", directory, "--yes", "--check", env=_as(runtime, tmp_path))
    assert refused.exit_code != 0
