"""List filters (AIP-160 comparisons, or eq/ne with a regular expression), ordering and list answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from deployer_emulator.compute.base import API, _int_param
from deployer_emulator.compute.catalogue import ZONES
from deployer_emulator.compute.errors import _invalid_field
from deployer_emulator.core import Request, paginate

# ---------------------------------------------------------------------------------------------------------------
# List filters (compute_v1 *ListRequest.filter docstring: AIP-160 comparisons, or eq/ne with RE2 regular expressions)
# ---------------------------------------------------------------------------------------------------------------

Predicate = Callable[[dict[str, Any]], bool]


class _FilterError(Exception):
    pass


class _FilterParser:
    """``name = nvidia-l4``, ``name eq nvidia-l.*``, ``(a = 1) (b != "x")``, ``a = 1 AND b = 2 OR c = 3``, ``k:*``.

    As in the docstring's example, OR binds tighter than the (implicit or explicit) AND. ``:`` compares like ``=``,
    and also matches the last path segment of a URL-valued field (``zone:europe-west4-a``): an approximation."""

    _FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
    _OP_RE = re.compile(r"!=|>=|<=|=|>|<|:|eq\b|ne\b")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.kinds: set[str] = set()

    def parse(self) -> Predicate:
        predicate = self._sequence()
        self._space()
        if self.pos != len(self.text):
            raise _FilterError(f"unexpected {self.text[self.pos :]!r}")
        if "regex" in self.kinds and "aip" in self.kinds:
            raise _FilterError("regular expressions and AIP-160 comparisons cannot be mixed")
        return predicate

    def _space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _keyword(self, word: str) -> bool:
        self._space()
        end = self.pos + len(word)
        if self.text[self.pos : end] == word and (end == len(self.text) or not self.text[end].isalnum()):
            self.pos = end
            return True
        return False

    def _sequence(self) -> Predicate:
        terms = [self._disjunction()]
        while True:
            self._space()
            if self.pos >= len(self.text) or self.text[self.pos] == ")":
                break
            self._keyword("AND")
            terms.append(self._disjunction())
        return lambda doc: all(term(doc) for term in terms)

    def _disjunction(self) -> Predicate:
        terms = [self._unary()]
        while self._keyword("OR"):
            terms.append(self._unary())
        return lambda doc: any(term(doc) for term in terms)

    def _unary(self) -> Predicate:
        if self._keyword("NOT"):
            inner = self._primary()
            return lambda doc: not inner(doc)
        self._space()
        if self.text.startswith("-", self.pos):
            self.pos += 1
            negated = self._primary()
            return lambda doc: not negated(doc)
        return self._primary()

    def _primary(self) -> Predicate:
        self._space()
        if self.text.startswith("(", self.pos):
            self.pos += 1
            inner = self._sequence()
            self._space()
            if not self.text.startswith(")", self.pos):
                raise _FilterError("missing )")
            self.pos += 1
            return inner
        match = self._FIELD_RE.match(self.text, self.pos)
        if not match:
            raise _FilterError(f"expected a field name at {self.text[self.pos :]!r}")
        field = match.group(0)
        self.pos = match.end()
        self._space()
        op_match = self._OP_RE.match(self.text, self.pos)
        if not op_match:
            raise _FilterError(f"expected an operator after {field}")
        op = op_match.group(0)
        self.pos = op_match.end()
        self._space()
        value = self._value()
        self.kinds.add("regex" if op in ("eq", "ne") else "aip")
        return _comparison(field, op, value)

    def _value(self) -> str:
        if self.pos < len(self.text) and self.text[self.pos] in "\"'":
            quote = self.text[self.pos]
            end = self.pos + 1
            out = []
            while end < len(self.text) and self.text[end] != quote:
                if self.text[end] == "\\" and end + 1 < len(self.text):
                    end += 1
                out.append(self.text[end])
                end += 1
            if end >= len(self.text):
                raise _FilterError("unterminated string")
            self.pos = end + 1
            return "".join(out)
        start = self.pos
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char.isspace() and depth == 0:
                break
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            self.pos += 1
        if start == self.pos:
            raise _FilterError("expected a value")
        return self.text[start : self.pos]


def _field_values(doc: Any, path: str) -> list[Any]:
    values = [doc]
    for part in path.split("."):
        next_values: list[Any] = []
        for value in values:
            if isinstance(value, dict) and part in value:
                found = value[part]
                next_values.extend(found if isinstance(found, list) else [found])
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and part in item:
                        found = item[part]
                        next_values.extend(found if isinstance(found, list) else [found])
        values = next_values
    return values


def _equals(actual: Any, wanted: str) -> bool:
    if isinstance(actual, bool):
        return wanted.lower() == str(actual).lower()
    if isinstance(actual, (int, float)) or (isinstance(actual, str) and re.fullmatch(r"-?\d+(\.\d+)?", actual)):
        try:
            return float(actual) == float(wanted)
        except ValueError:
            return False
    text = str(actual)
    if "*" in wanted:
        return re.fullmatch(".*".join(re.escape(p) for p in wanted.split("*")), text) is not None
    return text == wanted


def _compare(actual: Any, op: str, wanted: str) -> bool:
    try:
        left: Any = float(actual)
        right: Any = float(wanted)
    except (TypeError, ValueError):
        left, right = str(actual), wanted
    return bool({">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op])


def _comparison(field: str, op: str, wanted: str) -> Predicate:
    def test(doc: dict[str, Any]) -> bool:
        values = _field_values(doc, field)
        if op in ("eq", "ne"):
            try:
                pattern = re.compile(wanted)
            except re.error:
                return False
            hit = any(pattern.fullmatch(str(v).lower() if isinstance(v, bool) else str(v)) for v in values)
            return hit if op == "eq" else not hit
        if op == ":":
            if wanted == "*":
                return bool(values)
            return any(_equals(v, wanted) or str(v).rsplit("/", 1)[-1] == wanted for v in values)
        if op == "=":
            return any(_equals(v, wanted) for v in values)
        if op == "!=":
            return not any(_equals(v, wanted) for v in values)
        return any(_compare(v, op, wanted) for v in values)

    return test


def _filter(req: Request) -> Predicate:
    text = (req.param("filter") or "").strip()
    if not text:
        return lambda doc: True
    try:
        return _FilterParser(text).parse()
    except _FilterError as exc:
        # Compute's answer to a filter it cannot read (wording unconfirmed).
        raise _invalid_field("filter", text, f"Invalid list filter expression: {exc}.") from exc


def _list_response(kind: str, path: str, items: list[Any], req: Request) -> dict[str, Any]:
    """Compute's list document: ``kind``, ``id`` and ``selfLink`` (the collection's path), ``items`` and a
    ``nextPageToken``; paging by ``maxResults`` 0-500 (default 500)."""
    size = _int_param(req, "maxResults", 500) or 500
    if size < 0 or size > 500:
        # The documented range of maxResults (compute_v1 List*Request.max_results); wording unconfirmed.
        raise _invalid_field("maxResults", size, "Must be less than or equal to 500")
    answer: dict[str, Any] = {"kind": kind, "id": path, "selfLink": API + path}
    answer.update(paginate(items, req, key="items", size_param="maxResults", default=500, maximum=500))
    return answer


def _order(items: list[dict[str, Any]], req: Request) -> list[dict[str, Any]]:
    order_by = (req.param("orderBy") or "").strip()
    if not order_by or order_by == "name":
        return sorted(items, key=lambda d: str(d.get("name", "")))
    if order_by == "creationTimestamp desc":
        return sorted(items, key=lambda d: str(d.get("creationTimestamp", "")), reverse=True)
    # "Currently, only sorting by name or creationTimestamp desc is supported." (List*Request.order_by docstring)
    raise _invalid_field("orderBy", order_by, "Only sorting by name or creationTimestamp desc is supported.")


def _plain_list(project: str, req: Request, path: str, kind: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    return _list_response(kind, f"projects/{project}/{path}", docs, req)


def _aggregated(
    project: str, req: Request, key: str, kind: str, entries: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    """An aggregated list keyed ``zones/ZONE``; a zone with nothing on the page carries Compute's NO_RESULTS_ON_PAGE
    warning instead of items, as Compute answers (compute_v1 *ScopedList.warning)."""
    listed = _list_response(kind, f"projects/{project}/aggregated/{key}", entries, req)
    page: list[tuple[str, dict[str, Any]]] = listed.get("items", [])
    items: dict[str, dict[str, Any]] = {}
    for zone in sorted(ZONES):
        items[f"zones/{zone}"] = {
            "warning": {
                "code": "NO_RESULTS_ON_PAGE",
                "message": f"There are no results for scope 'zones/{zone}' on this page.",
                "data": [{"key": "scope", "value": f"zones/{zone}"}],
            }
        }
    for zone, doc in page:
        scoped = items[f"zones/{zone}"]
        scoped.pop("warning", None)
        scoped.setdefault(key, []).append(doc)
    return {**listed, "items": items}
