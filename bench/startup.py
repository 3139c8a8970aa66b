"""Start-up time of the CLI: median wall time of `deployer --help` and `deployer deploy --help`.

Where gcloud is installed, `gcloud run deploy --help` is measured in the same run, and the ratio printed.
Target: each at most a tenth of gcloud's. bench/run.py runs this measure with the others.

    python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def median_wall_time(argv: list[str], runs: int, env: dict[str, str]) -> float:
    subprocess.run(argv, capture_output=True, env=env, check=True)  # warm the page cache once
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=True)
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    deployer = shutil.which("deployer") or ""
    base = [deployer] if deployer else [sys.executable, "-m", "deployer"]
    env = {**os.environ, "NO_COLOR": "1"}
    baseline = median_wall_time([sys.executable, "-c", "pass"], args.runs, env)
    figures = {
        "python -c pass (interpreter start, for reference)": baseline,
        "deployer --help": median_wall_time([*base, "--help"], args.runs, env),
        "deployer deploy --help": median_wall_time([*base, "deploy", "--help"], args.runs, env),
    }
    gcloud = shutil.which("gcloud")
    if gcloud:
        with tempfile.TemporaryDirectory() as config_dir:
            gcloud_env = {**env, "CLOUDSDK_CONFIG": config_dir, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
            runs = max(3, args.runs // 3)  # gcloud is slow; fewer samples keep the run short
            figures["gcloud run deploy --help"] = median_wall_time(
                [gcloud, "run", "deploy", "--help"], runs, gcloud_env
            )
    width = max(len(k) for k in figures)
    print(f"median wall time over {args.runs} runs")
    for name, seconds in figures.items():
        print(f"  {name:<{width}}  {seconds:6.3f} s")
    if "gcloud run deploy --help" in figures:
        for name in ("deployer --help", "deployer deploy --help"):
            ratio = figures[name] / figures["gcloud run deploy --help"]
            verdict = "met" if ratio <= 0.1 else "NOT met"
            print(f"  {name} / gcloud run deploy --help = {ratio:.2f} (target <= 0.10: {verdict})")


if __name__ == "__main__":
    main()
