"""The Dockerfile as Docker reads it: parser directives, line continuations, heredocs, stages, JSON and shell
forms, and ``ARG`` values in ``FROM``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from deployer.errors import BadInput

_HEREDOC = re.compile(r"<<-?\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    text: str  # everything after the keyword, continuations joined, heredoc bodies after a newline
    line: int  # where the instruction starts
    end_line: int

    def flags(self) -> dict[str, str]:
        """Leading ``--name=value`` options (``--from``, ``--platform``, ``--mount`` ...); repeated ones joined."""
        found: dict[str, str] = {}
        for token in self.text.split():
            if not token.startswith("--"):
                break
            key, _, value = token[2:].partition("=")
            found[key] = f"{found[key]} {value}" if key in found else value
        return found

    def body(self) -> str:
        """The text after the leading options."""
        tokens = self.text.split(" ")
        while tokens and (tokens[0].startswith("--") or tokens[0] == ""):
            tokens.pop(0)
        return " ".join(tokens)

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form's argv, or None for the shell form."""
        body = self.body().strip()
        if not body.startswith("["):
            return None
        try:
            value = json.loads(body)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None


@dataclass
class Stage:
    index: int
    line: int
    image: str  # the FROM image with ARG values substituted ("" if it could not be resolved)
    raw_image: str
    name: str | None
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]
    global_args: dict[str, str]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def lineage(self, stage: Stage) -> list[Stage]:
        """The stage and the earlier stages it is built on (``FROM builder``), whose layers it carries."""
        chain = [stage]
        by_name = {s.name: s for s in self.stages if s.name}
        current = stage
        while current.raw_image.lower() in by_name and by_name[current.raw_image.lower()].index < current.index:
            current = by_name[current.raw_image.lower()]
            chain.append(current)
        return chain


def _substitute(text: str, values: dict[str, str]) -> str | None:
    """``$NAME``, ``${NAME}``, ``${NAME:-default}`` and ``${NAME:+alt}`` as Docker expands them; None if unknown."""
    unresolved = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unresolved
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = values.get(name)
        if operator in (":-", "-"):
            return value if value else word
        if operator in (":+", "+"):
            return word if value else ""
        if value is None:
            unresolved = True
            return ""
        return value

    result = _VARIABLE.sub(replace, text)
    return None if unresolved else result


def _logical_lines(text: str) -> list[tuple[str, int, int]]:
    """(instruction text, first line, last line): directives, comments and blank lines dropped, continuations and
    heredocs joined."""
    lines = text.splitlines()
    escape = "\\"
    index = 0
    # Parser directives come first, before any comment, blank line or instruction.
    while index < len(lines):
        directive = re.fullmatch(r"#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*", lines[index])
        if directive is None:
            break
        if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
            escape = directive.group(2)
        index += 1
    result: list[tuple[str, int, int]] = []
    while index < len(lines):
        raw = lines[index]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index
        parts: list[str] = []
        current = raw.rstrip()
        while True:
            if current.endswith(escape):
                parts.append(current[: -len(escape)])
                index += 1
                # Comment lines and empty lines inside a continuation are skipped, as Docker does.
                while index < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
                    index += 1
                if index >= len(lines):
                    break
                current = lines[index].rstrip()
                continue
            parts.append(current)
            break
        joined = " ".join(part.strip() for part in parts)
        heredocs = [m.group(2) for m in _HEREDOC.finditer(joined)] if re.match(r"(?i)(RUN|COPY|ADD)\s", joined) else []
        end = index
        for delimiter in heredocs:
            body: list[str] = []
            index += 1
            while index < len(lines) and lines[index].strip() != delimiter:
                body.append(lines[index])
                index += 1
            end = index
            joined += "\n" + "\n".join(body)
        result.append((joined, start + 1, end + 1))
        index += 1
    return result


def parse_dockerfile(path: Path) -> Dockerfile:
    """Read and parse ``path``; BadInput when it cannot be read or is not a Dockerfile."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(
            f"no Dockerfile at {path}", "pass the Dockerfile's path: deployer lint path/to/Dockerfile"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for joined, line, end in _logical_lines(text):
        keyword, _, rest = joined.partition(" ")
        instruction = Instruction(keyword.upper(), rest.strip(), line, end)
        if instruction.keyword == "FROM":
            flags = instruction.flags()
            words = instruction.body().split()
            if not words:
                raise BadInput(f"{path}:{line}: FROM names no image", "write FROM IMAGE:TAG")
            raw = words[0]
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            platform = flags.get("platform")
            stages.append(
                Stage(
                    index=len(stages),
                    line=line,
                    image=_substitute(raw, global_args) or "",
                    raw_image=raw,
                    name=name,
                    platform=_substitute(platform, global_args) if platform is not None else None,
                )
            )
        elif not stages:
            if instruction.keyword == "ARG":
                for declaration in shlex.split(instruction.body()):
                    key, _, value = declaration.partition("=")
                    global_args[key] = value
            else:
                raise BadInput(
                    f"{path}:{line}: {instruction.keyword} before the first FROM (only ARG may come before it)",
                    "start the Dockerfile with FROM IMAGE:TAG",
                )
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise BadInput(f"{path}: no FROM instruction: not a Dockerfile", "start it with FROM IMAGE:TAG")
    return Dockerfile(path=path, stages=stages, global_args=global_args)
