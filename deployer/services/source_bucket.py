"""The source bucket a build uploads to: planned in the deploy's region, and proven ours before every upload.

Bucket names are one global namespace and ``PROJECT_REGION_cloudbuild`` is guessable: anyone can create it first
and let this project's source archives (code, weights, data) flow into their bucket. So a bucket that exists is
used only when its ``projectNumber`` is this project's number, as Resource Manager gives it; otherwise the build
stops before anything is uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployer.errors import DeployerError
from deployer.gcp import GoogleCloud
from deployer.gcp.bodies.storage import source_bucket_body, source_bucket_name
from deployer.plan import Action, Plan, Step


@dataclass
class SourceBucket:
    """The bucket a build's source goes to; ``owner`` is its project number once known (None: not created yet)."""

    cloud: GoogleCloud
    project: str
    name: str
    owner: str | None
    created: bool = False  # made by this run: the create's answer already said whose it is

    @property
    def exists(self) -> bool:
        return self.owner is not None

    def check_ours(self) -> None:
        """Refuse (exit 1, with the fix) unless the bucket belongs to this project: called before every upload."""
        if self.owner is None or self.created:
            return
        found = self.cloud.resource_manager.project_number(self.project)
        if found is None:
            raise DeployerError(
                f"cannot tell whether gs://{self.name} belongs to project {self.project}: the project's number "
                "is not readable",
                f"grant the caller resourcemanager.projects.get on {self.project} (roles/browser), then retry",
            )
        if found != self.owner:
            raise DeployerError(
                f"the source bucket gs://{self.name} belongs to another project (number {self.owner}, not "
                f"{self.project}'s {found}): nothing was uploaded",
                f"the name is taken: deploy to another region (region = in deployer.toml), or have the owner of "
                f"project {self.owner} delete the bucket; never grant it access to your sources",
            )


def plan_source_bucket(cloud: GoogleCloud, project: str, region: str, retention_days: int, plan: Plan) -> SourceBucket:
    """Read the bucket (one GET) and add its step: a no-op when it exists, else its creation in ``region``."""
    storage = cloud.storage(project)
    name = source_bucket_name(project, region)
    bucket = SourceBucket(cloud, project, name, storage.bucket_owner(name))
    if bucket.exists:
        plan.add(Step(Action.NOOP, f"gs://{name}", "source bucket exists"))
        return bucket
    body = source_bucket_body(name, region, retention_days)

    def create() -> None:
        bucket.owner, bucket.created = storage.create_bucket(body), True

    plan.add(
        Step(
            Action.CREATE,
            f"gs://{name}",
            f"create the source bucket in {region} (uniform access, no public access, sources deleted after "
            f"{retention_days} days)",
            {"method": "POST", "url": f"/storage/v1/b?project={project}", "body": body},
            apply=create,
        )
    )
    return bucket
