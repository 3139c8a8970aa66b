"""The serial console (compute/console.py): the boot rendered from the instance's cloud-init user-data."""

from __future__ import annotations

from typing import Any

from compute_support import ZONE, _client, _insert, _instance, _project, _wait
from google.cloud import compute_v1

from deployer_emulator.compute.console import render_boot_console

CLOUD_CONFIG = """#cloud-config
write_files:
- path: /etc/systemd/system/install-gpu.service
  content: |
    [Unit]
    Description=Install the GPU driver
    Wants=gcr-online.target docker.socket
    After=gcr-online.target docker.socket
    [Service]
    Type=oneshot
    ExecStart=/usr/bin/cos-extensions install gpu
- path: /etc/systemd/system/app.service
  content: |
    [Unit]
    Description=The app
    Requires=install-gpu.service
    After=install-gpu.service
    [Service]
    Environment=HOME=/home/cloudservice
    ExecStartPre=/usr/bin/docker-credential-gcr configure-docker --registries europe-west4-docker.pkg.dev
    ExecStart=/usr/bin/docker run --rm --name app europe-west4-docker.pkg.dev/p/r/app:1
runcmd:
- systemctl daemon-reload
- systemctl start app.service
"""


def _serial(instances: Any, project: str, name: str, start: int) -> compute_v1.SerialPortOutput:
    request = compute_v1.GetSerialPortOutputInstanceRequest(project=project, zone=ZONE, instance=name, start=start)
    return instances.get_serial_port_output(request=request)


def test_serial_port_output_renders_the_boot_of_the_user_data(emulator: Any) -> None:
    project = _project()
    _insert(emulator, project, _instance("gpu", "g2-standard-8", user_data=CLOUD_CONFIG))
    instances = _client(compute_v1.InstancesClient, emulator)
    output = instances.get_serial_port_output(project=project, zone=ZONE, instance="gpu")
    assert output.start == 0
    assert output.next_ == len(output.contents.encode())
    text = output.contents
    assert "no container runs on an emulated VM" in text
    assert "write_files: wrote /etc/systemd/system/app.service" in text
    driver = text.index("GPU drivers installed (emulated)")
    assert text.index("Finished install-gpu.service") > driver
    assert text.index("Starting app.service") > text.index("Finished install-gpu.service")
    assert "ExecStart=/usr/bin/docker run --rm --name app europe-west4-docker.pkg.dev/p/r/app:1" in text

    # Reading on from `next` gives nothing new; a reset boots again and appends a second boot.
    later = _serial(instances, project, "gpu", output.next_)
    assert later.contents == ""
    assert later.start == output.next_
    assert later.next_ == output.next_
    _wait(emulator, project, ZONE, instances.reset(project=project, zone=ZONE, instance="gpu").name)
    after_reset = _serial(instances, project, "gpu", output.next_)
    assert after_reset.start == output.next_
    assert "boot 2 of instance gpu" in after_reset.contents
    tail = _serial(instances, project, "gpu", -40)
    assert tail.start == after_reset.next_ - 40
    assert len(tail.contents.encode()) == 40


def test_boot_console_orders_units_after_their_dependencies() -> None:
    instance = {
        "name": "vm",
        "metadata": {"items": [{"key": "user-data", "value": CLOUD_CONFIG}]},
        "guestAccelerators": [{"acceleratorType": "zones/z/acceleratorTypes/nvidia-l4", "acceleratorCount": 1}],
    }
    text = render_boot_console(instance, "cos-stable-117-18613-164-4", 1)
    # app.service alone is started by runcmd; its Requires= pulls in the driver unit, which starts first.
    assert text.index("Starting install-gpu.service") < text.index("Starting app.service")
    assert "NVIDIA device (NVIDIA L4)" in text
    broken = dict(instance, metadata={"items": [{"key": "user-data", "value": "#cloud-config\nwrite_files: [\n"}]})
    assert "failed to load the user-data as YAML" in render_boot_console(broken, "img", 1)
