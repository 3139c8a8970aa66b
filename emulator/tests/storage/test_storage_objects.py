"""Objects (storage/objects.py): list with prefix, delimiter and pages; delete."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions
from storage_support import _client, _name


def test_list_objects_prefix_delimiter_and_pages(emulator: Any) -> None:
    client = _client(emulator)
    bucket = client.create_bucket(_name())
    for name in ["a.txt", "dir/1.txt", "dir/2.txt", "dir/sub/3.txt", "other/4.txt", "z.txt"]:
        bucket.blob(name).upload_from_string(name.encode())

    top = client.list_blobs(bucket.name, delimiter="/")
    assert [b.name for b in top] == ["a.txt", "z.txt"]
    assert top.prefixes == {"dir/", "other/"}

    inside = client.list_blobs(bucket.name, prefix="dir/", delimiter="/")
    assert [b.name for b in inside] == ["dir/1.txt", "dir/2.txt"]
    assert inside.prefixes == {"dir/sub/"}

    pages = list(client.list_blobs(bucket.name, max_results=None, page_size=2).pages)
    assert [[b.name for b in page] for page in pages] == [
        ["a.txt", "dir/1.txt"],
        ["dir/2.txt", "dir/sub/3.txt"],
        ["other/4.txt", "z.txt"],
    ]


def test_delete_object_and_missing_object(emulator: Any) -> None:
    bucket = _client(emulator).create_bucket(_name())
    bucket.blob("gone").upload_from_string(b"x")
    bucket.blob("gone").delete()
    with pytest.raises(exceptions.NotFound) as missing:
        bucket.blob("gone").download_as_bytes()
    assert f"No such object: {bucket.name}/gone" in missing.value.message
