"""Cloud Storage: the source bucket deployer's builds upload to, named and shaped as a ``Bucket`` resource.

Field meanings: https://cloud.google.com/storage/docs/json_api/v1/buckets#resource.
"""

from __future__ import annotations

import hashlib
from typing import Any

from deployer.gcp.bodies.labels import managed_by_label

BUCKET_NAME_MAX = 63  # a bucket name without dots is 3-63 characters (https://cloud.google.com/storage/docs/buckets)
_SUFFIX = "_cloudbuild"


def source_bucket_name(project: str, region: str) -> str:
    """``PROJECT_REGION_cloudbuild``: the regional source bucket, named as gcloud names it for regional builds
    (``gcloud builds submit --region R --default-buckets-behavior=regional-user-owned-bucket``), with gcloud's
    escapes (':' and '.' become '_', 'google' becomes 'elgoog': no bucket name may contain "google").

    The name is guessable, so it proves nothing: the bucket's ``projectNumber`` is checked before each upload
    (services/source_bucket.py). A name over 63 characters keeps the region and ends with a hash of the project.
    """
    escaped = project.replace(":", "_").replace(".", "_").replace("google", "elgoog")
    name = f"{escaped}_{region}{_SUFFIX}"
    if len(name) <= BUCKET_NAME_MAX:
        return name
    digest = hashlib.sha256(project.encode()).hexdigest()[:8]
    room = BUCKET_NAME_MAX - len(f"-{digest}_{region}{_SUFFIX}")
    return f"{escaped[:room].rstrip('-_')}-{digest}_{region}{_SUFFIX}"


def source_bucket_body(name: str, region: str, retention_days: int) -> dict[str, Any]:
    """The source bucket as deployer creates it: in the deploy's region (so EU sources stay in the EU, and an org
    policy restricting resource locations to a region allows it), uniform bucket-level access (IAM only, no object
    ACLs), public access prevention enforced, and a lifecycle rule deleting objects (sources and build logs) once
    ``retention_days`` old.

    Cloud Build accepts a user-owned source bucket in the build's region (cloudbuild_v1 ``StorageSource``; the
    regional default buckets are BuildOptions.DefaultLogsBucketBehavior ``REGIONAL_USER_OWNED_BUCKET``). The
    shapes: ``iamConfiguration.uniformBucketLevelAccess.enabled``, ``iamConfiguration.publicAccessPrevention``
    ("enforced" or "inherited"), ``lifecycle.rule[].action.type`` "Delete" with ``condition.age`` in days
    (https://cloud.google.com/storage/docs/lifecycle).
    """
    return {
        "name": name,
        "location": region,
        "storageClass": "STANDARD",
        "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}, "publicAccessPrevention": "enforced"},
        "lifecycle": {"rule": [{"action": {"type": "Delete"}, "condition": {"age": retention_days}}]},
        "labels": managed_by_label(),
    }
