"""The ``deployed-…`` tag a deploy puts on the image it deployed, so that cleanup policies keep it.

Artifact Registry's cleanup policies (bootstrap's, gcp/bodies/artifactregistry.py) delete old build tags; a KEEP
policy on the ``deployed-`` prefix wins over them (a version matching both a delete and a keep policy is kept:
https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview), so the image a service, a
job or a VM runs is never deleted under it. Each target has one tag (``deployed-run-api``, ``deployed-vm-trainer``)
that moves to the new image on each deploy.
"""

from __future__ import annotations

import re

from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.artifactregistry import deployed_tag
from deployer.reporter import Reporter

# LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:… (a domain-scoped project's ':' is a '/' there).
_REFERENCE = re.compile(
    r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^@]+)/(?P<repository>[^/@]+)/"
    r"(?P<package>[^/@:]+)@(?P<digest>sha256:[0-9a-f]{64})$"
)


def tag_deployed(cloud: GoogleCloud, reporter: Reporter, reference: str, kind: str, name: str) -> None:
    """Tag the Artifact Registry image ``reference`` (``IMAGE@sha256:…``) as deployed by the target ``kind``/``name``.

    An image elsewhere (Docker Hub, another registry) is not ours to tag. A refused tag does not undo a deploy
    that is serving: it is a warning that cleanup may delete the image.
    """
    match = _REFERENCE.match(reference)
    if match is None:
        return
    project = match["project"].replace("/", ":")
    tag = deployed_tag(kind, name)
    try:
        cloud.artifact_registry.set_tag(
            project, match["location"], match["repository"], match["package"], tag, match["digest"]
        )
    except DeployerError as exc:
        reporter.warn(f"could not tag the deployed image {tag} ({exc.message}): cleanup policies may delete it")
