"""Cloud Quotas API v1: a quota's value in effect for a project in one region (``QuotaInfo``).

``GET /v1/projects/P/locations/global/services/SERVICE/quotaInfos/QUOTA_ID`` answers a QuotaInfo whose
``dimensions_infos[]`` each carry ``dimensions`` (e.g. ``{"region": "us-central1"}``; none: every other region),
``details.value`` (the value enforced) and ``applicable_locations`` (google-cloud-quotas ``cloudquotas_v1.QuotaInfo``,
``DimensionsInfo``, ``QuotaDetails``; https://cloud.google.com/docs/quotas/reference/rest/v1/projects.locations.services.quotaInfos).
"""

from __future__ import annotations

from deployer.gcp.clients import Clients
from deployer.gcp.errors import google_call, none_if_missing


class CloudQuotasAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def region_value(self, project: str, service: str, quota_id: str, region: str) -> int | None:
        """The value of ``quota_id`` in effect for ``project`` in ``region``; None when Google reports no such quota
        (unknown there: the caller says it was not checked rather than assume zero)."""
        name = f"projects/{project}/locations/global/services/{service}/quotaInfos/{quota_id}"
        with google_call(f"reading the {quota_id} quota of {service}", project=project):
            info = none_if_missing(lambda: self._clients.cloud_quotas.get_quota_info(name=name))
        if info is None:
            return None
        fallback: int | None = None
        for dimensions_info in info.dimensions_infos:
            dimensions = dict(dimensions_info.dimensions)
            if dimensions.get("region") == region:
                return int(dimensions_info.details.value)
            if "region" not in dimensions:
                fallback = int(dimensions_info.details.value)
        return fallback
