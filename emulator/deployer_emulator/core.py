"""The emulator's core: requests, routing, state, long-running operations, the request log and fault injection.

Each API surface (``storage/``, ``cloudbuild/``, ``artifactregistry.py``, ``run/``, ...) registers its routes on a
Router and keeps its resources as REST JSON documents in ``Emulator.state``.
Handlers raise ``ApiError`` for Google's failures.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from deployer_emulator.errors import ApiError, invalid_argument, not_found

# Paths of POST calls that only read: a request log entry for them is not "mutating".
_READ_ONLY_VERBS = (":getIamPolicy", ":testIamPermissions", ":wait", "/wait", ":search", ":batchGet")


@dataclass
class Request:
    method: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    caller: str  # from the bearer token: "user:alice@example.com", or "anonymous"

    @property
    def path(self) -> str:
        return unquote(self.raw_path)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return (self.param(name) or "").lower() in ("true", "1")

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            doc = json.loads(self.body)
        except ValueError as exc:
            raise invalid_argument(f"Invalid JSON payload received. {exc}") from exc
        if not isinstance(doc, dict):
            raise invalid_argument("Invalid JSON payload received. Expected an object.")
        return doc


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, doc: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(doc).encode(), {"Content-Type": "application/json; charset=UTF-8"})

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status, b"", {})


Handler = Callable[..., "Response | dict[str, Any]"]


class Router:
    """Google-style URL templates: ``{name}`` is one segment (no ``/`` or ``:``), ``{name=**}`` the rest."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        pattern = ""
        for piece in re.split(r"(\{[^}]+\})", template):
            if piece.startswith("{"):
                name, _, kind = piece[1:-1].partition("=")
                pattern += f"(?P<{name}>.+)" if kind == "**" else f"(?P<{name}>[^/:]+)"
            else:
                pattern += re.escape(piece)
        self._routes.append((method, re.compile(pattern + r"\Z"), handler))

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, template, handler)
            return handler

        return register

    def match(self, method: str, raw_path: str) -> tuple[Handler, dict[str, str]]:
        path_known = False
        for route_method, pattern, handler in self._routes:
            m = pattern.match(raw_path)
            if m:
                path_known = True
                if route_method == method:
                    return handler, {k: unquote(v) for k, v in m.groupdict().items()}
        if path_known:
            raise ApiError(
                "INVALID_ARGUMENT", f"Method {method} is not allowed on {unquote(raw_path)}", http_status=405
            )
        raise not_found(f"The requested URL {unquote(raw_path)} was not found on this server.")


@dataclass
class Fault:
    """A failure to inject: requests whose method and path match answer ``status`` (or drop the connection)."""

    path_regex: str
    method: str | None = None
    status: int | None = None  # 429 or 503 typically
    delay_s: float = 0.0
    drop: bool = False
    times: int = 1  # how many matching requests it affects; -1 = all
    # Optional Google error to answer with, e.g. reason "SERVICE_DISABLED" and its ErrorInfo metadata.
    error_status: str | None = None
    message: str = "injected fault"
    reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and re.search(self.path_regex, path) is not None


class State:
    """Resources as REST JSON documents, by table and name; persisted to ``state_dir`` when one is given."""

    def __init__(self, state_dir: Path | None) -> None:
        self.lock = threading.RLock()
        self._state_file = state_dir / "state.json" if state_dir else None
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        if self._state_file and self._state_file.exists():
            self.tables = json.loads(self._state_file.read_text())

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self.tables.setdefault(name, {})

    def save(self) -> None:
        if self._state_file is None:
            return
        with self.lock:
            tmp = self._state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.tables, sort_keys=True))
            tmp.replace(self._state_file)


class OperationHandle:
    """What a long-running operation's work sees: it may update the metadata while it runs."""

    def __init__(self, emulator: Emulator, name: str) -> None:
        self._emulator = emulator
        self.name = name

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        with self._emulator.state.lock:
            self._emulator.state.table("operations")[self.name]["metadata"] = metadata


class Emulator:
    """One emulator process: the surfaces, their state, the operations, the request log, the faults."""

    def __init__(self, *, state_dir: Path | None, blob_dir: Path, engine: Any, world: str = "open") -> None:
        self.state = State(state_dir)
        self.blob_dir = blob_dir
        self.engine = engine  # deployer_emulator.engine.Engine | None
        self.world = world
        self.base_url = ""  # set once the server is bound
        self.router = Router()
        self.settings: dict[str, Any] = {
            # seconds a Cloud Run revision may take to listen on its port before it is declared failed
            "revision_start_timeout_s": 60.0,
        }
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._faults: list[Fault] = []
        self._threads: list[threading.Thread] = []
        self.shutdown_hooks: list[Callable[[], None]] = []
        # Set by the IAM surface: raises Google's 403 (permission or SERVICE_DISABLED) for a request it refuses.
        self.enforcer: Callable[[Request, str, str], None] | None = None

    def authorize(self, req: Request | None, permission: str, resource: str) -> None:
        """Refuse ``req`` as Google would unless its caller holds ``permission`` on ``resource`` and the API that
        owns the permission (``compute.*`` → compute.googleapis.com) is enabled on the resource's project.

        Every surface calls this once per request, before it reads or changes anything. In the open world there is
        no enforcer and everything is allowed; ``req`` None is the emulator's own work (a build pushing its image).
        """
        if self.enforcer is not None and req is not None:
            self.enforcer(req, permission, resource)

    # -- request log -------------------------------------------------------------------------------------------
    def record(self, req: Request, status: int) -> None:
        # validateOnly=true asks the server to check a change without making it (Cloud Run v2's validate_only,
        # google/cloud/run/v2/service.proto CreateServiceRequest): it reads, it does not mutate.
        validate_only = (req.query.get("validateOnly") or req.query.get("validate_only") or [""])[-1] == "true"
        mutating = (
            req.method in ("POST", "PUT", "PATCH", "DELETE")
            and not req.path.endswith(_READ_ONLY_VERBS)
            and not validate_only
        )
        entry = {
            "method": req.method,
            "path": req.path,
            "query": {k: v[-1] for k, v in req.query.items()},
            "mutating": mutating,
            "status": status,
            "caller": req.caller,
        }
        with self._log_lock:
            entry["seq"] = len(self._log)
            self._log.append(entry)

    def requests_since(self, seq: int) -> list[dict[str, Any]]:
        with self._log_lock:
            return self._log[seq:]

    # -- faults ------------------------------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        with self._log_lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._log_lock:
            self._faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._log_lock:
            for fault in self._faults:
                if fault.times != 0 and fault.matches(method, path):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    # -- background work and long-running operations ----------------------------------------------------------
    def spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def start_operation(
        self,
        name: str,
        metadata: dict[str, Any],
        work: Callable[[OperationHandle], dict[str, Any]],
    ) -> dict[str, Any]:
        """Store a not-done Operation and run ``work`` in the background.

        ``work`` returns the response document (with its exact ``@type``, or the client raises) or raises
        ApiError, which becomes the operation's ``error``.
        """
        operation: dict[str, Any] = {"name": name, "metadata": metadata, "done": False}
        with self.state.lock:
            self.state.table("operations")[name] = operation
        handle = OperationHandle(self, name)

        def run() -> None:
            try:
                response = work(handle)
                outcome: dict[str, Any] = {"response": response}
            except ApiError as exc:
                outcome = {"error": exc.to_operation_error()}
            except Exception as exc:  # an emulator bug must still finish the operation
                outcome = {"error": {"code": 13, "message": f"internal emulator error: {exc!r}"}}
            with self.state.lock:
                self.state.table("operations")[name].update(done=True, **outcome)
                self.state.save()

        # The answer is the operation as stored now: quick work could otherwise finish before the copy is taken.
        answer = json.loads(json.dumps(operation))
        self.spawn(run, f"operation {name}")
        return answer  # type: ignore[no-any-return]

    def get_operation(self, name: str) -> dict[str, Any]:
        with self.state.lock:
            operation = self.state.table("operations").get(name)
            if operation is None:
                raise not_found(f"Operation {name} not found.")
            copied: dict[str, Any] = json.loads(json.dumps(operation))
            return copied

    def wait_operation(self, name: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            operation = self.get_operation(name)
            if operation.get("done") or time.monotonic() >= deadline:
                return operation
            time.sleep(0.05)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    @contextmanager
    def mutation(self) -> Iterator[None]:
        """Hold the state lock for a read-modify-write, and persist afterwards."""
        with self.state.lock:
            yield
            self.state.save()

    def project_number(self, project_id: str) -> str:
        """A stable 12-digit project number per project id (Google's are opaque numbers like this)."""
        digest = uuid.uuid5(uuid.NAMESPACE_DNS, f"{project_id}.deployer-emulator").int
        return str(100000000000 + digest % 900000000000)

    def close(self) -> None:
        for hook in reversed(self.shutdown_hooks):
            try:
                hook()
            except Exception:  # best effort: shutting down must not fail on one hook
                pass


def paginate(
    items: list[Any],
    req: Request,
    *,
    key: str,
    default: int = 0,
    maximum: int | None = None,
    size_param: str = "pageSize",
) -> dict[str, Any]:
    """A list response: ``{key: page, "nextPageToken": …}`` with Google's conventions.

    ``pageSize`` 0 or absent means ``default`` (0: everything), a larger one is capped at ``maximum``; the token is
    opaque to clients (an offset here); an empty page omits ``key``, as the REST JSON of an empty repeated field does.
    """
    token = req.param("pageToken") or ""
    raw_size = req.param(size_param) or "0"
    try:
        start = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()) if token else 0
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_argument("The page token is not valid.") from exc
    try:
        size = int(raw_size)
    except ValueError as exc:
        raise invalid_argument(f"Invalid value for page_size: {raw_size}") from exc
    if size < 0:
        raise invalid_argument("page_size must not be negative.")
    size = size or default or len(items)
    if maximum is not None:
        size = min(size, maximum)
    page = items[start : start + size]
    answer: dict[str, Any] = {key: page} if page else {}
    if start + size < len(items):
        answer["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode().rstrip("=")
    return answer


def caller_from_headers(headers: dict[str, str]) -> str:
    """The caller a request speaks for.

    Token form (documented in the emulator's README.md): ``Authorization: Bearer emulator:<member>``, e.g.
    ``emulator:user:alice@example.com`` or ``emulator:serviceAccount:build@p.iam.gserviceaccount.com``. Any other
    bearer token is an opaque real-looking token and maps to ``user:developer@example.com``; no header is anonymous.
    """
    value = headers.get("authorization", "")
    if not value.lower().startswith("bearer "):
        return "anonymous"
    token = value[7:].strip()
    if token.startswith("emulator:"):
        return token[len("emulator:") :]
    return "user:developer@example.com"


def parse_query(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)
