"""Artifact Registry v1: repositories (LRO create/delete), docker images, packages, versions, tags, operations.

Routes (https://cloud.google.com/artifact-registry/docs/reference/rest, URIs as in the google-cloud-artifact-registry
REST transport, ``artifactregistry_v1/services/artifact_registry/transports/rest_base.py``):
  ``GET /v1/projects/{p}/locations``, ``GET /v1/projects/{p}/locations/{l}``,
  ``POST|GET /v1/projects/{p}/locations/{l}/repositories``, ``GET|PATCH|DELETE .../repositories/{r}``,
  ``GET .../repositories/{r}/dockerImages``, ``GET .../dockerImages/{IMG@sha256:...}`` (``/`` in IMG as ``%2F``),
  ``GET .../repositories/{r}/packages``, ``GET .../packages/{pkg}`` (``%2F``-escaped),
  ``GET .../packages/{pkg}/versions``,
  ``GET .../versions/{sha256:...}``, ``GET .../packages/{pkg}/tags``, ``GET .../tags/{tag}``,
  ``GET /v1/projects/{p}/locations/{l}/operations/{id}``.

Nothing is pushed to a real registry: images reach a repository through ``record_image`` (Cloud Build's push), and the
packages, versions and tags are views of the recorded docker images, as Artifact Registry presents a docker repository.

In-process helpers:

- ``record_image(emulator, project, location, repository, image, tags, digest, size, executable, local_id) -> dict``:
  record a pushed image (the DockerImage document); a tag already on another version of the package moves to this one.
  Raises ApiError NOT_FOUND ``name unknown: Repository "R" not found`` when the repository does not exist, the way a
  docker push to a missing repository fails.
- ``parse_image_ref(ref) -> ImageRef | None``: ``LOC-docker.pkg.dev/P/R/IMG[:TAG][@sha256:...]`` (and the gcr.io hosts,
  which Artifact Registry serves from repositories named after the host).
- ``image_exists(emulator, image_ref) -> bool``: the repository holds the image (placeholder or not).
- ``image_is_executable(emulator, uri_or_digest) -> bool``: False for the placeholder images an engine-less build
  records (their digest is not of a real image), and for unknown images.
- ``local_image_id(emulator, image_ref) -> str | None``: the container engine's image id to run for an image URI (by
  tag, ``latest`` when none, or by digest); None when the repository has no such image or it is a placeholder.

Placeholder images are visible as such through the API: their DockerImage ``artifactType`` is
``application/vnd.deployer_emulator.placeholder`` (an OCI artifact type, meaning "not a runnable container image") and
their Version carries the annotation ``emulator.deployer.dev/placeholder``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from google.cloud import artifactregistry_v1

from deployer_emulator import protos
from deployer_emulator.artifactregistry_cleanup import check_cleanup_policies, doomed_images
from deployer_emulator.common import copy_doc, now_rfc3339
from deployer_emulator.core import Emulator, OperationHandle, Request, paginate
from deployer_emulator.errors import ApiError, already_exists, invalid_argument, not_found

REPOSITORIES = "artifactregistry.repositories"
IMAGES = "artifactregistry.dockerImages"  # DockerImage documents by resource name
LOCAL = "artifactregistry.localImages"  # emulator-only facts per DockerImage name: executable, engine image id

OPERATION_METADATA_TYPE = "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"
REPOSITORY_TYPE = "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"
EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"

PLACEHOLDER_ARTIFACT_TYPE = "application/vnd.deployer_emulator.placeholder"
PLACEHOLDER_ANNOTATION = "emulator.deployer.dev/placeholder"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

# Repository fields the API computes; a client may send them back (e.g. after a get) and they are ignored.
_REPOSITORY_OUTPUT_ONLY = (
    "name",
    "createTime",
    "updateTime",
    "sizeBytes",
    "satisfiesPzs",
    "satisfiesPzi",
    "registryUri",
)
_REPOSITORY_MUTABLE = (
    "description",
    "labels",
    "cleanupPolicies",
    "cleanupPolicyDryRun",
    "dockerConfig",
    "mavenConfig",
    "vulnerabilityScanningConfig",
    "virtualRepositoryConfig",
    "remoteRepositoryConfig",
    "disallowUnspecifiedMode",
)

# https://cloud.google.com/artifact-registry/docs/repositories/create-repos: repository ids.
_REPOSITORY_ID_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")

# Artifact Registry's locations (https://cloud.google.com/artifact-registry/docs/repositories/repo-locations).
LOCATIONS = (
    "africa-south1",
    "asia",
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-south1",
    "asia-south2",
    "asia-southeast1",
    "asia-southeast2",
    "australia-southeast1",
    "australia-southeast2",
    "europe",
    "europe-central2",
    "europe-north1",
    "europe-southwest1",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "europe-west10",
    "europe-west12",
    "me-central1",
    "me-central2",
    "me-west1",
    "northamerica-northeast1",
    "northamerica-northeast2",
    "southamerica-east1",
    "southamerica-west1",
    "us",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-south1",
    "us-west1",
    "us-west2",
    "us-west3",
    "us-west4",
)

# gcr.io hosts are served by Artifact Registry repositories named after the host, in these multi-regions
# (https://cloud.google.com/artifact-registry/docs/transition/gcr-repositories).
_GCR_HOSTS = {"gcr.io": "us", "us.gcr.io": "us", "eu.gcr.io": "europe", "asia.gcr.io": "asia"}

_AR_REF_RE = re.compile(
    r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repository>[^/]+)/"
    r"(?P<image>[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_GCR_REF_RE = re.compile(
    r"^(?P<host>(?:(?:us|eu|asia)\.)?gcr\.io)/(?P<project>[^/]+)/"
    r"(?P<image>[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    location: str
    project: str
    repository: str
    image: str  # the package: the path inside the repository, e.g. "app" or "team/app"
    tag: str | None
    digest: str | None
    host: str  # e.g. "us-central1-docker.pkg.dev" or "gcr.io"

    @property
    def repository_name(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/repositories/{self.repository}"

    @property
    def base_uri(self) -> str:
        if self.host.endswith("gcr.io"):
            return f"{self.host}/{self.project}/{self.image}"
        return f"{self.host}/{self.project}/{self.repository}/{self.image}"


def parse_image_ref(ref: str) -> ImageRef | None:
    """An Artifact Registry reference, or a gcr.io one (served from the repository named after its host)."""
    match = _AR_REF_RE.match(ref)
    if match:
        location, repository, host = match["location"], match["repository"], f"{match['location']}-docker.pkg.dev"
    elif match := _GCR_REF_RE.match(ref):
        location, repository, host = _GCR_HOSTS[match["host"]], match["host"], match["host"]
    else:
        return None
    return ImageRef(location, match["project"], repository, match["image"], match["tag"], match["digest"], host)


def _escape(package: str) -> str:
    """A package (image path) as it appears in resource names: "/" as %2F (artifactregistry_v1 types/package.py).

    Idempotent on an already escaped id: clients on google-api-core >= 2.x percent-encode path variables, so a
    resource name holding "team%2Fapp" arrives as "team%252Fapp" and reaches here, decoded once, as "team%2Fapp";
    older clients send "team%2Fapp", which arrives as "team/app". Both name the same package.
    """
    return quote(unquote(package), safe="")


def _repository_name(project: str, location: str, repository: str) -> str:
    return f"projects/{project}/locations/{location}/repositories/{repository}"


# -- in-process helpers --------------------------------------------------------------------------------------------
def _new_repository_doc(
    name: str, location: str, project: str, repository_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    now = now_rfc3339()
    doc: dict[str, Any] = {k: v for k, v in body.items() if k not in _REPOSITORY_OUTPUT_ONLY}
    doc.update(name=name, createTime=now, updateTime=now)
    doc.setdefault("mode", "STANDARD_REPOSITORY")
    # Each format is served from LOCATION-FORMAT.pkg.dev, the format in lowercase (registryUri,
    # https://cloud.google.com/artifact-registry/docs/repositories).
    host = str(doc.get("format", "")).lower()
    doc["registryUri"] = f"{location}-{host}.pkg.dev/{project}/{repository_id}"
    doc["sizeBytes"] = "0"
    doc["satisfiesPzs"] = False
    return doc


def record_image(
    emulator: Emulator,
    project: str,
    location: str,
    repository: str,
    image: str,
    tags: list[str],
    digest: str,
    size: int,
    executable: bool,
    local_id: str | None,
) -> dict[str, Any]:
    """Record a pushed image in a repository; returns the DockerImage document."""
    if not _DIGEST_RE.match(digest):
        raise invalid_argument(f"invalid digest {digest!r}")
    repo_name = _repository_name(project, location, repository)
    now = now_rfc3339()
    with emulator.mutation():
        repositories = emulator.state.table(REPOSITORIES)
        repo = repositories.get(repo_name)
        if repo is None and repository in _GCR_HOSTS and _GCR_HOSTS[repository] == location:
            # A push to gcr.io creates its repository when the pusher may (artifactregistry.repositories.createOnPush,
            # https://cloud.google.com/artifact-registry/docs/transition/gcr-repositories#create-on-push).
            repo = _new_repository_doc(repo_name, location, project, repository, {"format": "DOCKER"})
            repo["registryUri"] = f"{repository}/{project}"
            repositories[repo_name] = repo
        if repo is None:
            # What `docker push` prints for a missing repository (the registry's NAME_UNKNOWN error).
            raise not_found(f'name unknown: Repository "{repository}" not found')
        if repo.get("format") != "DOCKER":
            raise ApiError("FAILED_PRECONDITION", f'Repository "{repository}" is not a Docker repository')
        images = emulator.state.table(IMAGES)
        name = f"{repo_name}/dockerImages/{_escape(image)}@{digest}"
        prefix = f"{repo_name}/dockerImages/{_escape(image)}@"
        for other_name, other in images.items():
            if other_name.startswith(prefix) and other_name != name:
                moved = [t for t in other.get("tags", []) if t not in tags]
                if moved != other.get("tags", []):
                    other["tags"] = moved
                    other["updateTime"] = now
        host = f"{location}-docker.pkg.dev" if repository not in _GCR_HOSTS else repository
        uri = (
            f"{host}/{project}/{image}@{digest}"
            if repository in _GCR_HOSTS
            else f"{host}/{project}/{repository}/{image}@{digest}"
        )
        doc = images.get(name)
        if doc is None:
            doc = {
                "name": name,
                "uri": uri,
                "tags": [],
                "imageSizeBytes": str(size),
                "uploadTime": now,
                "mediaType": DOCKER_MANIFEST,
                "buildTime": now,
                "updateTime": now,
            }
            if not executable:
                doc["artifactType"] = PLACEHOLDER_ARTIFACT_TYPE
            images[name] = doc
        doc["tags"] = list(dict.fromkeys([*doc.get("tags", []), *tags]))
        doc["updateTime"] = now
        emulator.state.table(LOCAL)[name] = {"executable": executable, "localId": local_id}
        repo["sizeBytes"] = str(
            sum(int(d.get("imageSizeBytes", 0)) for n, d in images.items() if n.startswith(f"{repo_name}/"))
        )
        return copy_doc(doc)


def _find_image(emulator: Emulator, ref: ImageRef) -> tuple[dict[str, Any], dict[str, Any]] | None:
    prefix = f"{ref.repository_name}/dockerImages/{_escape(ref.image)}@"
    with emulator.state.lock:
        images = emulator.state.table(IMAGES)
        local = emulator.state.table(LOCAL)
        for name, doc in images.items():
            if not name.startswith(prefix):
                continue
            if ref.digest is not None:
                if name.endswith(f"@{ref.digest}") and (ref.tag is None or ref.tag in doc.get("tags", [])):
                    return copy_doc(doc), dict(local.get(name, {}))
            elif (ref.tag or "latest") in doc.get("tags", []):
                return copy_doc(doc), dict(local.get(name, {}))
    return None


def image_exists(emulator: Emulator, image_ref: str) -> bool:
    """Whether the repository holds the image (by tag, ``latest`` when none, or by digest), placeholder or not."""
    ref = parse_image_ref(image_ref)
    return ref is not None and _find_image(emulator, ref) is not None


def image_is_executable(emulator: Emulator, uri_or_digest: str) -> bool:
    if _DIGEST_RE.match(uri_or_digest):
        with emulator.state.lock:
            return any(
                name.endswith(f"@{uri_or_digest}") and facts.get("executable", False)
                for name, facts in emulator.state.table(LOCAL).items()
            )
    ref = parse_image_ref(uri_or_digest)
    found = _find_image(emulator, ref) if ref else None
    return bool(found and found[1].get("executable"))


def local_image_id(emulator: Emulator, image_ref: str) -> str | None:
    ref = parse_image_ref(image_ref)
    found = _find_image(emulator, ref) if ref else None
    if found is None or not found[1].get("executable"):
        return None
    local_id = found[1].get("localId")
    return str(local_id) if local_id else None


# -- views of the images: packages, versions, tags -------------------------------------------------------------------
def _images_of(emulator: Emulator, repo_name: str) -> list[dict[str, Any]]:
    with emulator.state.lock:
        prefix = f"{repo_name}/dockerImages/"
        return [copy_doc(d) for n, d in emulator.state.table(IMAGES).items() if n.startswith(prefix)]


def _split_image_name(name: str) -> tuple[str, str]:
    """``.../dockerImages/team%2Fapp@sha256:...`` -> ("team%2Fapp", "sha256:...")."""
    tail = name.rsplit("/dockerImages/", 1)[1]
    escaped, _, digest = tail.rpartition("@")
    return escaped, digest


def _version_doc(repo_name: str, image: dict[str, Any], local: dict[str, Any], *, full: bool) -> dict[str, Any]:
    escaped, digest = _split_image_name(image["name"])
    package = f"{repo_name}/packages/{escaped}"
    doc: dict[str, Any] = {
        "name": f"{package}/versions/{digest}",
        "createTime": image["uploadTime"],
        "updateTime": image["updateTime"],
        # DockerImage's imageSizeBytes, mediaType and buildTime appear as the Version's untyped metadata
        # (artifactregistry_v1 types/artifact.py, DockerImage docstring).
        "metadata": {
            "name": image["name"],
            "imageSizeBytes": image.get("imageSizeBytes", "0"),
            "mediaType": image.get("mediaType", DOCKER_MANIFEST),
            "buildTime": image.get("buildTime", image["uploadTime"]),
        },
    }
    if "artifactType" in image:
        doc["metadata"]["artifactType"] = image["artifactType"]
    if local and not local.get("executable", False):
        doc["annotations"] = {PLACEHOLDER_ANNOTATION: "recorded without a container engine: not a runnable image"}
    if full and image.get("tags"):
        doc["relatedTags"] = [
            {"name": f"{package}/tags/{tag}", "version": f"{package}/versions/{digest}"} for tag in image["tags"]
        ]
    return doc


def register(emulator: Emulator) -> None:
    router = emulator.router
    base = "/v1/projects/{project}/locations/{location}"
    repo_base = base + "/repositories/{repository}"

    def _get_repo(project: str, location: str, repository: str) -> dict[str, Any]:
        name = _repository_name(project, location, repository)
        with emulator.state.lock:
            doc = emulator.state.table(REPOSITORIES).get(name)
            if doc is None:
                raise not_found(f'Requested entity was not found. Repository "{name}" not found.')
            return copy_doc(doc)

    # -- locations --
    @router.route("GET", "/v1/projects/{project}/locations")
    def list_locations(req: Request, project: str) -> dict[str, Any]:
        emulator.authorize(req, "artifactregistry.locations.list", f"projects/{project}")
        locations = [{"name": f"projects/{project}/locations/{loc}", "locationId": loc} for loc in LOCATIONS]
        return paginate(locations, req, key="locations", default=100, maximum=1000)

    @router.route("GET", base)
    def get_location(req: Request, project: str, location: str) -> dict[str, Any]:
        emulator.authorize(req, "artifactregistry.locations.get", f"projects/{project}/locations/{location}")
        if location not in LOCATIONS:
            raise not_found(f"Location {location} not found.")
        return {"name": f"projects/{project}/locations/{location}", "locationId": location}

    # -- repositories --
    @router.route("POST", base + "/repositories")
    def create_repository(req: Request, project: str, location: str) -> dict[str, Any]:
        repository = protos.parse(artifactregistry_v1.Repository, req.body, field="repository")
        body = protos.to_json(repository)
        repository_id = req.param("repositoryId") or req.param("repository_id") or ""
        if not repository_id:
            raise invalid_argument("repository_id must be specified", field="repository_id")
        if len(repository_id) > 63 or not _REPOSITORY_ID_RE.match(repository_id):
            # Google's rule: a lowercase letter first, then lowercase letters, digits and hyphens, not ending in a
            # hyphen, at most 63 characters.
            raise invalid_argument(
                f'Invalid repository ID "{repository_id}": repository ID must start with a lowercase letter, contain '
                "only lowercase letters, numbers and hyphens, end with a letter or number, and be at most 63 "
                "characters long.",
                field="repository_id",
            )
        if body.get("format", "FORMAT_UNSPECIFIED") == "FORMAT_UNSPECIFIED":
            raise invalid_argument("Repository format must be specified.", field="repository.format")
        if location not in LOCATIONS:
            raise invalid_argument(f"Invalid location: {location}", field="parent")
        if body.get("mode") == "MODE_UNSPECIFIED":
            del body["mode"]
        check_cleanup_policies(body.get("cleanupPolicies") or {})
        name = _repository_name(project, location, repository_id)
        emulator.authorize(req, "artifactregistry.repositories.create", f"projects/{project}/locations/{location}")
        with emulator.mutation():
            repositories = emulator.state.table(REPOSITORIES)
            if name in repositories:
                # gcloud prints it as "ALREADY_EXISTS: the repository already exists".
                raise already_exists("the repository already exists")
            doc = _new_repository_doc(name, location, project, repository_id, body)
            repositories[name] = doc
            created = copy_doc(doc)

        def work(handle: OperationHandle) -> dict[str, Any]:
            return {"@type": REPOSITORY_TYPE, **created}

        operation = f"projects/{project}/locations/{location}/operations/{uuid.uuid4()}"
        emulator.start_operation(operation, {"@type": OPERATION_METADATA_TYPE}, work)
        # Answer the operation as created (not done), whatever the background work has reached meanwhile.
        return {"name": operation, "metadata": {"@type": OPERATION_METADATA_TYPE}, "done": False}

    @router.route("GET", base + "/repositories")
    def list_repositories(req: Request, project: str, location: str) -> dict[str, Any]:
        emulator.authorize(req, "artifactregistry.repositories.list", f"projects/{project}/locations/{location}")
        prefix = f"projects/{project}/locations/{location}/repositories/"
        with emulator.state.lock:
            docs = [copy_doc(d) for n, d in sorted(emulator.state.table(REPOSITORIES).items()) if n.startswith(prefix)]
        return paginate(docs, req, key="repositories", default=1000, maximum=1000)

    @router.route("GET", repo_base)
    def get_repository(req: Request, project: str, location: str, repository: str) -> dict[str, Any]:
        emulator.authorize(req, "artifactregistry.repositories.get", _repository_name(project, location, repository))
        return _get_repo(project, location, repository)

    @router.route("PATCH", repo_base)
    def update_repository(req: Request, project: str, location: str, repository: str) -> dict[str, Any]:
        update = protos.to_json(protos.parse(artifactregistry_v1.Repository, req.body, field="repository"))
        mask_param = req.param("updateMask") or req.param("update_mask") or ""
        fields = [_camel(f.strip()) for f in mask_param.split(",") if f.strip()] or [
            k for k in update if k not in _REPOSITORY_OUTPUT_ONLY
        ]
        for field in fields:
            if field not in _REPOSITORY_MUTABLE:
                raise invalid_argument(f"Invalid update_mask path: {field!r} cannot be updated", field="update_mask")
        if "cleanupPolicies" in fields:
            check_cleanup_policies(update.get("cleanupPolicies") or {})
        name = _repository_name(project, location, repository)
        emulator.authorize(req, "artifactregistry.repositories.update", name)
        with emulator.mutation():
            doc = emulator.state.table(REPOSITORIES).get(name)
            if doc is None:
                raise not_found(f'Requested entity was not found. Repository "{name}" not found.')
            for field in fields:
                if field in update:
                    doc[field] = update[field]
                else:
                    doc.pop(field, None)
            doc["updateTime"] = now_rfc3339()
            return copy_doc(doc)

    def _deleted(project: str, location: str) -> dict[str, Any]:
        """A delete's long-running operation, whose response is Empty."""

        def work(handle: OperationHandle) -> dict[str, Any]:
            return {"@type": EMPTY_TYPE}

        operation = f"projects/{project}/locations/{location}/operations/{uuid.uuid4()}"
        emulator.start_operation(operation, {"@type": OPERATION_METADATA_TYPE}, work)
        # Answer the operation as created (not done), whatever the background work has reached meanwhile.
        return {"name": operation, "metadata": {"@type": OPERATION_METADATA_TYPE}, "done": False}

    @router.route("DELETE", repo_base)
    def delete_repository(req: Request, project: str, location: str, repository: str) -> dict[str, Any]:
        name = _repository_name(project, location, repository)
        emulator.authorize(req, "artifactregistry.repositories.delete", name)
        with emulator.mutation():
            if emulator.state.table(REPOSITORIES).pop(name, None) is None:
                raise not_found(f'Requested entity was not found. Repository "{name}" not found.')
            for table in (IMAGES, LOCAL):
                rows = emulator.state.table(table)
                for key in [k for k in rows if k.startswith(f"{name}/")]:
                    del rows[key]
        return _deleted(project, location)

    # -- docker images --
    @router.route("GET", repo_base + "/dockerImages")
    def list_docker_images(req: Request, project: str, location: str, repository: str) -> dict[str, Any]:
        repo = _get_repo(project, location, repository)
        emulator.authorize(req, "artifactregistry.dockerimages.list", repo["name"])
        images = sorted(_images_of(emulator, repo["name"]), key=lambda d: d["name"])
        order_by = (req.param("orderBy") or "").strip()
        if order_by:
            key, _, direction = order_by.partition(" ")
            field = _camel(key)
            images.sort(key=lambda d: str(d.get(field, "")), reverse=direction.strip().lower() == "desc")
        return paginate(images, req, key="dockerImages", default=100, maximum=1000)

    @router.route("GET", repo_base + "/dockerImages/{image=**}")
    def get_docker_image(req: Request, project: str, location: str, repository: str, image: str) -> dict[str, Any]:
        repo = _get_repo(project, location, repository)
        # The id is one path segment (IMG@sha256:..., "/" in IMG escaped): a raw "/" does not name an image.
        raw_tail = req.raw_path.rsplit("/dockerImages/", 1)[1]
        name = f"{repo['name']}/dockerImages/{_escape_image_id(image)}"
        emulator.authorize(req, "artifactregistry.dockerimages.get", name)
        with emulator.state.lock:
            doc = emulator.state.table(IMAGES).get(name)
        if doc is None or "/" in raw_tail:
            raise not_found(f'Requested entity was not found. Docker image "{name}" not found.')
        return copy_doc(doc)

    # -- packages --
    @router.route("GET", repo_base + "/packages")
    def list_packages(req: Request, project: str, location: str, repository: str) -> dict[str, Any]:
        repo = _get_repo(project, location, repository)
        emulator.authorize(req, "artifactregistry.packages.list", repo["name"])
        return paginate(_packages(repo["name"]), req, key="packages", default=100, maximum=1000)

    def _packages(repo_name: str) -> list[dict[str, Any]]:
        by_package: dict[str, list[dict[str, Any]]] = {}
        for image in _images_of(emulator, repo_name):
            escaped, _ = _split_image_name(image["name"])
            by_package.setdefault(escaped, []).append(image)
        packages = []
        for escaped, images in sorted(by_package.items()):
            packages.append(
                {
                    "name": f"{repo_name}/packages/{escaped}",
                    "createTime": min(i["uploadTime"] for i in images),
                    "updateTime": max(i["updateTime"] for i in images),
                }
            )
        return packages

    def _package_images(
        req: Request, project: str, location: str, repository: str, package: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        repo = _get_repo(project, location, repository)
        escaped = _escape(package)
        images = [i for i in _images_of(emulator, repo["name"]) if _split_image_name(i["name"])[0] == escaped]
        if not images:
            raise not_found(f'Requested entity was not found. Package "{repo["name"]}/packages/{escaped}" not found.')
        return repo, images

    @router.route("GET", repo_base + "/packages/{package}")
    def get_package(req: Request, project: str, location: str, repository: str, package: str) -> dict[str, Any]:
        repo, _ = _package_images(req, project, location, repository, package)
        name = f"{repo['name']}/packages/{_escape(package)}"
        emulator.authorize(req, "artifactregistry.packages.get", name)
        return next(p for p in _packages(repo["name"]) if p["name"] == name)

    # -- versions --
    def _local_facts(image_name: str) -> dict[str, Any]:
        with emulator.state.lock:
            return dict(emulator.state.table(LOCAL).get(image_name, {}))

    @router.route("GET", repo_base + "/packages/{package}/versions")
    def list_versions(req: Request, project: str, location: str, repository: str, package: str) -> dict[str, Any]:
        repo, images = _package_images(req, project, location, repository, package)
        emulator.authorize(req, "artifactregistry.versions.list", f"{repo['name']}/packages/{_escape(package)}")
        full = req.param("view") in ("FULL", "2")
        versions = [_version_doc(repo["name"], i, _local_facts(i["name"]), full=full) for i in images]
        versions.sort(key=lambda v: v["name"])
        return paginate(versions, req, key="versions", default=100, maximum=1000)

    @router.route("GET", repo_base + "/packages/{package}/versions/{version=**}")
    def get_version(
        req: Request, project: str, location: str, repository: str, package: str, version: str
    ) -> dict[str, Any]:
        repo, images = _package_images(req, project, location, repository, package)
        name = f"{repo['name']}/packages/{_escape(package)}/versions/{version}"
        emulator.authorize(req, "artifactregistry.versions.get", name)
        full = req.param("view") in ("FULL", "2")
        for image in images:
            if _split_image_name(image["name"])[1] == version:
                return _version_doc(repo["name"], image, _local_facts(image["name"]), full=full)
        raise not_found(f'Requested entity was not found. Version "{name}" not found.')

    @router.route("DELETE", repo_base + "/packages/{package}/versions/{version=**}")
    def delete_version(
        req: Request, project: str, location: str, repository: str, package: str, version: str
    ) -> dict[str, Any]:
        """DeleteVersion (artifactregistry_v1 types/version.py, DeleteVersionRequest): "By default, a version that is
        tagged may not be deleted. If force=true, the version and any tags pointing to the version are deleted."""
        repo, images = _package_images(req, project, location, repository, package)
        name = f"{repo['name']}/packages/{_escape(package)}/versions/{version}"
        emulator.authorize(req, "artifactregistry.versions.delete", name)
        image = next((i for i in images if _split_image_name(i["name"])[1] == version), None)
        if image is None:
            raise not_found(f'Requested entity was not found. Version "{name}" not found.')
        if image.get("tags") and not req.flag("force"):
            # Unconfirmed wording; the rule is the request's documented one.
            raise ApiError("FAILED_PRECONDITION", f'Version "{name}" is tagged; delete it with force=true.')
        with emulator.mutation():
            for table in (IMAGES, LOCAL):
                emulator.state.table(table).pop(image["name"], None)
        return _deleted(project, location)

    # -- tags --
    def _tags(repo_name: str, package: str, images: list[dict[str, Any]]) -> list[dict[str, Any]]:
        package_name = f"{repo_name}/packages/{_escape(package)}"
        tags = []
        for image in images:
            digest = _split_image_name(image["name"])[1]
            for tag in image.get("tags", []):
                tags.append({"name": f"{package_name}/tags/{tag}", "version": f"{package_name}/versions/{digest}"})
        return sorted(tags, key=lambda t: t["name"])

    @router.route("GET", repo_base + "/packages/{package}/tags")
    def list_tags(req: Request, project: str, location: str, repository: str, package: str) -> dict[str, Any]:
        repo, images = _package_images(req, project, location, repository, package)
        emulator.authorize(req, "artifactregistry.tags.list", f"{repo['name']}/packages/{_escape(package)}")
        tags = _tags(repo["name"], package, images)
        wanted = (req.param("filter") or "").strip()
        if wanted:
            # The documented filter on tags is `version="<version name>"` (artifactregistry_v1 types/tag.py).
            match = re.fullmatch(r'version\s*=\s*"([^"]*)"', wanted)
            if match is None:
                raise invalid_argument(f"Invalid filter: {wanted}", field="filter")
            tags = [t for t in tags if t["version"] == match[1]]
        return paginate(tags, req, key="tags", default=100, maximum=1000)

    @router.route("GET", repo_base + "/packages/{package}/tags/{tag}")
    def get_tag(req: Request, project: str, location: str, repository: str, package: str, tag: str) -> dict[str, Any]:
        repo = _get_repo(project, location, repository)
        name = f"{repo['name']}/packages/{_escape(package)}/tags/{tag}"
        emulator.authorize(req, "artifactregistry.tags.get", name)
        escaped = _escape(package)
        images = [i for i in _images_of(emulator, repo["name"]) if _split_image_name(i["name"])[0] == escaped]
        for candidate in _tags(repo["name"], package, images):
            if candidate["name"] == name:
                return candidate
        raise not_found(f'Requested entity was not found. Tag "{name}" not found.')

    def _set_tag(req: Request, package_name: str, tag_id: str, version: str, permission: str) -> dict[str, Any]:
        """Point ``tag_id`` of the package at ``version`` (a Version name), moving it off any other version."""
        name = f"{package_name}/tags/{tag_id}"
        emulator.authorize(req, permission, name)
        digest = version.rsplit("/versions/", 1)[-1]
        prefix = package_name.replace("/packages/", "/dockerImages/", 1) + "@"
        with emulator.mutation():
            images = {n: d for n, d in emulator.state.table(IMAGES).items() if n.startswith(prefix)}
            target = images.get(prefix + digest)
            if target is None or not version.startswith(f"{package_name}/versions/"):
                raise invalid_argument(f"Tag version {version!r} is not a version of {package_name}", field="tag")
            for other in images.values():
                if tag_id in other.get("tags", []):
                    other["tags"] = [t for t in other["tags"] if t != tag_id]
            target["tags"] = [*target.get("tags", []), tag_id]
            target["updateTime"] = now_rfc3339()
        return {"name": name, "version": f"{package_name}/versions/{digest}"}

    @router.route("POST", repo_base + "/packages/{package}/tags")
    def create_tag(req: Request, project: str, location: str, repository: str, package: str) -> dict[str, Any]:
        # CreateTag: the body is the Tag, its id the tagId parameter (artifactregistry_v1 CreateTagRequest).
        repo = _get_repo(project, location, repository)
        tag = protos.to_json(protos.parse(artifactregistry_v1.Tag, req.body, field="tag"))
        tag_id = req.param("tagId") or req.param("tag_id") or ""
        if not re.fullmatch(r"[\w][\w.-]{0,127}", tag_id):
            raise invalid_argument(f"Invalid tag id {tag_id!r}", field="tag_id")
        package_name = f"{repo['name']}/packages/{_escape(package)}"
        if any(
            tag_id in i.get("tags", [])
            for i in _images_of(emulator, repo["name"])
            if i["name"].startswith(package_name.replace("/packages/", "/dockerImages/", 1) + "@")
        ):
            raise already_exists(f"Tag {tag_id} already exists")
        return _set_tag(req, package_name, tag_id, str(tag.get("version", "")), "artifactregistry.tags.create")

    @router.route("PATCH", repo_base + "/packages/{package}/tags/{tag}")
    def update_tag(
        req: Request, project: str, location: str, repository: str, package: str, tag: str
    ) -> dict[str, Any]:
        # UpdateTag moves a tag (update_mask "version"; artifactregistry_v1 UpdateTagRequest).
        repo = _get_repo(project, location, repository)
        body = protos.to_json(protos.parse(artifactregistry_v1.Tag, req.body, field="tag"))
        package_name = f"{repo['name']}/packages/{_escape(package)}"
        return _set_tag(req, package_name, tag, str(body.get("version", "")), "artifactregistry.tags.update")

    @router.route("POST", "/_emulator/artifactregistry/cleanup")
    def cleanup(req: Request) -> dict[str, Any]:
        doc = json.loads(req.body or b"{}")
        now = time.time() + float(doc.get("days_later", 0)) * 86400
        return {"deleted": run_cleanup(emulator, str(doc.get("repository", "")), now)}

    # -- operations (shared path with Cloud Build's regional operations: both read the one operations table) --
    @router.route("GET", base + "/operations/{operation}")
    def get_operation(req: Request, project: str, location: str, operation: str) -> dict[str, Any]:
        return emulator.get_operation(f"projects/{project}/locations/{location}/operations/{operation}")


def run_cleanup(emulator: Emulator, repository: str, now: float) -> list[str]:
    """Apply the repository's cleanup policies at ``now`` (seconds since the epoch), unless they are a dry run
    (``cleanupPolicyDryRun``); the names of the DockerImages deleted."""
    with emulator.mutation():
        repo = emulator.state.table(REPOSITORIES).get(repository)
        if repo is None:
            raise not_found(f'Requested entity was not found. Repository "{repository}" not found.')
        images = emulator.state.table(IMAGES)
        if repo.get("cleanupPolicyDryRun"):
            return []
        mine = [doc for name, doc in images.items() if name.startswith(f"{repository}/dockerImages/")]
        doomed = doomed_images(repo.get("cleanupPolicies") or {}, mine, now)
        for name in doomed:
            del images[name]
            emulator.state.table(LOCAL).pop(name, None)
        return doomed


def _escape_image_id(image_id: str) -> str:
    """``team/app@sha256:...`` -> ``team%2Fapp@sha256:...`` (the stored name form)."""
    image, _, digest = image_id.rpartition("@")
    if not image:
        return _escape(image_id)
    return f"{_escape(image)}@{digest}"


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
