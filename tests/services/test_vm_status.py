"""Pure tier: what `deployer status` reads back from a VM's user-data and serial console."""

from __future__ import annotations

from deployer.gcp.bodies.cloud_init import ContainerSpec, render_user_data
from deployer.services.vm_status import container_state, driver_state, image_of

IMAGE = "europe-west4-docker.pkg.dev/my-proj/deployer/trainer@sha256:" + "ab" * 32


def test_the_image_is_read_back_from_the_rendered_user_data() -> None:
    spec = ContainerSpec(
        name="trainer",
        image=IMAGE,
        ports=(8080,),
        env=(("A", "two words"),),
        command=("python", "-m", "train"),
        args=("--epochs", "10"),
        gpu_count=2,
    )
    assert image_of(render_user_data(spec)) == IMAGE
    assert image_of("#cloud-config\n") == ""
    assert image_of(None) == ""


def test_container_state_is_the_last_thing_systemd_said_about_the_app_unit() -> None:
    lines = [
        "[    5.1] cloud-init[600]: Cloud-init v. 22.4 running 'modules:final'",
        "[  OK  ] Started deployer: the trainer container.",
        "training epoch 1",
        "deployer-app.service: Main process exited, code=exited, status=1/FAILURE",
        "deployer-app.service: Scheduled restart job, restart counter is at 1.",
    ]
    assert container_state("trainer", lines).startswith("restarting (deployer-app.service: Scheduled restart job")
    assert container_state("trainer", lines[:3]).startswith(
        "running ([  OK  ] Started deployer: the trainer container."
    )
    assert container_state("trainer", lines[:1]) == "not reported on the serial console yet"
    # Another VM's unit description does not count.
    assert container_state("other", lines[:2]) == "not reported on the serial console yet"


def test_driver_state() -> None:
    starting = "         Starting deployer: install the NVIDIA driver (cos-extensions)..."
    finished = "[  OK  ] Finished deployer: install the NVIDIA driver (cos-extensions)."
    failed = "[FAILED] Failed to start deployer: install the NVIDIA driver (cos-extensions)."
    assert driver_state([starting]).startswith("starting")
    assert driver_state([starting, finished]).startswith("installed ([  OK  ] Finished")
    assert driver_state([starting, failed]).startswith("failed")
    assert driver_state([]) == "not reported on the serial console yet"
