"""A small JSON API: replace the handlers with your model's.

Run locally: ``uvicorn app:app --reload`` (http://127.0.0.1:8000/docs).
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="python-api")


class PredictRequest(BaseModel):
    inputs: list[float]


class PredictResponse(BaseModel):
    count: int
    mean: float


@app.get("/")
def hello() -> dict[str, str]:
    return {
        "message": "Hello from the python-api template",
        # Cloud Run sets these; they say which revision answered.
        "service": os.environ.get("K_SERVICE", "local"),
        "revision": os.environ.get("K_REVISION", "local"),
    }


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(request: PredictRequest) -> PredictResponse:
    # Stand-in for a model: load the real one once at import time, not per request.
    values = request.inputs
    return PredictResponse(count=len(values), mean=sum(values) / len(values) if values else 0.0)
