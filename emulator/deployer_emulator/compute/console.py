"""The serial console of an emulated Container-Optimized OS boot, rendered from the instance's user-data."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deployer_emulator.compute.catalogue import ACCELERATORS

_SERIAL_BUFFER = (
    1024 * 1024
)  # "If the serial console output exceeds the size of the buffer (1 MB)..." (SerialPortOutput)


# ---------------------------------------------------------------------------------------------------------------
# The console of an emulated Container-Optimized OS boot, rendered from the instance's user-data
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Unit:
    name: str
    description: str
    unit_type: str
    after: list[str]
    requires: list[str]
    exec_start_pre: list[str]
    exec_start: list[str]


def _parse_unit(name: str, text: str) -> _Unit:
    values: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values.setdefault(key.strip(), []).append(value.strip())

    def words(key: str) -> list[str]:
        return [w for v in values.get(key, []) for w in v.split()]

    return _Unit(
        name=name,
        description=(values.get("Description") or [name])[-1],
        unit_type=(values.get("Type") or ["simple"])[-1],
        after=words("After"),
        requires=words("Requires") + words("Wants"),
        exec_start_pre=values.get("ExecStartPre", []),
        exec_start=values.get("ExecStart", []),
    )


def _file_content(entry: dict[str, Any]) -> str:
    content = str(entry.get("content", ""))
    if str(entry.get("encoding", "")).lower() in ("b64", "base64"):
        try:
            return base64.b64decode(content).decode(errors="replace")
        except ValueError:
            return ""
    return content


def _units_to_start(runcmd: list[Any]) -> list[str]:
    started: list[str] = []
    for command in runcmd:
        words = command if isinstance(command, list) else str(command).split()
        words = [str(w) for w in words]
        if len(words) < 3 or words[0].rsplit("/", 1)[-1] != "systemctl":
            continue
        verb = words[1]
        names = [w for w in words[2:] if not w.startswith("-")]
        if verb in ("start", "restart") or (verb == "enable" and "--now" in words):
            started += [n if "." in n else f"{n}.service" for n in names]
    return started


def _start_order(wanted: list[str], units: dict[str, _Unit]) -> list[str]:
    """What systemd starts for ``wanted``: their Requires/Wants too, each after the units it is ordered after."""
    closure: list[str] = []

    def add(name: str) -> None:
        if name in closure or name not in units:
            return
        closure.append(name)
        for dependency in units[name].requires:
            add(dependency)

    for name in wanted:
        add(name)
    ordered: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in ordered or name in trail:
            return
        for before in units[name].after + units[name].requires:
            if before in closure:
                visit(before, (*trail, name))
        ordered.append(name)

    for name in closure:
        visit(name, ())
    return ordered


def render_boot_console(instance: dict[str, Any], image: str, boot: int) -> str:
    """The serial console of one emulated boot: kernel and systemd lines, then what cloud-init would do with the
    instance's ``user-data`` on Container-Optimized OS, in systemd's start order. Nothing in it was executed."""
    clock = [0.0]
    lines = [
        f"deployer emulator: boot {boot} of instance {instance['name']}: this console is rendered from the "
        "instance's metadata; no VM boots, no command runs and no container runs on an emulated VM."
    ]

    def log(text: str, step: float = 0.137) -> None:
        clock[0] += step
        lines.append(f"[{clock[0]:12.6f}] {text}")

    log(f"Linux version 6.1.100+ (Container-Optimized OS {image}, emulated)", 0.0)
    log("systemd[1]: Detected virtualization kvm.")
    log(f"systemd[1]: Hostname set to <{instance['name']}>.")
    for accelerator in instance.get("guestAccelerators", []):
        name = str(accelerator.get("acceleratorType", "")).rsplit("/", 1)[-1]
        for index in range(int(accelerator.get("acceleratorCount", 0))):
            label = ACCELERATORS[name].description if name in ACCELERATORS else name
            log(f"pci 0000:00:{4 + index:02x}.0: NVIDIA device ({label}), no driver loaded yet")
    log("systemd[1]: Reached target network-online.target.")
    items = {i.get("key"): str(i.get("value", "")) for i in instance.get("metadata", {}).get("items", [])}
    user_data = items.get("user-data")
    if user_data is None:
        log("cloud-init[742]: no user-data in the instance metadata: nothing to configure.")
    elif not user_data.lstrip().startswith("#cloud-config"):
        log("cloud-init[742]: user-data is not a #cloud-config document: it would run as a script (not executed).")
    else:
        _render_cloud_config(user_data, log)
    log("systemd[1]: Reached target multi-user.target.")
    return "\n".join(lines) + "\n"


def _render_cloud_config(user_data: str, log: Callable[..., None]) -> None:
    import yaml

    log("cloud-init[742]: Cloud-init v. 24.1 running 'init' (emulated): reading user-data from the metadata server.")
    try:
        config = yaml.safe_load(user_data)
    except yaml.YAMLError as exc:
        log(f"cloud-init[742]: WARNING: failed to load the user-data as YAML: {str(exc).splitlines()[0]}")
        return
    if not isinstance(config, dict):
        log("cloud-init[742]: WARNING: the user-data is not a YAML mapping: nothing to do.")
        return
    for user in config.get("users") or []:
        name = user.get("name") if isinstance(user, dict) else user
        log(f"cloud-init[742]: users: creating user {name}")
    units: dict[str, _Unit] = {}
    for entry in config.get("write_files") or []:
        if not isinstance(entry, dict) or "path" not in entry:
            continue
        path = str(entry["path"])
        log(f"cloud-init[742]: write_files: wrote {path}")
        if path.startswith("/etc/systemd/system/") and path.endswith((".service", ".target")):
            name = path.rsplit("/", 1)[-1]
            units[name] = _parse_unit(name, _file_content(entry))
    for command in config.get("bootcmd") or []:
        log(f"cloud-init[742]: bootcmd: {_command_text(command)} (not executed)")
    runcmd = config.get("runcmd") or []
    for command in runcmd:
        log(f"cloud-init[742]: runcmd: {_command_text(command)} (not executed)")
    for name in _start_order(_units_to_start(list(runcmd)), units):
        unit = units[name]
        log(f"systemd[1]: Starting {name} - {unit.description}...")
        for command in unit.exec_start_pre:
            log(f"systemd[1]: {name}: ExecStartPre={command} (not executed)")
        for command in unit.exec_start:
            log(f"systemd[1]: {name}: ExecStart={command} (not executed)")
            if "cos-extensions" in command and "install" in command and "gpu" in command:
                log("cos-extensions[1187]: Installing GPU drivers (emulated: no driver is installed).", 1.5)
                log("cos-extensions[1187]: GPU drivers installed (emulated).", 30.0)
            if re.search(r"\bdocker\b.*\brun\b", command):
                log(f"systemd[1]: {name}: emulated VM: the container was not pulled and does not run.")
        verb = "Finished" if unit.unit_type == "oneshot" else "Started"
        log(f"systemd[1]: {verb} {name} - {unit.description}.")


def _command_text(command: Any) -> str:
    if isinstance(command, list):
        return " ".join(str(part) for part in command)
    return str(command)
