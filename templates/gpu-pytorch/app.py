"""A PyTorch model behind a JSON API, on the GPU when there is one: replace the model with yours.

Load the model once, at start-up (here at import time), never per request. Large weights belong in Cloud Storage
(downloaded at start-up, or mounted as a volume), not in the image.
"""

from __future__ import annotations

import os

import torch
from fastapi import FastAPI
from pydantic import BaseModel

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
FEATURES = 4

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)).to(DEVICE).eval()

app = FastAPI(title="gpu-pytorch")


class PredictRequest(BaseModel):
    inputs: list[list[float]]  # one row of FEATURES numbers per example


class PredictResponse(BaseModel):
    outputs: list[float]
    device: str


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "device": DEVICE.type}


@app.get("/")
def hello() -> dict[str, str | bool | None]:
    """Which torch, CUDA and GPU answered, and from which Cloud Run revision."""
    gpu = torch.cuda.get_device_name(0) if DEVICE.type == "cuda" else None
    return {
        "message": "Hello from the gpu-pytorch template",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": gpu,
        "device": DEVICE.type,
        "revision": os.environ.get("K_REVISION", "local"),
    }


@app.post("/predict")
def predict(request: PredictRequest) -> PredictResponse:
    batch = torch.tensor(request.inputs, dtype=torch.float32, device=DEVICE).reshape(-1, FEATURES)
    with torch.inference_mode():
        outputs = model(batch).squeeze(1)
    return PredictResponse(outputs=outputs.cpu().tolist(), device=DEVICE.type)
