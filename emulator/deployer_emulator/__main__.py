"""``python -m deployer_emulator``: run the emulator (the same as ``deployer emulator start``)."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from pathlib import Path
from types import FrameType

from deployer_emulator.scenario import ScenarioError, load_scenario
from deployer_emulator.server import serve


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # run the same clean shutdown as Ctrl-C: stop containers, close the server


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number: use 0 to 65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number: use 0 to 65535 (0 picks a free one)")
    return port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="deployer-emulator",
        description="A local Google Cloud: Storage, Build, Artifact Registry, Run, Compute, Resource Manager, "
        "Billing, Service Usage and IAM on localhost, until Ctrl-C. Point deployer at it with "
        "DEPLOYER_EMULATOR_URL=http://HOST:PORT. With podman or docker, builds really build and services really "
        "run; without, it says so. (Also: deployer emulator start, python -m deployer_emulator.)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="keep state here across restarts (default: memory)"
    )
    parser.add_argument(
        "--world",
        choices=["open", "strict"],
        default="open",
        help="open: every project exists, with billing and every API, and the caller owns it (default); "
        "strict: nothing exists and every caller's roles are enforced",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        default=None,
        help="seed a strict world from this JSON or TOML file: organizations, billing accounts, projects, roles "
        "(see the emulator's README); implies --world strict",
    )
    parser.add_argument(
        "--insecure-bind",
        action="store_true",
        help="allow a --host other than loopback: anyone who can reach the port can then build and run code here",
    )
    parser.add_argument("--ready-file", type=Path, default=None, help="write the URL here once listening")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request")
    parser.add_argument("--quiet", action="store_true", help="print nothing on start")
    args = parser.parse_args(argv)
    if not _loopback(args.host) and not args.insecure_bind:
        parser.error(
            f"--host {args.host} is not a loopback address: anyone who can reach it could build and run code on "
            "this machine; pass --insecure-bind as well if that is what you want"
        )
    scenario = None
    if args.scenario is not None:
        try:
            scenario = load_scenario(args.scenario)
        except ScenarioError as exc:
            parser.error(str(exc))  # exit 2: nothing was started
    signal.signal(signal.SIGTERM, _terminate)
    if args.insecure_bind and not _loopback(args.host):
        print(
            f"warning: listening on {args.host}: anyone who can reach this port can build and run code here",
            file=sys.stderr,
        )
    try:
        serve(
            host=args.host,
            port=args.port,
            state_dir=args.state_dir,
            world=args.world,
            scenario=scenario,
            ready_file=args.ready_file,
            verbose=args.verbose,
            announce=not args.quiet,
        )
    except OSError as exc:  # the address is in use or cannot be bound: one line, not a traceback
        parser.exit(1, f"{parser.prog}: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
