"""The part of CEL (https://github.com/google/cel-spec/blob/master/doc/langdef.md) that attribute conditions use:
string, integer and boolean literals, ``assertion.x`` / ``attribute.x`` / ``google.x`` selections and
``assertion['x']``, ``==`` ``!=`` ``in [..]`` ``!`` ``&&`` ``||``, parentheses, and ``.startsWith()``,
``.endsWith()``, ``.contains()``. Workload Identity Federation parses the condition when a provider is written
and evaluates it on each token exchange; an expression outside this subset is refused as not valid here."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<num>\d+)|(?P<op>&&|\|\||==|!=|[!()\[\].,])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
_METHODS = {"startsWith": str.startswith, "endsWith": str.endswith, "contains": str.__contains__}
_ROOTS = ("assertion", "attribute", "google")


class CelError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise CelError(f"Syntax error: token recognition error at position {position + 1}")
        position = match.end()
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "str":
            value = value[1:-1].encode().decode("unicode_escape")
        elif kind == "num":
            value = int(value)
        found.append((kind, value))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", None)

    def take(self, value: str) -> bool:
        if self.peek() == ("op", value) or self.peek() == ("name", value):
            self.at += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.take(value):
            raise CelError(f"Syntax error: expected '{value}' at token {self.at + 1}")

    def parse(self) -> Any:
        node = self.disjunction()
        if self.peek()[0] != "end":
            raise CelError(f"Syntax error: unexpected {self.peek()[1]!r} at token {self.at + 1}")
        return node

    def disjunction(self) -> Any:
        node = self.conjunction()
        while self.take("||"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.relation()
        while self.take("&&"):
            node = ("and", node, self.relation())
        return node

    def relation(self) -> Any:
        node = self.unary()
        for op in ("==", "!=", "in"):
            if self.take(op):
                return (op, node, self.unary())
        return node

    def unary(self) -> Any:
        if self.take("!"):
            return ("not", self.unary())
        return self.member()

    def member(self) -> Any:
        node = self.primary()
        while True:
            if self.take("."):
                kind, name = self.peek()
                if kind != "name":
                    raise CelError(f"Syntax error: a field name must follow '.' at token {self.at + 1}")
                self.at += 1
                if self.take("("):
                    if name not in _METHODS:
                        raise CelError(f"undeclared reference to '{name}'")
                    argument = self.disjunction()
                    self.expect(")")
                    node = ("call", name, node, argument)
                else:
                    node = ("field", node, name)
            elif self.take("["):
                key = self.disjunction()
                self.expect("]")
                node = ("index", node, key)
            else:
                return node

    def primary(self) -> Any:
        kind, value = self.peek()
        self.at += 1
        if kind in ("str", "num"):
            return ("lit", value)
        if kind == "name" and value in ("true", "false"):
            return ("lit", value == "true")
        if kind == "name":
            if value not in _ROOTS:
                raise CelError(f"undeclared reference to '{value}'")
            return ("root", value)
        if (kind, value) == ("op", "("):
            node = self.disjunction()
            self.expect(")")
            return node
        if (kind, value) == ("op", "["):
            items = [] if self.take("]") else [self.disjunction()]
            while items and not self.take("]"):
                self.expect(",")
                items.append(self.disjunction())
            return ("list", items)
        raise CelError(f"Syntax error: unexpected {value!r} at token {self.at}")


def parse(text: str) -> Any:
    """The expression's tree; CelError for anything this subset of CEL cannot read."""
    if not text.strip():
        raise CelError("Syntax error: the expression is empty")
    return _Parser(text).parse()


def evaluate(tree: Any, variables: dict[str, Any]) -> Any:
    """The value of ``tree`` (from ``parse``) over ``variables`` (``{"assertion": claims, ...}``). A missing field
    is an error, as in CEL; the caller treats an error as false."""
    kind = tree[0]
    if kind == "lit":
        return tree[1]
    if kind == "root":
        return variables.get(tree[1], {})
    if kind in ("field", "index"):
        container = evaluate(tree[1], variables)
        key = tree[2] if kind == "field" else evaluate(tree[2], variables)
        if not isinstance(container, dict) or key not in container:
            raise CelError(f"no such key: {key}")
        return container[key]
    if kind == "list":
        return [evaluate(item, variables) for item in tree[1]]
    if kind == "not":
        return not evaluate(tree[1], variables)
    if kind == "and":
        return bool(evaluate(tree[1], variables)) and bool(evaluate(tree[2], variables))
    if kind == "or":
        return bool(evaluate(tree[1], variables)) or bool(evaluate(tree[2], variables))
    if kind == "call":
        return _METHODS[tree[1]](str(evaluate(tree[2], variables)), str(evaluate(tree[3], variables)))
    left, right = evaluate(tree[1], variables), evaluate(tree[2], variables)
    if kind == "in":
        return left in right
    return (left == right) if kind == "==" else (left != right)


def holds(text: str, variables: dict[str, Any]) -> bool:
    try:
        return bool(evaluate(parse(text), variables))
    except CelError:
        return False
