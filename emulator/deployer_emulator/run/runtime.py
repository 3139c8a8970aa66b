"""Running revisions: one container per revision on a free localhost port, ready when it listens."""

from __future__ import annotations

import functools
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deployer_emulator.core import Emulator
from deployer_emulator.errors import ApiError
from deployer_emulator.run.base import _IMAGE_MISSING, _PORT_FAILURE, _PUBLIC_REGISTRY_PROJECTS, _short, _split_service
from deployer_emulator.run.proxy import Backend, ServiceProxy, Target, Unavailable, free_port

# ---------------------------------------------------------------------------------------------------------------
# Running revisions
# ---------------------------------------------------------------------------------------------------------------


class RevisionFailed(Exception):
    """A revision that did not become ready: the operation's error and the revision's condition."""

    def __init__(self, status: str, summary: str, *, detail: str = "", reason: str = "", health: bool = False) -> None:
        super().__init__(summary)
        self.status = status  # FAILED_PRECONDITION (code 9) or INTERNAL (code 13), as Google reports each case
        self.summary = summary  # what follows "Revision 'X' is not ready and cannot serve traffic. "
        self.detail = detail  # appended to the revision's condition only
        self.reason = reason  # Condition.reason (CommonReason) for the Ready condition
        self.health = health  # the container ran but never listened: ContainerHealthy failed

    def message(self, revision: str) -> str:
        return f"Revision '{revision}' is not ready and cannot serve traffic. {self.summary}"


@dataclass
class _Instance:
    container_id: str | None  # None when nothing runs
    target: Target


class Runtime:
    """Containers for revisions, the per-service proxies, and what to remove at shutdown."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._lock = threading.Lock()
        self._instances: dict[str, _Instance] = {}  # revision name
        self._proxies: dict[str, ServiceProxy] = {}  # service name
        self._tag_proxies: dict[tuple[str, str], ServiceProxy] = {}  # (service name, tag)
        self._service_locks: dict[str, threading.Lock] = {}
        self._active: dict[str, set[str]] = {}  # service name -> revision names receiving traffic or tagged
        self._timers: dict[str, threading.Timer] = {}
        self._started: set[str] = set()
        self.logs: dict[str, str] = {}  # revision name -> the log of a container that is gone
        self._closed = False

    @property
    def engine(self) -> Any:
        return self.emulator.engine

    @contextmanager
    def service_lock(self, service: str) -> Iterator[None]:
        with self._lock:
            lock = self._service_locks.setdefault(service, threading.Lock())
        with lock:
            yield

    # -- proxies -----------------------------------------------------------------------------------------------
    def proxy(self, service: str, port: int = 0) -> ServiceProxy:
        with self._lock:
            proxy = self._proxies.get(service)
            if proxy is None:
                proxy = ServiceProxy(_short(service), port)
                self._proxies[service] = proxy
            return proxy

    def route(
        self, service: str, weighted: list[tuple[Target, int]], tagged: dict[str, Target], tag_ports: dict[str, int]
    ) -> dict[str, str]:
        """Point the service's proxy (and one proxy per tag) at their revisions; the tags' URLs."""
        self.proxy(service).set_targets(weighted)
        urls: dict[str, str] = {}
        with self._lock:
            for (owner, tag), proxy in list(self._tag_proxies.items()):
                if owner == service and tag not in tagged:
                    proxy.close()
                    del self._tag_proxies[(owner, tag)]
            for tag, target in tagged.items():
                tag_proxy = self._tag_proxies.get((service, tag))
                if tag_proxy is None:
                    tag_proxy = ServiceProxy(f"{tag}---{_short(service)}", tag_ports.get(tag, 0))
                    self._tag_proxies[(service, tag)] = tag_proxy
                tag_proxy.set_targets([(target, 100)])
                urls[tag] = tag_proxy.url
        return urls

    # -- revisions ---------------------------------------------------------------------------------------------
    def ensure(self, revision: dict[str, Any]) -> Target:
        """The revision's target, starting its container if none runs; raises RevisionFailed."""
        name = revision["name"]
        with self._lock:
            instance = self._instances.get(name)
            timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if instance is not None:
            return instance.target
        project, location, service_id = _split_service(revision["service"])
        rev_id = _short(name)
        container = next((c for c in revision["containers"] if c.get("ports")), revision["containers"][0])
        image = container["image"]
        run_ref, not_run = self._resolve_image(image, project, location, service_id)
        if run_ref is None:
            target: Target = Unavailable(not_run)
            with self._lock:
                self._instances[name] = _Instance(None, target)
            return target
        port = int(container["ports"][0]["containerPort"])
        host_port = free_port()
        env = {e["name"]: e.get("value", "") for e in container.get("env", []) if "valueSource" not in e}
        env.update(PORT=str(port), K_SERVICE=service_id, K_REVISION=rev_id, K_CONFIGURATION=service_id)
        container_name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"deployer-emu-{project}-{service_id}-{rev_id}")
        engine = self.engine
        engine.remove(container_name)  # a leftover of an earlier emulator run would hold the name
        container_id, output = engine.run_detached(
            run_ref,
            name=container_name,
            env=env,
            publish={host_port: port},
            command=container.get("command", []),
            args=container.get("args", []),
            labels={"dev.deployer_emulator.run.revision": name},
        )
        port_failure = _PORT_FAILURE.format(port=port)
        if container_id is None:
            raise RevisionFailed(
                "FAILED_PRECONDITION",
                port_failure,
                detail=f"The container engine could not start it:\n{output}",
                health=True,
            )
        with self._lock:
            self._started.add(container_id)
            closed = self._closed
        if closed:
            self._remove(container_id)
            raise ApiError("UNAVAILABLE", "The emulator is shutting down.")
        ready, exit_code = self._wait_ready(container_id, host_port)
        if not ready:
            logs = engine.logs(container_id, tail=30)
            self._remove(container_id)
            self.logs[name] = logs
            if exit_code is not None:
                how = f"The container exited with code {exit_code}."
            else:
                timeout = self.emulator.settings["revision_start_timeout_s"]
                how = f"The container did not listen on port {port} within {timeout:g} s."
            tail = f"Last lines of its log:\n{logs}" if logs else "It wrote nothing to its log."
            raise RevisionFailed("FAILED_PRECONDITION", port_failure, detail=f"{how} {tail}", health=True)
        target = Backend(rev_id, host_port)
        with self._lock:
            self._instances[name] = _Instance(container_id, target)
        return target

    def _resolve_image(self, image: str, project: str, location: str, service_id: str) -> tuple[str | None, str]:
        """(what the engine runs, or None and why nothing runs); raises RevisionFailed when the image is missing."""
        from deployer_emulator import artifactregistry

        service = f"Cloud Run service '{service_id}' (project {project}, region {location})"
        no_engine = (
            f"The emulator accepted the {service} and its revision is Ready, but the image {image} was not run: "
            "this emulator has no container engine. Install podman or docker and restart the emulator to serve it."
        )
        ref = artifactregistry.parse_image_ref(image)  # LOC-docker.pkg.dev/… and gcr.io/… live in Artifact Registry
        if ref is not None and ref.project not in _PUBLIC_REGISTRY_PROJECTS:
            # local_image_id is None both for a missing image and for one a non-executed build recorded: the
            # registry's own lookup tells the two apart.
            if not artifactregistry.image_exists(self.emulator, image):
                raise RevisionFailed("INTERNAL", _IMAGE_MISSING.format(image=image), reason="CONTAINER_MISSING")
            if self.engine is None:
                return None, no_engine
            local_id = artifactregistry.local_image_id(self.emulator, image)
            if local_id is None or not artifactregistry.image_is_executable(self.emulator, image):
                return None, (
                    f"The emulator accepted the {service} and its revision is Ready, but the image {image} was "
                    "recorded by a build that did not execute (the emulator had no container engine then), so "
                    "there is nothing to run. Build it again with this emulator to serve it."
                )
            if self.engine.image_id(local_id) is None:
                raise RevisionFailed(
                    "INTERNAL",
                    _IMAGE_MISSING.format(image=image),
                    reason="CONTAINER_MISSING",
                    detail=f"The local {self.engine.name} no longer has the image {local_id} that the build produced.",
                )
            return local_id, ""
        if self.engine is None:
            return None, no_engine
        local = self.engine.image_id(image)
        if local is None:
            # Google pulls public images; the emulator can only run what the engine already has.
            raise RevisionFailed(
                "INTERNAL",
                _IMAGE_MISSING.format(image=image),
                reason="CONTAINER_MISSING",
                detail=f"The local {self.engine.name} has no image {image} (the emulator does not pull images).",
            )
        return str(local), ""

    def _wait_ready(self, container_id: str, port: int) -> tuple[bool, int | None]:
        deadline = time.monotonic() + float(self.emulator.settings["revision_start_timeout_s"])
        while True:
            if _listening(port):
                return True, None
            running, exit_code = self.engine.state(container_id)
            if not running:
                return False, exit_code
            if time.monotonic() >= deadline:
                return False, None
            time.sleep(0.2)

    def activate(self, service: str, revisions: set[str]) -> None:
        """Revisions that receive traffic now; the others' containers go after an idle delay (scale to zero)."""
        delay = float(self.emulator.settings.get("run_idle_revision_remove_s", 30.0))
        with self._lock:
            self._active[service] = set(revisions)
            idle = [n for n in self._instances if n.startswith(service + "/") and n not in revisions]
            for name in idle:
                if name not in self._timers:
                    timer = threading.Timer(delay, self._retire, args=(service, name))
                    timer.daemon = True
                    self._timers[name] = timer
                    timer.start()

    def _retire(self, service: str, name: str) -> None:
        with self._lock:
            self._timers.pop(name, None)
            if name in self._active.get(service, set()):
                return
        self.stop(name)

    def stop(self, name: str) -> None:
        with self._lock:
            instance = self._instances.pop(name, None)
            timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if instance is not None and instance.container_id is not None:
            logs = self.engine.logs(instance.container_id, tail=200)
            if logs:
                self.logs[name] = logs
            self._remove(instance.container_id)

    def log_entries(self) -> list[dict[str, Any]]:
        """Cloud Logging entries of every running revision's container (logging/store.py)."""
        from deployer_emulator.logging.store import revision_entries

        with self._lock:
            running = [(name, i.container_id) for name, i in self._instances.items() if i.container_id is not None]
        entries: list[dict[str, Any]] = []
        for name, container_id in running:
            parts = name.split("/")
            output = self.engine.output(container_id, timestamps=True)
            entries += revision_entries(parts[1], parts[3], parts[5], parts[7], output)
        return entries

    def logs_of(self, name: str) -> str | None:
        with self._lock:
            instance = self._instances.get(name)
        if instance is not None and instance.container_id is not None:
            return str(self.engine.logs(instance.container_id, tail=500))
        return self.logs.get(name)

    def teardown(self, service: str) -> None:
        """A deleted service: its proxies close and its containers go."""
        with self._lock:
            proxies = [p for key, p in self._tag_proxies.items() if key[0] == service]
            for key in [k for k in self._tag_proxies if k[0] == service]:
                del self._tag_proxies[key]
            main = self._proxies.pop(service, None)
            self._active.pop(service, None)
            names = [n for n in self._instances if n.startswith(service + "/")]
        for proxy in [*proxies, *([main] if main else [])]:
            proxy.close()
        _in_parallel([functools.partial(self.stop, name) for name in names])

    def track(self, container_id: str) -> None:
        """A container started elsewhere (a job's task) that shutdown must remove too."""
        with self._lock:
            self._started.add(container_id)

    def untrack(self, container_id: str) -> None:
        with self._lock:
            self._started.discard(container_id)

    def _remove(self, container_id: str) -> None:
        self.engine.remove(container_id)
        with self._lock:
            self._started.discard(container_id)

    def close(self) -> None:
        """Shutdown: every proxy closes and every container this emulator started is removed (by id, so another
        emulator's containers on the same engine are left alone)."""
        with self._lock:
            self._closed = True
            proxies = [*self._proxies.values(), *self._tag_proxies.values()]
            self._proxies.clear()
            self._tag_proxies.clear()
            timers = list(self._timers.values())
            self._timers.clear()
            started = list(self._started)
        for timer in timers:
            timer.cancel()
        for proxy in proxies:
            proxy.close()
        if self.engine is not None:
            _in_parallel([functools.partial(self._remove, cid) for cid in started])


def _in_parallel(tasks: list[Callable[[], None]]) -> None:
    """Container removals at once: an app that ignores SIGTERM (any PID 1 without a handler) takes the engine's
    whole stop timeout, and one after another those add up."""
    threads = [threading.Thread(target=task, daemon=True) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def _listening(port: int) -> bool:
    """A TCP connect that stays open. Port forwarders (docker-proxy, rootlessport) accept at once and then drop the
    connection when the container does not listen, so an immediate EOF is not readiness."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.settimeout(0.3)
            try:
                return sock.recv(1) != b""
            except TimeoutError:
                return True
    except OSError:
        return False
