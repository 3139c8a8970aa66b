"""deployer's benchmarks, one entry point: each measure as a table with deployer's figure, gcloud's where gcloud is
installed, and the ratio, all from the same run.

    python bench/run.py                 # the synthetic ML repo at its default size, about 700 MB
    python bench/run.py --quick         # about 60 MB, for a quick look
    python bench/run.py --csv-mb 300 --checkpoint-mb 50 --no-gcloud

It creates a synthetic ML repository (code, a data folder of CSV, a virtualenv that .gitignore leaves out, a
checkpoint of random bytes), starts an emulator without a container engine (DEPLOYER_EMULATOR_ENGINE=none, so
builds are recorded and not executed), and measures: packaging (throughput, bytes against gzip -6's, peak RSS),
unchanged detection, the calls and wall time of a first and an unchanged deploy of a small service, and start-up
(``--help``). gcloud is pointed at the same emulator the way tests/crossclient/test_gcloud_build.py does it.
Figures go to stdout; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# This checkout's deployer and emulator, in this process and in the processes it starts.
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "emulator")]
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "emulator")])

from bench.startup import median_wall_time  # noqa: E402
from deployer_emulator import testing  # noqa: E402
from deployer_emulator.testing import EmulatorHandle, EmulatorProcess  # noqa: E402

MB = 1000 * 1000
MIB = 1024 * 1024
REGION = "us-central1"


# --- the synthetic repository ---------------------------------------------------------------------------------------


def _csv_block(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    rows = ["id,timestamp,user,country,feature_a,feature_b,feature_c,label\n"]
    total = len(rows[0])
    i = 0
    while total < size:
        row = (
            f"{seed * 10_000_000 + i},2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d},user_{rng.randint(0, 50_000)},"
            f"{rng.choice(('DE', 'FR', 'NL', 'US', 'IN', 'BR'))},{rng.random():.6f},{rng.gauss(0, 1):.5f},"
            f"{rng.randint(0, 1000)},{rng.choice(('cat', 'dog', 'bird', 'fish'))}\n"
        )
        rows.append(row)
        total += len(row)
        i += 1
    return "".join(rows).encode()


def make_repo(root: Path, *, csv_mb: int, checkpoint_mb: int, venv_mb: int, code_files: int) -> None:
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text(
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
        'COPY . .\nCMD ["python", "-m", "model.serve"]\n'
    )
    (root / "requirements.txt").write_text("numpy==2.1.3\nfastapi==0.115.6\n")
    (root / ".gitignore").write_text(".venv/\n__pycache__/\n")
    project = f"bench-{uuid.uuid4().hex[:8]}"
    (root / "deployer.toml").write_text(
        f'project = "{project}"\nregion = "{REGION}"\n\n[build]\nmax_context_mb = 100000\n\n[services.api]\n'
    )
    rng = random.Random(7)
    for i in range(code_files):
        package = root / "model" / f"part{i % 10}"
        package.mkdir(parents=True, exist_ok=True)
        lines = [
            f"def feature_{i}_{j}(x: float) -> float:\n    return x * {rng.random():.6f} + {j}\n" for j in range(60)
        ]
        (package / f"module_{i}.py").write_text("".join(lines))
    data = root / "data"
    data.mkdir()
    per_file = 40 * MB
    remaining, index = csv_mb * MB, 0
    while remaining > 0:
        block = _csv_block(index, min(8 * MB, remaining))
        with (data / f"events_{index:03d}.csv").open("wb") as handle:
            written = 0
            while written < min(per_file, remaining):
                piece = block[: min(per_file, remaining) - written]
                handle.write(piece)
                written += len(piece)
        remaining -= written
        index += 1
    (root / "checkpoints").mkdir()
    with (root / "checkpoints" / "model.ckpt").open("wb") as handle:
        for _ in range(checkpoint_mb):
            handle.write(os.urandom(MB))
    site = root / ".venv" / "lib" / "python3.12" / "site-packages" / "torch"
    site.mkdir(parents=True)
    with (site / "libtorch_cpu.so").open("wb") as handle:
        for _ in range(venv_mb):
            handle.write(os.urandom(MB))


# --- running the two clients ----------------------------------------------------------------------------------------


def run_measured(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, int, str, str]:
    """(wall seconds, peak RSS in bytes, stdout, stderr) of one child process."""
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return wall, usage.ru_maxrss * 1024, stdout, stderr


def deployer_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "deployer", *args]


def gcloud_env(emulator: EmulatorHandle, home: Path, project: str) -> dict[str, str]:
    return testing.gcloud_env(emulator.url, home, ("cloudbuild", "artifactregistry", "storage"), project=project)


def object_sizes(emulator: EmulatorHandle, bucket: str) -> dict[str, int]:
    import requests

    response = requests.get(f"{emulator.url}/storage/v1/b/{bucket}/o", params={"prefix": "source/"}, timeout=30)
    response.raise_for_status()
    return {item["name"]: int(item["size"]) for item in response.json().get("items", [])}


def gzip6_bytes(context: Path) -> tuple[int, int]:
    """(tar bytes, gzip -6 bytes) of the very tar stream deployer uploads, compressed on one core as gzip -6 does."""
    from deployer.services import archive
    from deployer.services.context import select_context

    summary = select_context(context, context / "Dockerfile")
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    raw = out = 0
    for piece, _ in archive._tar_pieces(context, summary.files, {}):
        raw += len(piece)
        out += len(compressor.compress(piece))
    return raw, out + len(compressor.flush())


def calls_of(requests_log: list[dict[str, Any]]) -> list[str]:
    """The recorded requests as "METHOD path", ids shortened, repeats (polls, chunks) folded into "xN"."""
    shown: list[str] = []
    counts: list[int] = []
    for request in requests_log:
        path = re.sub(r"/(operations|builds)/[0-9a-f-]{8,}", r"/\1/ID", request["path"])
        path = re.sub(r"log-[0-9a-f-]+\.txt", "log-ID.txt", path)
        path = re.sub(r"/src-[0-9a-f]{24}", "/src-TAG", path)
        line = f"{request['method']} {path}"
        if shown and shown[-1] == line:
            counts[-1] += 1
        else:
            shown.append(line)
            counts.append(1)
    return [f"{line}  x{n}" if n > 1 else line for line, n in zip(shown, counts, strict=True)]


# --- the tables -----------------------------------------------------------------------------------------------------


def table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    header = ("measure", "deployer", "gcloud", "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    print(f"\n{title}")
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def ratio(a: float | None, b: float | None, fmt: str = "{:.2f}") -> str:
    return fmt.format(a / b) if a and b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv-mb", type=int, default=600, help="MB of CSV under data/ (default 600)")
    parser.add_argument("--checkpoint-mb", type=int, default=100, help="MB of random bytes in a checkpoint")
    parser.add_argument("--venv-mb", type=int, default=50, help="MB of a .venv that .gitignore leaves out")
    parser.add_argument("--code-files", type=int, default=300, help="Python modules in the code package")
    parser.add_argument("--quick", action="store_true", help="40 MB of CSV, a 10 MB checkpoint: a quick run")
    parser.add_argument("--no-gcloud", action="store_true", help="leave gcloud out even where it is installed")
    parser.add_argument("--runs", type=int, default=9, help="runs per start-up figure (the median is shown)")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic repository and print where")
    args = parser.parse_args()
    if args.quick:
        args.csv_mb, args.checkpoint_mb, args.venv_mb, args.code_files = 40, 10, 5, 60
    gcloud = None if args.no_gcloud else shutil.which("gcloud")

    work = Path(tempfile.mkdtemp(prefix="deployer-bench-"))
    try:
        _run(args, gcloud, work)
    finally:
        if args.keep:
            print(f"\nkept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, gcloud: str | None, work: Path) -> None:
    repo = work / "ml-repo"
    began = time.perf_counter()
    make_repo(
        repo, csv_mb=args.csv_mb, checkpoint_mb=args.checkpoint_mb, venv_mb=args.venv_mb, code_files=args.code_files
    )
    print(f"synthetic repo {repo}: made in {time.perf_counter() - began:.1f} s")
    from deployer.services.archive import DEFLATE, compression_threads

    print(f"deflate: {DEFLATE} level 1, {compression_threads()} compression threads; {os.cpu_count()} cores")

    with EmulatorProcess(env={"DEPLOYER_EMULATOR_ENGINE": "none"}) as process:
        emulator = EmulatorHandle(process)
        print(f"emulator {emulator.url} (engine: {emulator.engine or 'none'})")
        env = {
            **os.environ,
            "DEPLOYER_EMULATOR_URL": emulator.url,
            "XDG_CACHE_HOME": str(work / "cache"),  # a cold cache for the first build, as on a new machine
            "NO_COLOR": "1",
            "CI": "1",
        }
        project = next(line for line in (repo / "deployer.toml").read_text().splitlines() if line.startswith("project"))
        project = project.split('"')[1]

        # Packaging: the first build of the repository (hash and scan every file, pack, upload, submit).
        build = deployer_argv("build", "-C", str(repo), "--json", "--allow-large-context")
        wall, rss, stdout, _ = run_measured(build, env, cwd=REPO_ROOT)
        built = json.loads(stdout)
        context_bytes, archive_bytes = built["context"]["bytes"], built["context"]["archive_bytes"]
        raw_tar, gzip6 = gzip6_bytes(repo)

        g_wall = g_bytes = g_rss = None
        if gcloud:
            config = work / "cloudbuild.yaml"
            image = f"{REGION}-docker.pkg.dev/{project}/gcloud/api:v1"
            config.write_text(f"steps:\n- name: gcr.io/cloud-builders/docker\n  args: [build, -t, '{image}', .]\n")
            before = set(object_sizes(emulator, f"{project}_cloudbuild"))
            argv = [gcloud, "builds", "submit", "--async", f"--config={config}", "--format=json", str(repo)]
            g_wall, g_rss, _, _ = run_measured(argv, gcloud_env(emulator, work / "gcloud", project))
            after = object_sizes(emulator, f"{project}_cloudbuild")
            g_bytes = next((size for name, size in after.items() if name not in before), None)

        table(
            f"Packaging: the first build of a {context_bytes / MIB:.0f} MiB context (files chosen, hashed and "
            "scanned, packed, uploaded to the emulator, build submitted)",
            [
                ("wall time (s)", f"{wall:.1f}", f"{g_wall:.1f}" if g_wall else "-", ratio(g_wall, wall) + "x faster"),
                (
                    "throughput (MiB/s of context)",
                    f"{context_bytes / MIB / wall:.1f}",
                    f"{context_bytes / MIB / g_wall:.1f}" if g_wall else "-",
                    ratio(g_wall, wall),
                ),
                (
                    "archive bytes (MiB)",
                    f"{archive_bytes / MIB:.1f}",
                    f"{g_bytes / MIB:.1f}" if g_bytes else "-",
                    ratio(archive_bytes, g_bytes),
                ),
                (f"gzip -6 of the same tar ({raw_tar / MIB:.0f} MiB)", f"{gzip6 / MIB:.1f}", "", ""),
                ("archive / gzip -6", ratio(archive_bytes, gzip6), ratio(g_bytes, gzip6), "target <= 1.25"),
                (
                    "peak RSS (MiB)",
                    f"{rss / MIB:.0f}",
                    f"{g_rss / MIB:.0f}" if g_rss else "-",
                    "target < 200",
                ),
            ],
        )

        # Unchanged detection: the same files again, as every unchanged deploy sees them.
        dry = deployer_argv("build", "-C", str(repo), "--json", "--dry-run", "--allow-large-context")
        warm = [run_measured(dry, env, cwd=REPO_ROOT)[0] for _ in range(3)]
        shutil.rmtree(work / "cache", ignore_errors=True)
        cold, _, _, _ = run_measured(dry, env, cwd=REPO_ROOT)
        table(
            "Unchanged detection: `deployer build --dry-run` of the same files (gcloud always packs and uploads)",
            [
                ("wall, hash cache warm (s, median of 3)", f"{statistics.median(warm):.2f}", "-", "target <= 1 s"),
                ("wall, hash cache cold (s)", f"{cold:.2f}", "-", ""),
                (
                    "vs gcloud builds submit of the same files",
                    f"{statistics.median(warm):.2f}",
                    f"{g_wall:.1f}" if g_wall else "-",
                    ratio(g_wall, statistics.median(warm), "{:.0f}x faster"),
                ),
            ],
        )

        _deploys(emulator, env, work)

    _startup(args.runs, gcloud)
    table(
        "Not measured by this bench",
        [
            ("5 targets vs one", "multi-target deploys do not exist yet", "-", "-"),
            (
                "rebuild after a code-only change",
                "needs a container engine, which this bench runs without: not shown yet",
                "-",
                "-",
            ),
        ],
    )


def _deploys(emulator: EmulatorHandle, env: dict[str, str], work: Path) -> None:
    app = work / "small-service"
    app.mkdir()
    (app / "Dockerfile").write_text('FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n')
    (app / "app.py").write_text("print('hello')\n")
    project = f"bench-{uuid.uuid4().hex[:8]}"
    (app / "deployer.toml").write_text(f'project = "{project}"\nregion = "{REGION}"\n\n[services.api]\npublic = true\n')
    deploy = deployer_argv("deploy", "-C", str(app), "--json")
    emulator.mark()
    first_wall, _, _, _ = run_measured(deploy, env, cwd=REPO_ROOT)
    first = emulator.requests()
    emulator.mark()
    again_wall, _, _, _ = run_measured(deploy, env, cwd=REPO_ROOT)
    again = emulator.requests()
    table(
        "Deploy of a small Cloud Run service (API calls from the emulator's request log)",
        [
            ("first deploy: calls", str(len(first)), "-", ""),
            ("first deploy: wall (s)", f"{first_wall:.2f}", "-", ""),
            ("unchanged redeploy: calls", str(len(again)), "-", "target <= 6"),
            ("unchanged redeploy: mutating calls", str(sum(r["mutating"] for r in again)), "-", ""),
            ("unchanged redeploy: wall (s)", f"{again_wall:.2f}", "-", ""),
        ],
    )
    print("\nfirst deploy, each call:")
    for line in calls_of(first):
        print(f"  {line}")
    print("unchanged redeploy, each call:")
    for line in calls_of(again):
        print(f"  {line}")


def _startup(runs: int, gcloud: str | None) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    help_root = median_wall_time(deployer_argv("--help"), runs, env)
    help_deploy = median_wall_time(deployer_argv("deploy", "--help"), runs, env)
    python = median_wall_time([sys.executable, "-c", "pass"], runs, env)
    g_help = None
    if gcloud:
        with tempfile.TemporaryDirectory() as config_dir:
            gcloud_env = {**env, "CLOUDSDK_CONFIG": config_dir, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
            g_help = median_wall_time([gcloud, "run", "deploy", "--help"], max(3, runs // 3), gcloud_env)
    table(
        f"Start-up (median wall of {runs} runs; python -c pass takes {python:.3f} s here)",
        [
            ("deployer --help (s)", f"{help_root:.3f}", f"{g_help:.3f}" if g_help else "-", ratio(help_root, g_help)),
            (
                "deployer deploy --help (s)",
                f"{help_deploy:.3f}",
                f"{g_help:.3f}" if g_help else "-",
                ratio(help_deploy, g_help),
            ),
            ("target", "", "gcloud run deploy --help", "<= 0.10"),
        ],
    )


if __name__ == "__main__":
    main()
