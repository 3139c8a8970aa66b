"""Cloud Storage JSON API v1: buckets, objects, media/multipart/resumable uploads, ranged downloads.

Routes (https://cloud.google.com/storage/docs/json_api/v1):
  ``/storage/v1/b`` (insert, list), ``/storage/v1/b/{bucket}`` (get, patch, delete),
  ``/storage/v1/b/{bucket}/o`` (list), ``/storage/v1/b/{bucket}/o/{object}`` (get, ``?alt=media``, patch, delete),
  ``/upload/storage/v1/b/{bucket}/o`` and gcloud's ``/resumable/upload/storage/v1/b/{bucket}/o`` (uploads and
  resumable sessions), ``/download/storage/v1/b/{bucket}/o/{object}?alt=media`` (the ``mediaLink`` form).

Object contents live as files under ``emulator.blob_dir / "storage"`` (one file per object, replaced atomically on
overwrite, appended in place by ``append_object``); the JSON state holds only the metadata documents, as Google
returns them minus ``selfLink``/``mediaLink``, which are derived from ``emulator.base_url`` when answering.

In-process helpers for the other surfaces (Cloud Build reads sources and writes its logs with them):

- ``ensure_bucket(emulator, bucket, project, location="US") -> dict``: the bucket document, created if missing (no
  name validation: Google-owned names such as ``NUMBER.cloudbuild-logs.googleusercontent.com`` are allowed here).
- ``bucket_exists(emulator, bucket) -> bool``
- ``get_object(emulator, bucket, name) -> dict``: the object's metadata document; ApiError 404 when absent.
- ``read_object_path(emulator, bucket, name) -> Path``: the file holding the object's bytes; ApiError 404 when absent.
- ``put_object(emulator, bucket, name, data: bytes, content_type: str) -> dict``: create or replace an object (the
  bucket must exist: ``ensure_bucket`` first); returns the object document.
- ``append_object(emulator, bucket, name, data: bytes) -> None``: append to an object (created as text when absent);
  bumps the generation and updates size and hashes, so a reader tailing it with ``Range: bytes=N-`` sees it grow.
- ``parse_gs_url(url) -> (bucket, object_prefix)``: ``gs://b/some/prefix`` -> ``("b", "some/prefix")``.

Errors use the JSON API's own shape (``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}``,
https://cloud.google.com/storage/docs/json_api/v1/status-codes), not the ``status`` form of the newer APIs.
"""
