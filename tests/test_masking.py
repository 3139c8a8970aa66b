"""Emulator tier: secret env values are shown masked everywhere deployer prints, and still reach Google as set.

A value is secret when its key looks like one (KEY, TOKEN, SECRET, PASSWORD, any case) or is listed in
``secret_env``. Assertions are on the CLI's output and on what the emulator recorded and holds.
"""

from __future__ import annotations

import json
from pathlib import Path

from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1, run_v2

from deployer.masking import MASK, mask
from deployer_emulator.testing import EmulatorHandle
from tests.projects import REGION, invoke, write_project

API_KEY = "sk-live-canary-4f1d2e"
DB_PASSWORD = "hunter2-canary-pw"
MARKED = "marked-canary-value-77"
SHORT = "x1"  # shorter than masking's minimum: masked by name only


def make_project(directory: Path, table: str) -> str:
    return write_project(directory, table)


SERVICE = f"""[services.api]
secret_env = ["MY_VAR"]

[services.api.env]
MODEL = "small"
API_KEY = "{API_KEY}"
db_password = "{DB_PASSWORD}"
MY_VAR = "{MARKED}"
auth_token = "{SHORT}"
"""

VM = f"""[vms.box]
machine_type = "e2-standard-2"
zone = "europe-west4-a"
env = {{ MODEL = "small", API_KEY = "{API_KEY}", MY_VAR = "{MARKED}" }}
secret_env = ["MY_VAR"]
"""

SECRETS = (API_KEY, DB_PASSWORD, MARKED)


def assert_masked(text: str) -> None:
    for secret in (*SECRETS, f'"{SHORT}"', f"'{SHORT}'"):
        assert secret not in text


def test_config_show_masks_secret_values_and_keeps_the_others(emulator: EmulatorHandle, tmp_path: Path) -> None:
    make_project(tmp_path / "app", SERVICE)
    text = invoke(emulator, "config", "show", "-C", str(tmp_path / "app"))
    assert text.exit_code == 0, text.stderr
    assert_masked(text.stdout + text.stderr)
    assert "small" in text.stdout
    as_json = invoke(emulator, "config", "show", "-C", str(tmp_path / "app"), "--json")
    env = json.loads(as_json.stdout)["services"]["api"]["env"]
    assert env == {"MODEL": "small", "API_KEY": MASK, "db_password": MASK, "MY_VAR": MASK, "auth_token": MASK}


def test_dry_run_diff_and_json_mask_while_the_service_gets_the_real_values(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    directory = tmp_path / "app"
    project = make_project(directory, SERVICE)
    emulator.mark()
    dry = invoke(emulator, "deploy", "-C", str(directory), "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert_masked(dry.stdout + dry.stderr)
    assert '"value": "small"' in dry.stdout
    assert "Secret Manager" in dry.stderr
    assert "API_KEY, MY_VAR, auth_token, db_password" in dry.stderr
    dry_json = invoke(emulator, "deploy", "-C", str(directory), "--dry-run", "--json")
    assert_masked(dry_json.stdout + dry_json.stderr)
    step = next(s for s in json.loads(dry_json.stdout)["steps"] if s["resource"].endswith("/services/api"))
    env = {e["name"]: e["value"] for e in step["request"]["body"]["template"]["containers"][0]["env"]}
    assert env == {"MODEL": "small", "API_KEY": MASK, "db_password": MASK, "MY_VAR": MASK, "auth_token": MASK}

    applied = invoke(emulator, "deploy", "-C", str(directory), "--diff", "--yes", "--json")
    assert applied.exit_code == 0, applied.stderr
    assert_masked(applied.stdout + applied.stderr)

    # Google got the real values.
    client = run_v2.ServicesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    )
    service = client.get_service(name=f"projects/{project}/locations/{REGION}/services/api")
    sent = {e.name: e.value for e in service.template.containers[0].env}
    assert (sent["API_KEY"], sent["MY_VAR"], sent["auth_token"]) == (API_KEY, MARKED, SHORT)


def test_a_vm_dry_run_masks_the_values_in_its_cloud_init(emulator: EmulatorHandle, tmp_path: Path) -> None:
    directory = tmp_path / "app"
    project = make_project(directory, VM)
    dry = invoke(emulator, "deploy", "box", "-C", str(directory), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert_masked(dry.stdout + dry.stderr)
    assert 'MODEL=\\"small\\"' in dry.stdout
    applied = invoke(emulator, "deploy", "box", "-C", str(directory), "--json")
    assert applied.exit_code == 0, applied.stderr
    assert_masked(applied.stdout + applied.stderr)
    vm = compute_v1.InstancesClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": emulator.url}
    ).get(project=project, zone="europe-west4-a", instance="box")
    user_data = next(item.value for item in vm.metadata.items if item.key == "user-data")
    assert f'API_KEY="{API_KEY}"' in user_data


def test_an_error_that_quotes_a_secret_value_masks_it(emulator: EmulatorHandle, tmp_path: Path) -> None:
    make_project(tmp_path / "app", SERVICE.replace(f'API_KEY = "{API_KEY}"', "API_KEY = 12345678"))
    result = invoke(emulator, "deploy", "-C", str(tmp_path / "app"), "--json")
    assert result.exit_code == 2
    assert "12345678" not in result.stdout + result.stderr
    assert "services.api.env.API_KEY" in result.stderr
    assert_masked(result.stdout + result.stderr)


def test_secret_env_may_name_only_keys_of_env(emulator: EmulatorHandle, tmp_path: Path) -> None:
    make_project(tmp_path / "app", '[services.api]\nenv = { MODEL = "small" }\nsecret_env = ["MODLE"]\n')
    result = invoke(emulator, "config", "show", "-C", str(tmp_path / "app"))
    assert result.exit_code == 2
    assert "secret_env = ['MODLE'] names \"MODLE\", which env does not set" in result.stderr
    assert "here: MODEL" in result.stderr


def test_mask_by_name_and_by_value() -> None:
    from deployer import masking

    masking.remember({"SERVICE_TOKEN": "abc-token-value"})
    doc = {
        "env": {"GITHUB_TOKEN": "t", "MODE": "x"},
        "list": [{"name": "Password", "value": "p"}, {"name": "MODE", "value": "x"}],
        "text": "curl -H 'Authorization: abc-token-value'",
    }
    assert mask(doc) == {
        "env": {"GITHUB_TOKEN": MASK, "MODE": "x"},
        "list": [{"name": "Password", "value": MASK}, {"name": "MODE", "value": "x"}],
        "text": f"curl -H 'Authorization: {MASK}'",
    }
