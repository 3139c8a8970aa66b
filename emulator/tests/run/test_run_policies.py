"""A service's IAM policy (run/policies.py): read-modify-write with the etag, members checked."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.iam.v1 import iam_policy_pb2, policy_pb2
from run_support import api_error, create, services_client


def test_iam_policy_roundtrip_and_stale_etag(emulator: Any) -> None:
    client = services_client(emulator.url)
    service = create(emulator.url, "iam")

    empty = client.get_iam_policy(request={"resource": service.name})
    assert (empty.version, list(empty.bindings), empty.etag) == (1, [], b"\x00\x20\x01")
    empty.bindings.append(policy_pb2.Binding(role="roles/run.invoker", members=["allUsers"]))
    updated = client.set_iam_policy(request={"resource": service.name, "policy": empty})
    assert [(b.role, list(b.members)) for b in updated.bindings] == [("roles/run.invoker", ["allUsers"])]
    assert updated.etag[:1] == b"\x07"
    assert client.get_iam_policy(request={"resource": service.name}) == updated

    with pytest.raises(gexc.Conflict) as conflict:
        client.set_iam_policy(request={"resource": service.name, "policy": empty})  # still carries the old etag
    assert api_error(conflict.value)["status"] == "ABORTED"
    assert api_error(conflict.value)["message"] == (
        "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
    )

    held = client.test_iam_permissions(
        request={"resource": service.name, "permissions": ["run.services.get", "run.routes.invoke"]}
    )
    assert list(held.permissions) == ["run.services.get", "run.routes.invoke"]


def test_iam_rejects_unknown_members(emulator: Any) -> None:
    service = create(emulator.url, "iam-bad")
    request = iam_policy_pb2.SetIamPolicyRequest(
        resource=service.name, policy=policy_pb2.Policy(bindings=[{"role": "roles/run.invoker", "members": ["bob"]}])
    )

    with pytest.raises(gexc.BadRequest) as bad:
        services_client(emulator.url).set_iam_policy(request=request)

    assert api_error(bad.value)["message"].startswith("Invalid member: 'bob'.")
