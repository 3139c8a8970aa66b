"""A Cloud Run GPU comes with its driver preinstalled, and an image built for a newer CUDA major version than that
driver supports does not start on it.

The drivers: L4 535.x (CUDA 12.2), RTX PRO 6000 580.x (CUDA 13.0) (https://cloud.google.com/run/docs/configuring/services/gpu,
"Supported GPU types"). Within one major version CUDA's minor version compatibility lets a 12.4 build run on the 12.2
driver; across majors it needs NVIDIA's forward-compatibility packages (reference cloud-run-jobs-gpu-traffic.md
section 2.2).
"""

from __future__ import annotations

import re

from deployer.services.lint.dockerfile import Dockerfile
from deployer.services.lint.finding import Finding

DRIVER_CUDA = {"nvidia-l4": (12, 2), "nvidia-rtx-pro-6000": (13, 0)}
# nvidia/cuda:12.4.1-runtime-ubuntu22.04, pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime, ...-cu124
_CUDA_IN_TAG = re.compile(r"(?::|-)(?:cuda)?(\d{2})\.(\d)(?:\.\d+)?(?:-|$)|-cu(\d{2})(\d)\b")


def cuda_of(image: str) -> tuple[int, int] | None:
    """The CUDA version an image's tag names, if it names one."""
    if "cuda" not in image and "-cu" not in image:
        return None
    tag = image.rsplit(":", 1)[-1] if ":" in image else ""
    match = _CUDA_IN_TAG.search(f":{tag}") if tag else None
    if match is None:
        return None
    major, minor = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return int(major), int(minor)


def cuda_driver_findings(dockerfile: Dockerfile, gpu_type: str) -> list[Finding]:
    """An error when the final image's CUDA major version is newer than the Cloud Run GPU's driver supports."""
    driver = DRIVER_CUDA.get(gpu_type)
    if driver is None:
        return []
    findings: list[Finding] = []
    for stage in dockerfile.lineage(dockerfile.final):
        cuda = cuda_of(stage.image)
        if cuda is not None and cuda[0] > driver[0]:
            findings.append(
                Finding(
                    "cuda-driver",
                    "error",
                    stage.line,
                    f"{stage.image} is built for CUDA {cuda[0]}.{cuda[1]}; Cloud Run's {gpu_type} driver supports CUDA "
                    f"{driver[0]}.{driver[1]}, so the container's GPU calls fail",
                    f"use a CUDA {driver[0]}.x base image (or add NVIDIA's forward-compatibility packages)",
                )
            )
    return findings
