"""Running a build's steps through the container engine, and recording the images it pushes."""

from __future__ import annotations

import hashlib
import json
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from deployer_emulator import artifactregistry
from deployer_emulator.cloudbuild.base import BuildBase, _Run
from deployer_emulator.cloudbuild.config import _DOCKER_BUILDER_RE, BUILDS, NOT_EXECUTED, _parse_duration, _step_label
from deployer_emulator.cloudbuild.processes import _extract_source, _stop_children
from deployer_emulator.common import now_rfc3339
from deployer_emulator.errors import ApiError, failed_precondition
from deployer_emulator.storage.store import get_object, read_object_path


def _engine_build_args(args: list[str]) -> tuple[list[str], list[str]]:
    """docker build flags for the local engine: (kept, dropped) — see the module docstring for why each is dropped."""
    kept: list[str] = []
    dropped: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--network", "--cache-from", "--progress") and i + 1 < len(args):
            if arg == "--network" and args[i + 1] != "cloudbuild":
                kept += [arg, args[i + 1]]
            else:
                dropped.append(f"{arg} {args[i + 1]}")
            i += 2
            continue
        if arg == "--network=cloudbuild" or arg.startswith(("--cache-from=", "--progress=")):
            dropped.append(arg)
        else:
            kept.append(arg)
        i += 1
    return kept, dropped


class StepRunner(BuildBase):
    """Fetches the source, runs each step, pushes ``images``."""

    # -- phases -----------------------------------------------------------------------------------------------------
    def _fetch_source(self, run: _Run, doc: dict[str, Any]) -> str | None:
        resolved = doc.get("sourceProvenance", {}).get("resolvedStorageSource")
        if not resolved:
            return None
        url = f"gs://{resolved['bucket']}/{resolved['object']}#{resolved['generation']}"
        run.log.line(f"Fetching storage object: {url}")
        try:
            # The build reads its source as its own service account.
            self.emulator.authorize(
                self._as_build_account(doc),
                "storage.objects.get",
                f"projects/_/buckets/{resolved['bucket']}/objects/{resolved['object']}",
            )
            path = read_object_path(self.emulator, resolved["bucket"], resolved["object"])
            size = path.stat().st_size
            run.log.line(f"Copying {url}...")
            if self.emulator.engine is not None:
                _extract_source(path, run.workspace)
        except (ApiError, OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            run.log.line(f"ERROR: failed to fetch source {url}: {message}")
            return f"failed to fetch source {url}: {message}"
        run.log.line(f"Operation completed over 1 objects/{size} B.")
        return None

    def _set_step(self, run: _Run, index: int, **changes: Any) -> None:
        with self.emulator.mutation():
            doc = self.emulator.state.table(BUILDS)[run.build_id]
            doc["steps"][index].update(changes)
        self._update(run, run.build_id)

    def _run_steps(self, run: _Run, doc: dict[str, Any]) -> tuple[str, str, str] | None:
        """Run every step in order; (statusDetail, failure type, failure detail) when one fails."""
        for index, step in enumerate(doc["steps"]):
            self._checkpoint(run)
            label = _step_label(index, step)
            started = now_rfc3339()
            self._set_step(run, index, status="WORKING", timing={"startTime": started})
            run.log.line(f"Starting {label}")
            exit_code, unsupported = self._run_step(run, index, step, label)
            self._checkpoint(run)
            status = "SUCCESS"
            allowed = exit_code == 0 or exit_code in [int(c) for c in step.get("allowExitCodes", [])]
            if unsupported is not None or not allowed:
                status = "FAILURE"
            changes: dict[str, Any] = {"status": status, "timing": {"startTime": started, "endTime": now_rfc3339()}}
            if self.emulator.engine is not None and unsupported is None:
                changes["exitCode"] = exit_code
            self._set_step(run, index, **changes)
            run.log.line(f"Finished {label}")
            if unsupported is not None:
                run.log.line("ERROR")
                run.log.line(f"ERROR: {unsupported}")
                return unsupported, "USER_BUILD_STEP", unsupported
            if not allowed and not step.get("allowFailure"):
                run.log.line("ERROR")
                failure = f'build step {index} "{step["name"]}" failed: step exited with non-zero status: {exit_code}'
                run.log.line(f"ERROR: {failure}")
                return (
                    f'Build step {index} "{step["name"]}" failed: step exited with non-zero status: {exit_code}',
                    "USER_BUILD_STEP",
                    f"Build step failure: {failure}",
                )
        return None

    def _run_step(self, run: _Run, index: int, step: dict[str, Any], label: str) -> tuple[int, str | None]:
        """(exit code, why the emulator cannot run it or None)."""
        engine = self.emulator.engine
        args: list[str] = list(step.get("args", []))
        is_docker = _DOCKER_BUILDER_RE.match(step["name"]) is not None and step.get("entrypoint", "docker") == "docker"
        if engine is None:
            run.log.line(f"{label}: {NOT_EXECUTED}")
            if is_docker and args[:1] == ["push"] and len(args) >= 2:
                # A push step's image is recorded (as a placeholder) so that the rest of the flow can be exercised.
                try:
                    digest = self._record_placeholder(run, args[-1])
                    run.log.line(f"{label}: recorded {args[-1]} as a placeholder image {digest} (not built)")
                except ApiError as exc:
                    run.log.line(f"{label}: {exc.message}")
                    return 1, None
            return 0, None
        if step.get("script"):
            return 1, f'Build step {index} "{step["name"]}" failed: the emulator cannot run step scripts'
        if not is_docker:
            return 1, (
                f'Build step {index} "{step["name"]}" failed: the emulator cannot run builder image "{step["name"]}"'
                f"{' with entrypoint ' + repr(step['entrypoint']) if step.get('entrypoint') else ''}: "
                "only docker build, tag and push steps run (through the local container engine)"
            )
        command = args[0] if args else ""
        directory = self._step_dir(run, step)
        if directory is None:
            run.log.line(f"{label}: step dir {step.get('dir')!r} is outside /workspace")
            return 1, None
        directory.mkdir(parents=True, exist_ok=True)
        if command == "build":
            kept, dropped = _engine_build_args(args[1:])
            for flag in dropped:
                run.log.line(f"{label}: (emulator) ignoring {flag}: not applicable to the local engine")
            run.log.line(f"{label}: (emulator) {engine.name} build {' '.join(kept)}")
            remaining = max(run.deadline - time.monotonic(), 1.0)
            if step.get("timeout"):
                remaining = min(remaining, _parse_duration(step["timeout"], "timeout"))
            run.current_dir = directory
            step_timer = threading.Timer(remaining, _stop_children, args=(directory,))
            step_timer.daemon = True
            step_timer.start()
            try:
                code = engine.build(directory, kept, lambda line: run.log.line(f"{label}: {line}"), timeout_s=remaining)
            finally:
                step_timer.cancel()
                run.current_dir = None
            return code, None
        if command == "tag" and len(args) == 3:
            ok = engine.tag(args[1], args[2])
            if not ok:
                run.log.line(f"{label}: Error response from daemon: No such image: {args[1]}")
            return (0 if ok else 1), None
        if command == "push" and len(args) >= 2:
            return self._push_step(run, label, args[-1]), None
        return 1, (
            f'Build step {index} "{step["name"]}" failed: the emulator runs only docker build, tag and push, '
            f"not `docker {command}`"
        )

    def _step_dir(self, run: _Run, step: dict[str, Any]) -> Path | None:
        raw = step.get("dir", "")
        if raw == "/workspace" or raw.startswith("/workspace/"):
            raw = raw[len("/workspace") :]
        elif raw.startswith("/"):
            return None  # an absolute dir outside /workspace: nothing of the build lives there
        directory = (run.workspace / raw.lstrip("/")).resolve()
        root = run.workspace.resolve()
        return directory if directory.is_relative_to(root) else None

    def _push_step(self, run: _Run, label: str, image: str) -> int:
        engine = self.emulator.engine
        assert engine is not None
        local_id = engine.image_id(image)
        if local_id is None:
            run.log.line(f"{label}: An image does not exist locally with the tag: {image}")
            return 1
        try:
            digest = self._record_built(run, image, local_id)
        except ApiError as exc:
            run.log.line(f"{label}: {exc.message}")
            return 1
        run.log.line(f"{label}: {image}: digest: {digest} size: {engine.image_size(image)}")
        return 0

    def _push_target(self, run: _Run, image: str) -> tuple[artifactregistry.ImageRef, list[str]]:
        """Where a pushed image goes: its Artifact Registry reference (the push authorized), and its tags."""
        ref = artifactregistry.parse_image_ref(image)
        if ref is None:
            raise failed_precondition(
                f'cannot push "{image}": the emulator pushes only to Artifact Registry (LOCATION-docker.pkg.dev/...) '
                "and gcr.io"
            )
        self._authorize_push(run, ref)
        return ref, [] if ref.digest else [ref.tag or "latest"]

    def _record_built(self, run: _Run, image: str, local_id: str) -> str:
        engine = self.emulator.engine
        assert engine is not None
        ref, tags = self._push_target(run, image)
        artifactregistry.record_image(
            self.emulator,
            ref.project,
            ref.location,
            ref.repository,
            ref.image,
            tags,
            local_id,
            engine.image_size(image),
            True,
            local_id,
        )
        return local_id

    def _placeholder_digest(self, run: _Run, image: str) -> str:
        doc = self._get(run.build_id)
        resolved = doc.get("sourceProvenance", {}).get("resolvedStorageSource")
        hashes = ""
        if resolved:
            try:
                obj = get_object(self.emulator, resolved["bucket"], resolved["object"])
                hashes = f"{obj.get('crc32c', '')}:{obj.get('md5Hash', '')}"
            except ApiError:
                hashes = ""
        return "sha256:" + hashlib.sha256(f"{hashes}\n{image}".encode()).hexdigest()

    def _record_placeholder(self, run: _Run, image: str) -> str:
        ref, tags = self._push_target(run, image)
        digest = ref.digest or self._placeholder_digest(run, image)
        artifactregistry.record_image(
            self.emulator, ref.project, ref.location, ref.repository, ref.image, tags, digest, 0, False, None
        )
        return digest

    def _push_images(self, run: _Run, doc: dict[str, Any], results: dict[str, Any]) -> tuple[str, str] | None:
        engine = self.emulator.engine
        images: list[str] = doc.get("images", [])
        if engine is not None:
            missing = [image for image in images if engine.image_id(image) is None]
            if missing:
                # Cloud Build's wording when an `images` entry was not produced by the steps.
                detail = "failed to find one or more images after execution of build steps: " + json.dumps(missing)
                run.log.line(f"ERROR: {detail}")
                return detail, "PUSH_IMAGE_NOT_FOUND"
        built: list[dict[str, Any]] = []
        for image in images:
            self._checkpoint(run)
            started = now_rfc3339()
            ref = artifactregistry.parse_image_ref(image)
            run.log.line(f"Pushing {image}")
            if ref is not None:
                run.log.line(f"The push refers to repository [{ref.base_uri}]")
            try:
                if engine is None:
                    digest = self._record_placeholder(run, image)
                    size = 0
                else:
                    local_id = engine.image_id(image)
                    assert local_id is not None
                    digest = self._record_built(run, image, local_id)
                    size = engine.image_size(image)
            except ApiError as exc:
                run.log.line(exc.message)
                run.log.line("ERROR")
                run.log.line(f'ERROR: failed to push because we ran out of retries: "{image}": {exc.message}')
                return f'failed to push image "{image}": {exc.message}', "PUSH_FAILED"
            assert ref is not None
            run.log.line(f"{ref.tag or ('latest' if not ref.digest else ref.digest)}: digest: {digest} size: {size}")
            entry: dict[str, Any] = {
                "name": image,
                "digest": digest,
                "pushTiming": {"startTime": started, "endTime": now_rfc3339()},
            }
            entry["artifactRegistryPackage"] = f"{ref.repository_name}/packages/{quote(ref.image, safe='')}"
            built.append(entry)
            results["images"] = built
            self._update(run, run.build_id, results=results)
        return None
