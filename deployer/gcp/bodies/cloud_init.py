"""The cloud-init ``user-data`` that runs one container on Container-Optimized OS, GPU drivers first.

Google's container startup agent (``gce-container-declaration`` metadata, konlet) is deprecated: from 2026-07-31 new
VMs cannot use it. Its replacement is cloud-init on Container-Optimized OS, which reads ``#cloud-config`` from the
``user-data`` metadata key: https://cloud.google.com/container-optimized-os/docs/how-to/create-configure-instance
and, for GPUs, https://cloud.google.com/container-optimized-os/docs/how-to/run-gpus. This module renders it.

What the document does, on every boot (COS keeps /etc/systemd/system on a tmpfs, and its cloud-init rewrites the
units and runs ``runcmd`` at each boot):
- the app unit configures docker's credential helper for the Artifact Registry host (the VM's service account
  reads the repository), then runs the container in the foreground with the configured args, env, ports and
  restart policy. /root is read-only on COS, hence ``HOME=/home/cloudservice`` for the helper's config;
- env values live in an ``EnvironmentFile`` (mode 0600, root's), never on the ``ExecStart`` line: a command line
  is readable by every process on the VM (``ps``, /proc) and is printed by ``systemctl status``. systemd reads the
  file into the docker client's environment and ``docker run -e NAME`` (a name without a value) passes each on to
  the container. The unit is 0600 too;
- on a GPU VM, a oneshot unit installs the NVIDIA driver with ``cos-extensions install gpu`` first, and the app
  unit ``Requires=`` and comes ``After=`` it, with the driver's libraries and devices passed into the container,
  so the container never starts before the driver is in place.
Both units log to the serial console too (``journal+console``): that is what ``deployer status`` reads.

Pure functions of their inputs: the same spec gives byte-identical output, so an unchanged config sends no update.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

APP_UNIT = "deployer-app.service"
GPU_DRIVER_UNIT = "deployer-gpu-driver.service"
UNIT_DIR = "/etc/systemd/system"
ENV_DIR = "/etc/deployer"
# COS's cloud-init example runs the container's helper as this user's home: /home is writable, /root is not.
SERVICE_USER = "cloudservice"
SERVICE_UID = 2000
HOME = f"/home/{SERVICE_USER}"

DOCKER = "/usr/bin/docker"
CREDENTIAL_HELPER = "/usr/bin/docker-credential-gcr"
COS_EXTENSIONS = "/usr/bin/cos-extensions"
MOUNT = "/bin/mount"

# Where `cos-extensions install gpu` puts the driver, and where containers expect it
# (https://cloud.google.com/container-optimized-os/docs/how-to/run-gpus#run).
NVIDIA_DIR = "/var/lib/nvidia"
CONTAINER_NVIDIA_DIR = "/usr/local/nvidia"
# Compute Engine caps one metadata value at 256 KB: https://cloud.google.com/compute/docs/metadata/setting-custom-metadata#limitations
MAX_USER_DATA_BYTES = 256 * 1024
# The driver install downloads a toolchain and the driver, and can take minutes; a hung install fails the unit
# (and so keeps the app from starting) instead of waiting forever.
DRIVER_INSTALL_TIMEOUT = "30min"

RESTART_VALUES = ("always", "on-failure", "no")

# systemd prints units on the console by their description: `deployer status` looks for these.
GPU_DRIVER_DESCRIPTION = "deployer: install the NVIDIA driver (cos-extensions)"


def app_unit_description(name: str) -> str:
    return f"deployer: the {name} container"


@dataclass(frozen=True)
class ContainerSpec:
    """What the VM runs: one container, and the GPUs and driver it needs."""

    name: str  # the container's name (the VM's name)
    image: str  # image@sha256:... (or image:tag in a dry run before the build)
    ports: tuple[int, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    restart: str = "always"
    gpu_count: int = 0
    driver_version: str = "default"
    extra_registries: tuple[str, ...] = field(default=())

    @property
    def registry_hosts(self) -> tuple[str, ...]:
        """The Artifact Registry hosts docker needs credentials for: the image's, plus any extra."""
        hosts = [registry_host_of(self.image), *self.extra_registries]
        return tuple(sorted({h for h in hosts if h.endswith("-docker.pkg.dev")}))


def registry_host_of(image: str) -> str:
    """``europe-west4-docker.pkg.dev`` for ``europe-west4-docker.pkg.dev/p/r/app@sha256:…``."""
    first = image.split("/", 1)[0]
    return first if "." in first or ":" in first else "docker.io"


# --- systemd command lines -------------------------------------------------------------------------------------------

_BARE_ARG = re.compile(r"^[A-Za-z0-9_@%+=:,./$-]+$")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def systemd_quote(arg: str) -> str:
    """One argument of an ``Exec*=`` line, as systemd's parser reads it back exactly.

    systemd.service(5), "Command lines": ``%`` starts a specifier (``%%`` is a literal %), ``$VAR`` and ``${VAR}``
    are substituted (``$$`` is a literal $), words split on whitespace, double quotes group, and C-style escapes
    work inside them. So: double the specials, and quote anything that is not a plain word.
    """
    text = arg.replace("%", "%%").replace("$", "$$")
    if text and text != ";" and _BARE_ARG.fullmatch(text):
        return text
    quoted = "".join(
        _C_ESCAPES.get(ch, f"\\x{ord(ch):02x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch) for ch in text
    )
    return f'"{quoted}"'


def exec_line(argv: Sequence[str]) -> str:
    return " ".join(systemd_quote(a) for a in argv)


# --- the units -------------------------------------------------------------------------------------------------------


def env_file_path(spec: ContainerSpec) -> str:
    return f"{ENV_DIR}/{spec.name}.env"


def container_env(spec: ContainerSpec) -> dict[str, str]:
    """The container's environment: the configured env, and on a GPU VM where CUDA looks for the driver."""
    env = dict(spec.env)
    if spec.gpu_count and "LD_LIBRARY_PATH" not in env:
        # CUDA images look for the driver's libraries here; the user's own value wins.
        env["LD_LIBRARY_PATH"] = f"{CONTAINER_NVIDIA_DIR}/lib64"
    return env


# systemd's environment-file parser (systemd.exec(5), EnvironmentFile=): inside double quotes a backslash escapes
# these characters and keeps any other; newlines are kept as they are. Nothing is expanded.
_ENV_FILE_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`"}


def env_file_quote(value: str) -> str:
    return '"' + "".join(_ENV_FILE_ESCAPES.get(ch, ch) for ch in value) + '"'


def env_file(spec: ContainerSpec) -> str:
    """``NAME="value"`` lines that systemd reads back exactly; "" when there is no env."""
    env = container_env(spec)
    return "".join(f"{name}={env_file_quote(env[name])}\n" for name in sorted(env))


def docker_run_argv(spec: ContainerSpec) -> list[str]:
    """``docker run`` for the app: in the foreground (systemd supervises it), removed when it exits."""
    argv = [DOCKER, "run", "--rm", f"--name={spec.name}"]
    for port in spec.ports:
        argv += ["-p", f"{port}:{port}"]
    if spec.gpu_count:
        argv += [
            "--volume",
            f"{NVIDIA_DIR}/lib64:{CONTAINER_NVIDIA_DIR}/lib64",
            "--volume",
            f"{NVIDIA_DIR}/bin:{CONTAINER_NVIDIA_DIR}/bin",
        ]
        for index in range(spec.gpu_count):
            argv += ["--device", f"/dev/nvidia{index}:/dev/nvidia{index}"]
        argv += ["--device", "/dev/nvidia-uvm:/dev/nvidia-uvm", "--device", "/dev/nvidiactl:/dev/nvidiactl"]
    # Names only: docker takes each value from its own environment, which the unit's EnvironmentFile sets.
    for name in sorted(container_env(spec)):
        argv += ["-e", name]
    # Like Cloud Run: command replaces the image's ENTRYPOINT, args its CMD. docker's --entrypoint takes one
    # executable (and clears the image's CMD); the rest of command goes before args.
    if spec.command:
        argv += ["--entrypoint", spec.command[0]]
    argv.append(spec.image)
    argv += list(spec.command[1:])
    argv += list(spec.args)
    return argv


def _unit(sections: list[tuple[str, list[tuple[str, str]]]]) -> str:
    blocks = []
    for title, entries in sections:
        blocks.append("\n".join([f"[{title}]", *(f"{key}={value}" for key, value in entries)]))
    return "\n\n".join(blocks) + "\n"


def app_unit(spec: ContainerSpec) -> str:
    if spec.restart not in RESTART_VALUES:
        raise ValueError(f"restart must be one of {', '.join(RESTART_VALUES)}, not {spec.restart!r}")
    unit: list[tuple[str, str]] = [("Description", app_unit_description(spec.name))]
    after = ["gcr-online.target", "docker.socket"]
    if spec.gpu_count:
        unit.append(("Requires", GPU_DRIVER_UNIT))
        after.append(GPU_DRIVER_UNIT)
    unit += [("Wants", "gcr-online.target docker.socket"), ("After", " ".join(after))]
    if spec.restart != "always":
        # A batch container that exits 0 is done: power the VM off so it stops billing. SuccessAction= acts when
        # the unit stops having succeeded (systemd.unit(5), "SuccessAction=", systemd 236 and later; COS ships
        # newer); a failure under restart=on-failure runs again instead.
        unit.append(("SuccessAction", "poweroff"))
    helper = [CREDENTIAL_HELPER, "configure-docker"]
    if spec.registry_hosts:
        helper += ["--registries", ",".join(spec.registry_hosts)]
    service: list[tuple[str, str]] = [("Environment", f"HOME={HOME}")]
    if container_env(spec):
        service.append(("EnvironmentFile", env_file_path(spec)))
    service += [
        ("ExecStartPre", exec_line(helper)),
        # A container left behind by a crashed docker daemon would hold the name: remove it, ignoring "no such".
        ("ExecStartPre", "-" + exec_line([DOCKER, "rm", "--force", spec.name])),
        ("ExecStart", exec_line(docker_run_argv(spec))),
        ("ExecStop", exec_line([DOCKER, "stop", spec.name])),
        ("Restart", spec.restart),
    ]
    if spec.restart != "no":
        service.append(("RestartSec", "5"))
    service += [("StandardOutput", "journal+console"), ("StandardError", "journal+console")]
    return _unit([("Unit", unit), ("Service", service), ("Install", [("WantedBy", "multi-user.target")])])


def gpu_driver_unit(spec: ContainerSpec) -> str:
    install = [COS_EXTENSIONS, "install", "gpu", "--", f"-version={spec.driver_version}"]
    return _unit(
        [
            (
                "Unit",
                [
                    ("Description", GPU_DRIVER_DESCRIPTION),
                    ("Wants", "gcr-online.target docker.socket"),
                    ("After", "gcr-online.target docker.socket"),
                ],
            ),
            (
                "Service",
                [
                    ("Type", "oneshot"),
                    ("RemainAfterExit", "true"),
                    ("TimeoutStartSec", DRIVER_INSTALL_TIMEOUT),
                    ("ExecStart", exec_line(install)),
                    # /var is mounted noexec on COS: the driver's libraries and binaries must be executable to be
                    # loaded in the container (https://cloud.google.com/container-optimized-os/docs/how-to/run-gpus).
                    ("ExecStartPost", exec_line([MOUNT, "--bind", NVIDIA_DIR, NVIDIA_DIR])),
                    ("ExecStartPost", exec_line([MOUNT, "-o", "remount,exec", NVIDIA_DIR])),
                    ("StandardOutput", "journal+console"),
                    ("StandardError", "journal+console"),
                ],
            ),
            ("Install", [("WantedBy", "multi-user.target")]),
        ]
    )


def units(spec: ContainerSpec) -> dict[str, str]:
    """unit file name → contents, in the order they start."""
    found: dict[str, str] = {}
    if spec.gpu_count:
        found[GPU_DRIVER_UNIT] = gpu_driver_unit(spec)
    found[APP_UNIT] = app_unit(spec)
    return found


# --- the cloud-config document ---------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the unit files) as literal blocks, so the document reads like the units themselves."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def cloud_config(spec: ContainerSpec) -> dict[str, Any]:
    """The cloud-config as data: a user for HOME, the units, then daemon-reload and start."""
    rendered = units(spec)
    files: list[dict[str, str]] = []
    environment = env_file(spec)
    if environment:
        files.append({"path": env_file_path(spec), "permissions": "0600", "owner": "root", "content": environment})
    for name, text in rendered.items():
        # The app unit names the env file and the container's settings: only root reads it.
        mode = "0600" if name == APP_UNIT else "0644"
        files.append({"path": f"{UNIT_DIR}/{name}", "permissions": mode, "owner": "root", "content": text})
    return {
        "users": [{"name": SERVICE_USER, "uid": SERVICE_UID}],
        "write_files": files,
        # --no-block: cloud-init finishes while systemd waits for the driver install (minutes) before the app.
        "runcmd": ["systemctl daemon-reload", "systemctl --no-block start " + " ".join(rendered)],
    }


def render_user_data(spec: ContainerSpec) -> str:
    """The ``user-data`` metadata value: ``#cloud-config`` YAML. Never uses ``gce-container-declaration``."""
    body = yaml.dump(cloud_config(spec), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
    document = "#cloud-config\n" + body
    if len(document.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(
            f"the rendered cloud-init is {len(document.encode())} bytes; Compute Engine allows "
            f"256 KB ({MAX_USER_DATA_BYTES} bytes) per metadata value (shorten env values or args)"
        )
    return document
