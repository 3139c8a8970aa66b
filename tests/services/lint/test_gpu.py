"""Pure tier: a Cloud Run GPU's driver against the CUDA an image is built for (services/lint/gpu.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.services.lint import lint_for_deploy
from deployer.services.lint.gpu import cuda_of


@pytest.mark.parametrize(
    ("image", "cuda"),
    [
        ("pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime", (12, 4)),
        ("nvidia/cuda:13.0.1-runtime-ubuntu24.04", (13, 0)),
        ("vllm/vllm-openai:v0.6-cu130", (13, 0)),
        ("python:3.12-slim", None),
    ],
)
def test_the_cuda_version_is_read_from_the_tag(image: str, cuda: tuple[int, int] | None) -> None:
    assert cuda_of(image) == cuda


def test_a_cuda_13_image_on_an_l4_is_an_error_and_fine_on_an_rtx_pro_6000(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04\nCMD ["python3", "-m", "http.server"]\n')

    on_l4 = [f for f in lint_for_deploy(dockerfile, "run", gpu_type="nvidia-l4") if f.rule == "cuda-driver"]
    on_rtx = [f for f in lint_for_deploy(dockerfile, "run", gpu_type="nvidia-rtx-pro-6000") if f.rule == "cuda-driver"]
    without = [f for f in lint_for_deploy(dockerfile, "run") if f.rule == "cuda-driver"]

    assert len(on_l4) == 1
    assert on_l4[0].severity == "error"
    assert "CUDA 12.2" in on_l4[0].message
    assert on_rtx == []
    assert without == []


def test_the_gpu_pytorch_template_fits_the_l4_driver() -> None:
    template = Path(__file__).resolve().parents[3] / "templates" / "gpu-pytorch" / "Dockerfile"
    findings = lint_for_deploy(template, "run", gpu_type="nvidia-l4")
    assert [f for f in findings if f.rule == "cuda-driver"] == []
