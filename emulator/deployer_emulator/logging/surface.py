"""``POST /v2/entries:list``: the entries of the named projects that match the filter, oldest first by default."""

from __future__ import annotations

import copy
import re
from typing import Any

from deployer_emulator.core import Emulator, Request, paginate
from deployer_emulator.errors import invalid_argument
from deployer_emulator.logging.store import ENTRIES, live_entries

# field OP value: a dotted path whose parts may be quoted (labels."run.googleapis.com/task_index"), then a value
# that is quoted or bare.
_TERM = re.compile(
    r'\s*(?P<path>(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]+")(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]+"))*)\s*'
    r'(?P<op>>=|<=|!=|=|>|<|:)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s()"]+)\s*'
)
_MAX_PAGE = 1000  # entries.list pageSize: "Default is 50. The maximum value is 1000."


def parse_filter(text: str) -> list[tuple[list[str], str, str]]:
    terms: list[tuple[list[str], str, str]] = []
    rest = text.strip()
    while rest:
        if rest.startswith("AND ") or rest.startswith("AND\t"):
            rest = rest[4:].lstrip()
            continue
        match = _TERM.match(rest)
        if match is None:
            raise invalid_argument(f'Invalid filter expression: unsupported syntax at "{rest[:40]}".')
        path = [p.strip('"') for p in re.findall(r'"[^"]+"|[^.]+', match.group("path"))]
        value = match.group("value")
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        terms.append((path, match.group("op"), value))
        rest = rest[match.end() :]
    return terms


def _lookup(entry: dict[str, Any], path: list[str]) -> Any:
    node: Any = entry
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _matches(entry: dict[str, Any], terms: list[tuple[list[str], str, str]]) -> bool:
    for path, op, value in terms:
        found = _lookup(entry, path)
        text = "" if found is None else str(found)
        if op == "=" and text != value:
            return False
        if op == "!=" and text == value:
            return False
        if op == ":" and value not in text:
            return False
        if op in (">=", "<=", ">", "<"):
            if found is None:
                return False
            ok = {">=": text >= value, "<=": text <= value, ">": text > value, "<": text < value}[op]
            if not ok:
                return False
    return True


def register(emulator: Emulator) -> None:
    def list_entries(req: Request) -> dict[str, Any]:
        body = req.json()
        unknown = set(body) - {"resourceNames", "filter", "orderBy", "pageSize", "pageToken", "projectIds"}
        if unknown:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": Cannot find field.'
            )
        names = list(body.get("resourceNames") or []) + [f"projects/{p}" for p in body.get("projectIds") or []]
        if not names:
            raise invalid_argument("resource_names: at least one resource name is required.")  # unconfirmed wording
        for name in names:
            emulator.authorize(req, "logging.logEntries.list", name)
        projects = {n.split("/")[1] for n in names if n.startswith("projects/")}
        terms = parse_filter(str(body.get("filter", "")))
        order = str(body.get("orderBy", "timestamp asc")).strip().lower()
        if order not in ("timestamp asc", "timestamp desc"):
            raise invalid_argument(
                f'Invalid orderBy: {body.get("orderBy")!r}; use "timestamp asc" or "timestamp desc".'
            )
        with emulator.state.lock:
            stored = [copy.deepcopy(e) for e in emulator.state.table(ENTRIES).values()]
        entries = [
            e
            for e in [*stored, *live_entries(emulator)]
            if e["logName"].split("/")[1] in projects and _matches(e, terms)
        ]
        entries.sort(key=lambda e: (e["timestamp"], e["insertId"]), reverse=order.endswith("desc"))
        size = int(body.get("pageSize") or 50)
        paged = Request(
            req.method,
            req.raw_path,
            {"pageSize": [str(size)], "pageToken": [str(body.get("pageToken", ""))]},
            req.headers,
            b"",
            req.caller,
        )
        return paginate(entries, paged, key="entries", maximum=_MAX_PAGE)

    emulator.router.add("POST", "/v2/entries:list", list_entries)
