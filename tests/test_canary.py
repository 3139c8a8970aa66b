"""Emulator tier: canary strings (secret env values, a fake ADC login, a fake access token, a fake key file) are
planted in the environment, the isolated HOME and the project, every command runs (success and failure paths,
``--verbose``, ``--json``), and none of the canaries appears in stdout, stderr or any file deployer wrote.

The refusal of credential files in the build context is the context check's own (services/context.py); here it
is one more failure path whose output must not quote the file.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deployer.cli.app import app
from deployer_emulator.testing import EmulatorHandle

REGION = "europe-west4"
SECRET_VALUE = "canary-env-secret-9d1f3a"
MARKED_VALUE = "canary-marked-value-5b2c77"
REFRESH_TOKEN = "canary-refresh-token-1//0gQx"
CLIENT_SECRET = "canary-client-secret-GOCSPX"
ACCESS_TOKEN = "canary-access-token-ya29.a0Af"
PRIVATE_KEY = "canary-private-key-MIIEvQIBADANBgkqhkiG9w0B"
CANARIES = (SECRET_VALUE, MARKED_VALUE, REFRESH_TOKEN, CLIENT_SECRET, ACCESS_TOKEN, PRIVATE_KEY)

TOML = f"""
[services.api]
public = true
secret_env = ["MY_VAR"]
env = {{ MODEL = "small", OPENAI_API_KEY = "{SECRET_VALUE}", MY_VAR = "{MARKED_VALUE}" }}

[vms.box]
machine_type = "e2-standard-2"
zone = "europe-west4-a"
secret_env = ["MY_VAR"]
env = {{ HF_TOKEN = "{SECRET_VALUE}", MY_VAR = "{MARKED_VALUE}" }}
"""


def key_file(path: Path) -> Path:
    """A service-account key's shape, with a canary for the private key."""
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "proj-canary",
                "private_key_id": "0123456789abcdef",
                "private_key": f"-----BEGIN PRIVATE KEY-----\n{PRIVATE_KEY}\n-----END PRIVATE KEY-----\n",
                "client_email": "leaky@proj-canary.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


class _RefusingTokenEndpoint(BaseHTTPRequestHandler):
    """An OAuth token endpoint that refuses every refresh, as Google does for an expired or revoked login."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_endpoint() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _RefusingTokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def planted(isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_endpoint: str) -> Path:
    """The canaries in HOME (gcloud's ADC login), the environment, and a key file; the isolated HOME's path."""
    gcloud = isolated_env / "gcloud"
    gcloud.mkdir()
    (gcloud / "application_default_credentials.json").write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "764086051850-canary.apps.googleusercontent.com",
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
                "token_uri": token_endpoint,
            }
        )
    )
    # google-auth sends every gcloud login's refresh to Google's endpoint whatever the file says: point that
    # constant at the local endpoint, so no test request leaves the machine.
    monkeypatch.setattr("google.oauth2.credentials._GOOGLE_OAUTH2_TOKEN_ENDPOINT", token_endpoint)
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("CLOUDSDK_AUTH_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("MY_APP_SECRET", SECRET_VALUE)
    key_file(isolated_env / "key.json")
    return isolated_env


def make_project(directory: Path) -> str:
    project = f"proj-{uuid.uuid4().hex[:10]}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(
        'FROM python:3.12-slim\nCOPY app.py /app.py\nUSER 10001\nCMD ["python", "/app.py"]\n'
    )
    (directory / "app.py").write_text("print('hello')\n")
    (directory / ".dockerignore").write_text("deployer.toml\n")
    (directory / "deployer.toml").write_text(f'project = "{project}"\nregion = "{REGION}"\n{TOML}')
    return project


class Runs:
    """Runs commands and keeps every output, to be searched for the canaries at the end."""

    def __init__(self) -> None:
        self.outputs: list[tuple[list[str], str]] = []

    def __call__(self, env: dict[str, str], *args: str, exit_codes: tuple[int, ...] = (0,)) -> Any:
        result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "CI": "1", **env}, catch_exceptions=False)
        self.outputs.append((list(args), result.stdout + result.stderr))
        assert result.exit_code in exit_codes, f"{args}: exit {result.exit_code}\n{result.stderr}"
        return result

    def leaks(self) -> list[str]:
        return [f"{' '.join(args)}: {canary}" for args, text in self.outputs for canary in CANARIES if canary in text]


def files_with_canaries(root: Path, planted_files: set[Path]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or path in planted_files:
            continue
        data = path.read_bytes()
        found += [f"{path}: {c}" for c in CANARIES if c.encode() in data]
    return found


def test_no_canary_appears_in_any_output_or_file(
    emulator: EmulatorHandle, planted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir = tmp_path / "app"
    make_project(app_dir)
    leaky = tmp_path / "leaky"
    make_project(leaky)
    key_file(leaky / "service-account.json")
    run = Runs()
    on = {"DEPLOYER_EMULATOR_URL": emulator.url}
    here = ("-C", str(app_dir))

    # Success paths, text, --json and --verbose.
    run(on, "config", "show", *here)
    run(on, "config", "show", *here, "--json")
    run(on, "lint", str(app_dir / "Dockerfile"))
    run(on, "doctor", *here, exit_codes=(0, 1))
    run(on, "doctor", *here, "--json", exit_codes=(0, 1))
    run(on, "build", "api", *here, "--dry-run", "--verbose")
    run(on, "build", "api", *here, "--json")
    run(on, "deploy", "api", *here, "--dry-run")
    run(on, "deploy", "api", *here, "--dry-run", "--json")
    run(on, "deploy", "api", *here, "--diff", "--yes", "--verbose")
    run(on, "deploy", "api", *here, "--json")
    run(on, "status", "api", *here)
    run(on, "status", "api", *here, "--json")
    run(on, "deploy", "box", *here, "--diff", "--yes", "--json")
    run(on, "deploy", "box", *here, "--dry-run", "--verbose")
    run(on, "status", "box", *here, "--json")
    run(on, "destroy", "box", *here, "--dry-run")
    run(on, "destroy", "box", *here, "--yes", "--json")
    run(on, "bootstrap", *here, "--dry-run", "--json", exit_codes=(0, 1, 2))
    for fresh in ("fresh", "fresh-json"):
        (tmp_path / fresh).mkdir()
    run(on, "init", "-C", str(tmp_path / "fresh"), "--github")
    run(on, "init", "-C", str(tmp_path / "fresh-json"), "--json")

    # Failure paths: a key file in the context, a config error quoting a value, no emulator to reach, a login
    # that no longer refreshes, a key file that is not a key, a refused recreate.
    run(on, "deploy", "api", "-C", str(leaky), "--verbose", exit_codes=(2,))
    run(on, "build", "api", "-C", str(leaky), "--json", exit_codes=(2,))
    broken = tmp_path / "broken"
    make_project(broken)
    toml = broken / "deployer.toml"
    toml.write_text(
        toml.read_text().replace(f'MY_VAR = "{MARKED_VALUE}" }}', f'MY_VAR = "{MARKED_VALUE}", PORT = "1" }}')
    )
    run(on, "deploy", "api", "-C", str(broken), "--json", "--verbose", exit_codes=(2,))
    run({"DEPLOYER_EMULATOR_URL": "http://127.0.0.1:9"}, "deploy", "api", *here, "--verbose", exit_codes=(1,))
    run({"DEPLOYER_EMULATOR_URL": "http://127.0.0.1:9"}, "status", "api", *here, "--json", exit_codes=(1,))
    # Without the emulator: anything but the local token endpoint goes to a proxy that is not there, so nothing
    # can reach Google even if a refresh were to succeed.
    off = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}
    refused = run(off, "status", "api", *here, "--verbose", exit_codes=(1,))
    assert "gcloud auth application-default login" in refused.stderr
    assert "check the network" not in refused.stderr
    run(off, "deploy", "api", *here, "--json", "--verbose", exit_codes=(1,))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(planted / "key.json"))
    run(off, "status", "api", *here, "--verbose", exit_codes=(1,))
    run(off, "doctor", *here, "--json", "--verbose", exit_codes=(0, 1))

    assert run.leaks() == []
    planted_files = {
        planted / "gcloud" / "application_default_credentials.json",
        planted / "key.json",
        app_dir / "deployer.toml",
        leaky / "deployer.toml",
        leaky / "service-account.json",
        broken / "deployer.toml",
    }
    assert files_with_canaries(tmp_path, planted_files) == []
