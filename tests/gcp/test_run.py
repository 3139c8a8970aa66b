"""Pure tier: waiting on a Cloud Run operation that outlasts the wait (a clock the emulator cannot move)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest

from deployer.errors import DeployerError
from deployer.gcp.run import CloudRunAdapter


class _SlowOperation:
    def result(self, timeout: float, polling: Any) -> Any:
        raise concurrent.futures.TimeoutError(f"Operation did not complete within the designated timeout of {timeout}")


def test_an_operation_timeout_says_the_rollout_goes_on_and_traffic_is_unchanged() -> None:
    adapter = CloudRunAdapter(clients=None)  # type: ignore[arg-type]  # _wait needs no client for a timeout
    with pytest.raises(DeployerError) as caught:
        adapter._wait(_SlowOperation(), "projects/p/locations/europe-west4/services/api", 900.0)
    message = caught.value.message
    assert "did not finish within 900s" in message
    assert "still in progress" in message
    assert "traffic is unchanged" in message
    assert caught.value.hint is not None
    assert "deployer status api" in caught.value.hint
