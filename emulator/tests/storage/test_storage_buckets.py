"""Buckets (storage/buckets.py): create, get, conflicts, location, name rules, strict fields, delete."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google.api_core import exceptions
from storage_support import _client, _name


def test_bucket_create_get_and_conflicts(emulator: Any) -> None:
    client = _client(emulator, "proj-a")
    name = _name()
    created = client.create_bucket(name)
    assert created.name == name
    assert created.location == "US"
    assert created.storage_class == "STANDARD"
    assert created.metageneration == 1

    raw = requests.get(f"{emulator.url}/storage/v1/b/{name}", timeout=10).json()
    assert raw["kind"] == "storage#bucket"
    assert raw["id"] == name
    assert raw["projectNumber"].isdigit()
    assert len(raw["projectNumber"]) == 12
    assert raw["selfLink"] == f"{emulator.url}/storage/v1/b/{name}"
    assert raw["timeCreated"].endswith("Z")
    assert raw["updated"] == raw["timeCreated"]
    assert raw["etag"] == "CAE="

    with pytest.raises(exceptions.Conflict) as same_owner:
        client.create_bucket(name)
    assert "you already own it" in same_owner.value.message

    with pytest.raises(exceptions.Conflict) as other_owner:
        _client(emulator, "proj-b").create_bucket(name)
    assert "The requested bucket name is not available" in other_owner.value.message

    # Listing is per project: the other project does not see it.
    assert name in [b.name for b in client.list_buckets(prefix=name)]
    assert name not in [b.name for b in _client(emulator, "proj-b").list_buckets(prefix=name)]


def test_bucket_location_and_missing_bucket(emulator: Any) -> None:
    client = _client(emulator)
    name = _name()
    bucket = client.create_bucket(name, location="us-central1")
    assert bucket.location == "US-CENTRAL1"
    assert bucket.location_type == "region"
    with pytest.raises(exceptions.NotFound) as missing:
        client.get_bucket(_name("absent"))
    assert missing.value.message.endswith(": The specified bucket does not exist.")


@pytest.mark.parametrize("bad", ["ab", "Upper-case", "-leading", "trailing-", "goog-bucket", "my-google-bucket"])
def test_bucket_name_rules(emulator: Any, bad: str) -> None:
    response = requests.post(f"{emulator.url}/storage/v1/b", params={"project": "p"}, json={"name": bad}, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == f"Invalid bucket name: '{bad}'"
    assert error["errors"][0]["reason"] == "invalid"


def test_unknown_bucket_field_is_rejected(emulator: Any) -> None:
    name = _name()
    response = requests.post(
        f"{emulator.url}/storage/v1/b", params={"project": "p"}, json={"name": name, "locaton": "EU"}, timeout=10
    )
    assert response.status_code == 400
    assert 'Unknown name "locaton"' in response.json()["error"]["message"]
    wrong_type = requests.post(
        f"{emulator.url}/storage/v1/b", params={"project": "p"}, json={"name": name, "labels": "x"}, timeout=10
    )
    assert wrong_type.status_code == 400
    # Nothing was created by either request.
    assert requests.get(f"{emulator.url}/storage/v1/b/{name}", timeout=10).status_code == 404


def test_project_is_required(emulator: Any) -> None:
    response = requests.post(f"{emulator.url}/storage/v1/b", json={"name": _name()}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["reason"] == "required"


def test_delete_bucket_must_be_empty(emulator: Any) -> None:
    client = _client(emulator)
    bucket = client.create_bucket(_name())
    bucket.blob("x").upload_from_string(b"x")
    with pytest.raises(exceptions.Conflict) as not_empty:
        bucket.delete()
    assert not_empty.value.message.endswith(": The bucket you tried to delete is not empty.")
    bucket.blob("x").delete()
    bucket.delete()
    with pytest.raises(exceptions.NotFound):
        client.get_bucket(bucket.name)
