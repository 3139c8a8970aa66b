"""``python -m deployer.emulator``: run the emulator (the same as ``deployer emulator start``)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from deployer.emulator.server import serve
from deployer.emulator.world import ScenarioError, load_scenario


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # run the same clean shutdown as Ctrl-C: stop containers, close the server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deployer.emulator", description="local Google Cloud emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--world", choices=["open", "strict"], default="open")
    parser.add_argument(
        "--scenario", type=Path, default=None, help="seed a strict world from this JSON or TOML file (docs/emulator.md)"
    )
    parser.add_argument("--ready-file", type=Path, default=None, help="write the URL here once listening")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    scenario = None
    if args.scenario is not None:
        try:
            scenario = load_scenario(args.scenario)
        except ScenarioError as exc:
            parser.error(str(exc))  # exit 2: nothing was started
    signal.signal(signal.SIGTERM, _terminate)
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
    sys.exit(0)


if __name__ == "__main__":
    main()
