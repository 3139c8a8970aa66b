"""A batch job: process ``--count`` items, print one JSON line per item and a summary, exit 0.

Replace ``process`` with your work. On Cloud Run jobs each task sees CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_COUNT:
the items are split between the tasks by index. A non-zero exit marks the task failed (and retried).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="An example batch job.")
    parser.add_argument("--count", type=int, default=3, help="how many items to process (default 3)")
    parser.add_argument("--message", default="hello", help="what each item says")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds to wait after each item (stands in for work)")
    return parser.parse_args(argv)


def process(index: int, message: str) -> dict[str, object]:
    return {"item": index, "message": f"{message} #{index}"}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.count < 0:
        print("--count must be 0 or more", file=sys.stderr)
        return 2
    # Stop promptly when asked to (a cancelled execution, a VM shutting down): 128 + SIGTERM, as a shell reports it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    task_index = int(os.environ.get("CLOUD_RUN_TASK_INDEX", "0"))
    task_count = int(os.environ.get("CLOUD_RUN_TASK_COUNT", "1"))
    started = time.monotonic()
    done = 0
    for index in range(task_index, args.count, task_count):
        print(json.dumps(process(index, args.message)), flush=True)
        done += 1
        time.sleep(args.pause)
    summary = {
        "task": task_index,
        "tasks": task_count,
        "processed": done,
        "seconds": round(time.monotonic() - started, 3),
    }
    print(json.dumps({"summary": summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
