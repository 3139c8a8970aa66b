"""Reconciliation (run/reconcile.py): failed revisions leave traffic where it was; traffic splits and tags."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.cloud import run_v2
from run_support import (
    BY_REVISION,
    FAILED,
    LATEST,
    LOCATION,
    PARENT,
    PROJECT,
    REVISION_RE,
    create,
    revisions_client,
    service_body,
    services_client,
    short,
)

MISSING_AR_IMAGE = f"{LOCATION}-docker.pkg.dev/{PROJECT}/apps/missing:v1"


def test_a_revision_whose_image_is_missing_fails_and_traffic_stays(emulator: Any) -> None:
    client = services_client(emulator.url)
    good = create(emulator.url, "keep")
    good.template.containers[0].image = MISSING_AR_IMAGE

    operation = client.update_service(service=good)
    with pytest.raises(gexc.InternalServerError) as failure:
        operation.result(timeout=60)

    after = client.get_service(name=good.name)
    failed_revision = short(after.latest_created_revision)
    assert re.fullmatch(REVISION_RE.format(service="keep", n=2), failed_revision)
    message = (
        f"Revision '{failed_revision}' is not ready and cannot serve traffic. Image '{MISSING_AR_IMAGE}' not found."
    )
    assert failure.value.message == message
    assert after.latest_ready_revision == good.latest_ready_revision
    assert after.generation == 2
    assert after.observed_generation == 1
    assert after.terminal_condition.state == FAILED
    assert after.terminal_condition.message == message
    assert [(s.type_, s.percent) for s in after.traffic_statuses] == [(LATEST, 100)]
    assert after.reconciling is False
    revision = revisions_client(emulator.url).get_revision(name=after.latest_created_revision)
    ready = revision.conditions[0]
    assert (ready.type_, ready.state, ready.reason.name) == ("Ready", FAILED, "CONTAINER_MISSING")
    assert ready.message == f"Image '{MISSING_AR_IMAGE}' not found."


def test_a_first_deploy_that_fails_leaves_a_service_serving_nothing(emulator: Any) -> None:
    client = services_client(emulator.url)
    operation = client.create_service(parent=PARENT, service_id="never", service=service_body(MISSING_AR_IMAGE))
    with pytest.raises(gexc.InternalServerError):
        operation.result(timeout=60)

    service = client.get_service(name=f"{PARENT}/services/never")
    assert service.terminal_condition.state == FAILED
    assert service.latest_ready_revision == ""
    assert re.fullmatch(REVISION_RE.format(service="never", n=1), short(service.latest_created_revision))
    assert list(service.traffic_statuses) == []
    assert service.observed_generation == 0


def test_traffic_split_and_tags(emulator: Any) -> None:
    client = services_client(emulator.url)
    first = create(emulator.url, "split")
    first.template.containers[0].image = "docker.io/library/python:3.11-slim"
    second = client.update_service(service=first).result(timeout=60)
    old, new = short(first.latest_ready_revision), short(second.latest_ready_revision)
    second.traffic = [
        run_v2.TrafficTarget(type_=BY_REVISION, revision=old, percent=90),
        run_v2.TrafficTarget(type_=BY_REVISION, revision=new, percent=10, tag="canary"),
    ]

    third = client.update_service(service=second).result(timeout=60)

    assert third.generation == 3
    assert third.latest_created_revision == second.latest_created_revision  # traffic alone makes no revision
    statuses = [(s.type_, s.revision, s.percent, s.tag, s.uri) for s in third.traffic_statuses]
    canary_uri = f"{emulator.url}/_emulator/run/{PROJECT}/{LOCATION}/canary---split"
    assert statuses == [(BY_REVISION, old, 90, "", ""), (BY_REVISION, new, 10, "canary", canary_uri)]
    answer = requests.get(canary_uri, timeout=10)
    assert answer.status_code == 503
    assert "tag 'canary' of Cloud Run service 'split'" in answer.text


def test_traffic_to_a_revision_that_does_not_exist_fails_the_operation(emulator: Any) -> None:
    client = services_client(emulator.url)
    service = create(emulator.url, "ghost")
    service.traffic = [run_v2.TrafficTarget(type_=BY_REVISION, revision="ghost-00009-zzz", percent=100)]

    with pytest.raises(gexc.InternalServerError) as failure:
        client.update_service(service=service).result(timeout=60)

    assert failure.value.message == (
        "Revision 'ghost-00009-zzz' does not exist or is deleted. "
        "Update all traffic to route to currently available revisions."
    )
    after = client.get_service(name=service.name)
    assert [(s.type_, s.percent) for s in after.traffic_statuses] == [(LATEST, 100)]
