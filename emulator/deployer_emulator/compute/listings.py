"""The read-only resources: images, accelerator and machine types, regions, zones and the project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.cloud import compute_v1

from deployer_emulator.compute import catalogue
from deployer_emulator.compute.base import API, EMPTY_FINGERPRINT, _check_query, _stable_id
from deployer_emulator.compute.errors import _not_found
from deployer_emulator.compute.filters import _aggregated, _filter, _list_response, _order, _plain_list
from deployer_emulator.compute.operations import Operations
from deployer_emulator.compute.quotas import Quotas
from deployer_emulator.core import Request

# Machine and accelerator types carry the zero Unix time in Pacific time (seen in every machineTypes.get answer).
_CATALOGUE_TIMESTAMP = "1969-12-31T16:00:00.000-08:00"

_COS_GUEST_OS_FEATURES = [
    {"type": "VIRTIO_SCSI_MULTIQUEUE"},
    {"type": "SEV_CAPABLE"},
    {"type": "UEFI_COMPATIBLE"},
    {"type": "GVNIC"},
]


def _image_doc(image: catalogue.CosImage) -> dict[str, Any]:
    channel = image.family.removeprefix("cos-").replace("-lts", " LTS")
    return {
        "kind": "compute#image",
        "id": _stable_id(image.name),
        "creationTimestamp": "2026-10-15T10:21:43.510+00:00",
        "name": image.name,
        "description": f"Google, Container-Optimized OS, {image.version} {channel}, Kernel: ChromiumOS-6.1.100 "
        f"Docker: 24.0.9 Family: {image.family}, supports Shielded VM features",
        "sourceType": "RAW",
        "status": "READY",
        "archiveSizeBytes": "1363058176",
        "diskSizeGb": str(catalogue.COS_IMAGE_GB),
        "licenses": [API + f"projects/{catalogue.COS_PROJECT}/global/licenses/cos"],
        "family": image.family,
        "selfLink": API + f"projects/{catalogue.COS_PROJECT}/global/images/{image.name}",
        "labelFingerprint": EMPTY_FINGERPRINT,
        "guestOsFeatures": _COS_GUEST_OS_FEATURES,
        "licenseCodes": ["1001010"],
        "storageLocations": ["eu", "asia", "us"],
        "architecture": "X86_64",
    }


class Listings(Operations, Quotas):
    """The handlers of what the catalogue holds."""

    def image_from_family(self, req: Request, project: str, family: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetFromFamilyImageRequest, path=("project", "family"))
        self._authorize_image(
            req, project, "compute.images.getFromFamily", f"projects/{project}/global/images/family/{family}"
        )
        found = catalogue.find_image(project, family=family)
        if found is None:
            raise _not_found(f"projects/{project}/global/images/family/{family}")
        return _image_doc(found)

    def get_image(self, req: Request, project: str, image: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetImageRequest, path=("project", "image"))
        self._authorize_image(req, project, "compute.images.get", f"projects/{project}/global/images/{image}")
        found = catalogue.find_image(project, name=image)
        if found is None:
            raise _not_found(f"projects/{project}/global/images/{image}")
        return _image_doc(found)

    def list_images(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListImagesRequest, path=("project",))
        self._authorize_image(req, project, "compute.images.list", f"projects/{project}")
        predicate = _filter(req)
        docs = [_image_doc(i) for i in catalogue.COS_IMAGES if project == catalogue.COS_PROJECT]
        return _list_response(
            "compute#imageList",
            f"projects/{project}/global/images",
            _order([d for d in docs if predicate(d)], req),
            req,
        )

    def _authorize_image(self, req: Request, project: str, permission: str, resource: str) -> None:
        # Public image projects (cos-cloud) let every authenticated caller read their images
        # (https://cloud.google.com/compute/docs/images#os-compute-support): no check applies there.
        if project != catalogue.COS_PROJECT:
            self.emulator.authorize(req, permission, resource)

    # -- the catalogue: accelerator types, machine types, regions, zones, project -----------------------------------
    def _accelerator_doc(self, project: str, zone: str, name: str) -> dict[str, Any]:
        accelerator = catalogue.ACCELERATORS[name]
        return {
            "kind": "compute#acceleratorType",
            "id": _stable_id(name),
            "creationTimestamp": _CATALOGUE_TIMESTAMP,
            "name": name,
            "description": accelerator.description,
            "zone": API + f"projects/{project}/zones/{zone}",
            "maximumCardsPerInstance": accelerator.max_cards,
            "selfLink": API + f"projects/{project}/zones/{zone}/acceleratorTypes/{name}",
        }

    def _accelerator_docs(self, project: str, zone: str) -> list[dict[str, Any]]:
        return [self._accelerator_doc(project, zone, n) for n in sorted(catalogue.ZONES[zone])]

    def _zonal_aggregated(
        self,
        req: Request,
        project: str,
        request_type: Any,
        collection: str,
        docs_in: Callable[[str], list[dict[str, Any]]],
    ) -> dict[str, Any]:
        """An aggregatedList of a zonal catalogue ``collection`` (acceleratorTypes, machineTypes)."""
        _check_query(req, request_type, path=("project",))
        self.emulator.authorize(req, f"compute.{collection}.list", f"projects/{project}")
        kind = f"compute#{collection.removesuffix('s')}AggregatedList"
        return _aggregated_over_zones(project, req, collection, kind, docs_in)

    def _zonal_list(
        self,
        req: Request,
        project: str,
        zone: str,
        request_type: Any,
        collection: str,
        docs_in: Callable[[str], list[dict[str, Any]]],
        *,
        ordered: bool = False,
    ) -> dict[str, Any]:
        """A list of a zonal catalogue ``collection`` in ``zone``, filtered, and sorted by orderBy when ``ordered``."""
        _check_query(req, request_type, path=("project", "zone"))
        self.emulator.authorize(req, f"compute.{collection}.list", f"projects/{project}/zones/{zone}")
        self._zone_or_404(project, zone)
        predicate = _filter(req)
        docs = [d for d in docs_in(zone) if predicate(d)]
        kind = f"compute#{collection.removesuffix('s')}List"
        return _plain_list(project, req, f"zones/{zone}/{collection}", kind, _order(docs, req) if ordered else docs)

    def aggregated_accelerator_types(self, req: Request, project: str) -> dict[str, Any]:
        return self._zonal_aggregated(
            req,
            project,
            compute_v1.AggregatedListAcceleratorTypesRequest,
            "acceleratorTypes",
            lambda zone: self._accelerator_docs(project, zone),
        )

    def list_accelerator_types(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        return self._zonal_list(
            req,
            project,
            zone,
            compute_v1.ListAcceleratorTypesRequest,
            "acceleratorTypes",
            lambda zone: self._accelerator_docs(project, zone),
        )

    def get_accelerator_type(self, req: Request, project: str, zone: str, accelerator_type: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetAcceleratorTypeRequest, path=("project", "zone", "accelerator_type"))
        resource = f"projects/{project}/zones/{zone}/acceleratorTypes/{accelerator_type}"
        self.emulator.authorize(req, "compute.acceleratorTypes.get", resource)
        self._zone_or_404(project, zone)
        if accelerator_type not in catalogue.ZONES[zone]:
            raise _not_found(resource)
        return self._accelerator_doc(project, zone, accelerator_type)

    def _machine_type_doc(self, project: str, zone: str, shape: catalogue.MachineShape) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": "compute#machineType",
            "id": _stable_id(shape.name),
            "creationTimestamp": _CATALOGUE_TIMESTAMP,
            "name": shape.name,
            "description": shape.description,
            "guestCpus": shape.cpus,
            "memoryMb": shape.memory_mb,
            "imageSpaceGb": 0,
            "maximumPersistentDisks": 128,
            "maximumPersistentDisksSizeGb": "263168",
            "zone": zone,  # the bare zone name (MachineType.zone docstring)
            "selfLink": API + f"projects/{project}/zones/{zone}/machineTypes/{shape.name}",
            "isSharedCpu": shape.shared_cpu,
            "architecture": "X86_64",
        }
        if shape.gpu is not None:
            doc["accelerators"] = [{"guestAcceleratorType": shape.gpu, "guestAcceleratorCount": shape.gpu_count}]
        return doc

    def _machine_type_docs(self, project: str, zone: str) -> list[dict[str, Any]]:
        return [self._machine_type_doc(project, zone, s) for s in catalogue.machine_types_in(zone)]

    def list_machine_types(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        return self._zonal_list(
            req,
            project,
            zone,
            compute_v1.ListMachineTypesRequest,
            "machineTypes",
            lambda zone: self._machine_type_docs(project, zone),
            ordered=True,
        )

    def aggregated_machine_types(self, req: Request, project: str) -> dict[str, Any]:
        return self._zonal_aggregated(
            req,
            project,
            compute_v1.AggregatedListMachineTypesRequest,
            "machineTypes",
            lambda zone: sorted(self._machine_type_docs(project, zone), key=lambda d: d["name"]),
        )

    def get_machine_type(self, req: Request, project: str, zone: str, machine_type: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetMachineTypeRequest, path=("project", "zone", "machine_type"))
        resource = f"projects/{project}/zones/{zone}/machineTypes/{machine_type}"
        self.emulator.authorize(req, "compute.machineTypes.get", resource)
        self._zone_or_404(project, zone)
        shape = catalogue.MACHINE_TYPES.get(machine_type)
        if shape is None or shape not in catalogue.machine_types_in(zone):
            raise _not_found(resource)
        return self._machine_type_doc(project, zone, shape)

    def _region_doc(self, project: str, region: str) -> dict[str, Any]:
        return {
            "kind": "compute#region",
            "id": _stable_id(region),
            "creationTimestamp": _CATALOGUE_TIMESTAMP,
            "name": region,
            "description": region,
            "status": "UP",
            "zones": [API + f"projects/{project}/zones/{zone}" for zone in catalogue.REGIONS[region]],
            "quotas": self._quota_docs(project, region),
            "selfLink": API + f"projects/{project}/regions/{region}",
            "supportsPzs": True,
        }

    def get_region(self, req: Request, project: str, region: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetRegionRequest, path=("project", "region"))
        self.emulator.authorize(req, "compute.regions.get", f"projects/{project}/regions/{region}")
        with self._reading():
            self._region_or_404(project, region)
            return self._region_doc(project, region)

    def list_regions(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListRegionsRequest, path=("project",))
        self.emulator.authorize(req, "compute.regions.list", f"projects/{project}")
        predicate = _filter(req)
        with self._reading():
            docs = [self._region_doc(project, r) for r in sorted(catalogue.REGIONS)]
        return _plain_list(
            project, req, "regions", "compute#regionList", _order([d for d in docs if predicate(d)], req)
        )

    def _zone_doc(self, project: str, zone: str) -> dict[str, Any]:
        platforms = sorted(
            {
                catalogue.CPU_PLATFORM[m.family]
                for m in catalogue.machine_types_in(zone)
                if m.family in catalogue.CPU_PLATFORM
            }
        )
        return {
            "kind": "compute#zone",
            "id": _stable_id(zone),
            "creationTimestamp": _CATALOGUE_TIMESTAMP,
            "name": zone,
            "description": zone,
            "status": "UP",
            "region": API + f"projects/{project}/regions/{catalogue.region_of(zone)}",
            "selfLink": API + f"projects/{project}/zones/{zone}",
            "availableCpuPlatforms": platforms,
            "supportsPzs": True,
        }

    def get_zone(self, req: Request, project: str, zone: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetZoneRequest, path=("project", "zone"))
        self.emulator.authorize(req, "compute.zones.get", f"projects/{project}/zones/{zone}")
        self._zone_or_404(project, zone)
        return self._zone_doc(project, zone)

    def list_zones(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.ListZonesRequest, path=("project",))
        self.emulator.authorize(req, "compute.zones.list", f"projects/{project}")
        predicate = _filter(req)
        docs = [self._zone_doc(project, z) for z in sorted(catalogue.ZONES)]
        return _plain_list(project, req, "zones", "compute#zoneList", _order([d for d in docs if predicate(d)], req))

    def get_project(self, req: Request, project: str) -> dict[str, Any]:
        _check_query(req, compute_v1.GetProjectRequest, path=("project",))
        self.emulator.authorize(req, "compute.projects.get", f"projects/{project}")
        number = self.emulator.project_number(project)
        with self._reading():
            quotas = self._quota_docs(project, "global")
        return {
            "kind": "compute#project",
            "id": number,
            "name": project,
            "commonInstanceMetadata": {"kind": "compute#metadata", "fingerprint": EMPTY_FINGERPRINT},
            "quotas": quotas,
            "selfLink": API + f"projects/{project}",
            "defaultServiceAccount": f"{number}-compute@developer.gserviceaccount.com",
            "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
            "defaultNetworkTier": "PREMIUM",
            "vmDnsSetting": "ZONAL_ONLY",
        }


def _aggregated_over_zones(
    project: str, req: Request, key: str, kind: str, docs_of: Callable[[str], list[dict[str, Any]]]
) -> dict[str, Any]:
    """An aggregated list of what the catalogue holds in each zone (``docs_of(zone)``), filtered."""
    predicate = _filter(req)
    entries = [(zone, doc) for zone in sorted(catalogue.ZONES) for doc in docs_of(zone) if predicate(doc)]
    return _aggregated(project, req, key, kind, entries)
