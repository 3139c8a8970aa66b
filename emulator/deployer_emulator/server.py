"""The emulator's HTTP server: one process, every surface, Google's wire behaviour.

``python -m deployer_emulator`` or ``deployer emulator start`` runs it. Admin endpoints live under ``/_emulator/``
(health, the request log, fault injection, settings); see the emulator's README.md.
"""

from __future__ import annotations

import json
import socket
import tempfile
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deployer_emulator.core import Emulator, Fault, Request, Response, caller_from_headers, parse_query
from deployer_emulator.engine import Engine, detect_engine
from deployer_emulator.errors import ApiError, error_info

_FAULT_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def build_emulator(
    *, state_dir: Path | None, engine: Engine | None, world: str = "open", scenario: dict[str, Any] | None = None
) -> Emulator:
    """The emulator with every surface; a scenario (scenario.load_scenario) seeds a strict world."""
    if scenario is not None:
        world = "strict"
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        blob_dir = state_dir / "blobs"
    else:
        blob_dir = Path(tempfile.mkdtemp(prefix="deployer-emulator-"))
    blob_dir.mkdir(parents=True, exist_ok=True)
    emulator = Emulator(state_dir=state_dir, blob_dir=blob_dir, engine=engine, world=world)
    _register_admin(emulator)
    # Imported here so that each surface's client-library types load once, when the server is built.
    from deployer_emulator import (
        artifactregistry,
        billing,
        cloudquotas,
        resourcemanager,
        serviceusage,
    )
    from deployer_emulator.cloudbuild import surface as cloudbuild
    from deployer_emulator.compute import surface as compute
    from deployer_emulator.iam import surface as iam
    from deployer_emulator.logging import surface as logging_surface
    from deployer_emulator.run import surface as run
    from deployer_emulator.storage import surface as storage

    for surface in (
        storage,
        cloudbuild,
        artifactregistry,
        run,
        compute,
        resourcemanager,
        billing,
        serviceusage,
        iam,
        logging_surface,
        cloudquotas,
    ):
        surface.register(emulator)
    _make_world(emulator, scenario)
    return emulator


def _make_world(emulator: Emulator, scenario: dict[str, Any] | None) -> None:
    """The strict world enforces IAM and API enablement, and a scenario seeds it; the open world allows all."""
    if emulator.world != "strict":
        return
    from deployer_emulator.iam.enforcer import install_enforcer
    from deployer_emulator.scenario import seed

    install_enforcer(emulator)
    if scenario is not None:
        seed(emulator, scenario)


def _register_admin(emulator: Emulator) -> None:
    router = emulator.router

    @router.route("GET", "/_emulator/health")
    def health(req: Request) -> dict[str, Any]:
        engine = emulator.engine
        return {"ok": True, "engine": engine.name if engine else None, "world": emulator.world}

    @router.route("GET", "/_emulator/state")
    def state(req: Request) -> dict[str, Any]:
        """Every resource the emulator holds, by table: what the console would show."""
        with emulator.state.lock:
            return json.loads(json.dumps(emulator.state.tables))  # type: ignore[no-any-return]

    @router.route("GET", "/_emulator/requests")
    def requests_log(req: Request) -> dict[str, Any]:
        return {"requests": emulator.requests_since(int(req.param("since", "0") or 0))}

    @router.route("POST", "/_emulator/faults")
    def add_fault(req: Request) -> dict[str, Any]:
        doc = req.json()
        emulator.add_fault(
            Fault(
                path_regex=str(doc["path_regex"]),
                method=doc.get("method"),
                status=doc.get("status"),
                delay_s=float(doc.get("delay_s", 0)),
                drop=bool(doc.get("drop", False)),
                times=int(doc.get("times", 1)),
                error_status=doc.get("error_status"),
                message=str(doc.get("message", "injected fault")),
                reason=doc.get("reason"),
                metadata=dict(doc.get("metadata", {})),
            )
        )
        return {}

    @router.route("DELETE", "/_emulator/faults")
    def clear_faults(req: Request) -> dict[str, Any]:
        emulator.clear_faults()
        return {}

    @router.route("PATCH", "/_emulator/settings")
    def settings(req: Request) -> dict[str, Any]:
        doc = req.json()
        unknown = set(doc) - set(emulator.settings)
        if unknown:
            raise ApiError(
                "INVALID_ARGUMENT", f"unknown settings {sorted(unknown)}; known: {sorted(emulator.settings)}"
            )
        emulator.settings.update(doc)
        return dict(emulator.settings)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client libraries' sessions expect
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        emulator = self.server.emulator
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, split.path, parse_query(split.query), headers, body, caller_from_headers(headers))
        admin = split.path.startswith("/_emulator/")
        fault = None if admin else emulator.take_fault(req.method, req.path)
        if fault is not None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.status:
                status = fault.error_status or _FAULT_STATUS.get(fault.status, "UNAVAILABLE")
                details = [error_info(fault.reason, **fault.metadata)] if fault.reason else None
                error = ApiError(status, fault.message, details=details, http_status=fault.status)
                return self._send(req, Response.json(error.to_json(), fault.status), record=True)
        try:
            handler, params = emulator.router.match(req.method, req.raw_path)
            result = handler(req, **params)
            response = result if isinstance(result, Response) else Response.json(result)
        except ApiError as exc:
            response = Response.json(exc.to_json(), exc.http_status)
        except Exception as exc:
            if self.server.verbose:
                traceback.print_exc()
            response = Response.json(ApiError("INTERNAL", f"internal emulator error: {exc!r}").to_json(), 500)
        self._send(req, response, record=not admin)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, req: Request, response: Response, *, record: bool) -> None:
        if record:
            self.server.emulator.record(req, response.status)
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if req.method != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator, *, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.verbose = verbose


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_dir: Path | None = None,
    world: str = "open",
    scenario: dict[str, Any] | None = None,
    ready_file: Path | None = None,
    verbose: bool = False,
    announce: bool = True,
) -> None:
    """Run the emulator until interrupted; write its URL to ``ready_file`` once it accepts connections."""
    engine = detect_engine()
    emulator = build_emulator(state_dir=state_dir, engine=engine, world=world, scenario=scenario)
    world = emulator.world
    server = _Server((host, port), emulator, verbose=verbose)
    emulator.base_url = f"http://{host}:{server.server_address[1]}"
    if announce:
        engine_note = f"container engine: {engine.name}" if engine else "no container engine: builds are not executed"
        print(f"deployer emulator listening on {emulator.base_url} ({engine_note}, {world} world)", flush=True)
        print(f"  export DEPLOYER_EMULATOR_URL={emulator.base_url}", flush=True)
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": emulator.base_url, "engine": engine.name if engine else None}))
        tmp.replace(ready_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emulator.close()
