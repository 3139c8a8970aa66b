"""Pure tier: Google's and google-auth's errors become what happened and the fix (gcp/errors.py)."""

from __future__ import annotations

import pytest
from google.auth import exceptions as auth_exc

from deployer.errors import DeployerError
from deployer.gcp.errors import google_call, translate


@pytest.mark.parametrize(
    "error",
    [
        auth_exc.RefreshError("invalid_grant: Token has been expired or revoked.", {"error": "invalid_grant"}),
        auth_exc.DefaultCredentialsError("Your default credentials were not found."),
    ],
    ids=["refresh", "default-credentials"],
)
def test_a_credentials_error_says_to_log_in_again_not_to_check_the_network(error: Exception) -> None:
    with pytest.raises(DeployerError) as caught, google_call("looking up Cloud Run service api"):
        raise error
    assert caught.value.message.startswith("looking up Cloud Run service api failed: the Google credentials")
    assert caught.value.hint is not None
    assert "gcloud auth application-default login" in caught.value.hint
    assert "network" not in caught.value.hint


def test_a_refresh_error_wrapped_by_a_client_library_is_found_by_its_cause() -> None:
    try:
        try:
            raise auth_exc.RefreshError("invalid_grant")
        except auth_exc.RefreshError as inner:
            raise ConnectionError("wrapped") from inner
    except ConnectionError as outer:
        found = translate(outer, action="uploading")
    assert found.hint is not None
    assert "gcloud auth application-default login" in found.hint


def test_an_unreachable_token_endpoint_is_still_a_network_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPLOYER_EMULATOR_URL", raising=False)
    found = translate(auth_exc.TransportError("connection refused"), action="uploading")
    assert found.hint is not None
    assert "network" in found.hint
