"""``${services.generate.url}`` in a target's env or args: how one target names another, and the order that follows.

A reference is resolved when a deploy (or ``deployer local``) knows the value: a service's URL once it is deployed,
a VM's address once it has one. The references, plus ``depends_on``, make a graph over the file's targets; a cycle
or a name that is not in the file is bad input, found when the file is loaded, before anything is sent.

``$${`` writes a literal ``${`` (as in docker compose).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Section = Literal["services", "jobs", "vms"]

# What each kind of target can be asked for.
ATTRIBUTES: Mapping[Section, tuple[str, ...]] = {
    "services": ("url", "name"),
    "jobs": ("name",),
    "vms": ("ip", "name"),
}
GLOBALS = ("project", "region")

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_PATH = re.compile(r"^(services|jobs|vms)\.([a-z][a-z0-9-]*)\.([a-z_]+)$")


@dataclass(frozen=True)
class Reference:
    """``${section.name.attribute}``, or ``${project}`` / ``${region}`` (section and name empty)."""

    section: Section | None
    name: str
    attribute: str

    def __str__(self) -> str:
        if self.section is None:
            return "${" + self.attribute + "}"
        return "${" + f"{self.section}.{self.name}.{self.attribute}" + "}"


def references_in(text: str) -> list[Reference]:
    """Every reference in ``text``; raises ValueError naming the first malformed one and what is allowed."""
    found: list[Reference] = []
    for match in _PLACEHOLDER.finditer(text):
        if match.group(0) == "$${":
            continue
        found.append(_parse(match.group(1)))
    return found


def _parse(inner: str) -> Reference:
    body = inner.strip()
    if body in GLOBALS:
        return Reference(None, "", body)
    path = _PATH.fullmatch(body)
    if path is None:
        shown = inner if len(inner) <= 60 else inner[:57] + "..."
        raise ValueError(
            f'"${{{shown}}}" is not a reference deployer knows; write ${{services.NAME.url}}, '
            "${services.NAME.name}, ${jobs.NAME.name}, ${vms.NAME.ip}, ${vms.NAME.name}, ${project} or ${region} "
            "(and $${ for a literal ${)"
        )
    section: Section = path.group(1)  # type: ignore[assignment]
    name, attribute = path.group(2), path.group(3)
    if attribute not in ATTRIBUTES[section]:
        allowed = " or ".join(ATTRIBUTES[section])
        raise ValueError(f'"${{{body}}}": a target in [{section}] has {allowed}, not {attribute}')
    return Reference(section, name, attribute)


def substitute(text: str, value_of: Callable[[Reference], str]) -> str:
    """``text`` with each reference replaced by ``value_of(reference)`` and ``$${`` by ``${``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        return value_of(_parse(match.group(1)))

    return _PLACEHOLDER.sub(replace, text)


@dataclass(frozen=True)
class Target:
    """What the graph needs of one target: where it sits, the texts that may hold references, and depends_on."""

    section: Section
    name: str
    texts: Mapping[str, str]  # field path ("env.NEXT_URL", "args[0]") -> text
    depends_on: tuple[str, ...] = ()


def dependencies(targets: Iterable[Target]) -> dict[str, frozenset[str]]:
    """Each target's name -> the names it needs deployed first. Raises ValueError with one line per problem: a
    malformed or unknown reference, a reference to the wrong kind, a self reference or a cycle."""
    by_name = {target.name: target for target in targets}
    problems: list[str] = []
    needs: dict[str, set[str]] = {name: set() for name in by_name}
    for target in by_name.values():
        where = f"{target.section}.{target.name}"
        for field, text in target.texts.items():
            try:
                found = references_in(text)
            except ValueError as exc:
                problems.append(f"{where}.{field}: {exc}")
                continue
            for reference in found:
                if reference.section is None:
                    continue
                other = by_name.get(reference.name)
                if other is None or other.section != reference.section:
                    problems.append(
                        f"{where}.{field}: {reference} names no [{reference.section}.{reference.name}] in the file"
                        + (f" (it is in [{other.section}])" if other is not None else "")
                    )
                elif other.name == target.name:
                    problems.append(f"{where}.{field}: {reference} refers to the target itself")
                else:
                    needs[target.name].add(other.name)
        for other_name in target.depends_on:
            if other_name not in by_name:
                problems.append(f"{where}.depends_on: {other_name!r} is not a target in the file")
            elif other_name == target.name:
                problems.append(f"{where}.depends_on: a target cannot depend on itself")
            else:
                needs[target.name].add(other_name)
    if not problems:
        cycle = _find_cycle(needs)
        if cycle:
            problems.append("the targets depend on each other in a circle: " + " -> ".join(cycle))
    if problems:
        raise ValueError("\n".join(problems))
    return {name: frozenset(names) for name, names in needs.items()}


def _find_cycle(needs: Mapping[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for other in sorted(needs[name]):
            if state.get(other) == 1:
                return [*path[path.index(other) :], other]
            if other not in state:
                found = visit(other)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return []

    for name in sorted(needs):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def waves(needs: Mapping[str, frozenset[str]], chosen: Iterable[str]) -> list[list[str]]:
    """``chosen`` in deploy order, as groups that may run at the same time: each group needs only earlier groups.

    A dependency outside ``chosen`` is not added: it is expected to be deployed already (the caller checks).
    """
    remaining = set(chosen)
    done: set[str] = set()
    order: list[list[str]] = []
    while remaining:
        ready = sorted(name for name in remaining if not (needs.get(name, frozenset()) & remaining))
        if not ready:  # dependencies() refuses cycles; this guards a caller that skipped it
            raise ValueError("the targets depend on each other in a circle: " + ", ".join(sorted(remaining)))
        order.append(ready)
        done.update(ready)
        remaining.difference_update(ready)
    return order
