"""Find, parse and validate the configuration, and resolve project/region/repository with where each came from.

Precedence for project, region and repository: flag > environment (``DEPLOYER_*``) > config file > gcloud's active
configuration (project and region only) > built-in default. gcloud's configuration is read from its files rather
than by running ``gcloud``, which takes about a second to start.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from deployer import masking
from deployer.config.bootstrap import BootstrapConfig
from deployer.config.build import BuildConfig
from deployer.config.checks import check_project, check_region, check_repository, did_you_mean
from deployer.config.file import CONFIG_FILE_NAME, DEFAULT_REPOSITORY, FileConfig
from deployer.config.job import JobConfig
from deployer.config.service import ServiceConfig
from deployer.config.vm import VmConfig
from deployer.errors import BadInput

PYPROJECT_FILE_NAME = "pyproject.toml"
CONFIG_ENV = "DEPLOYER_CONFIG"

T = TypeVar("T")


class Source(StrEnum):
    FLAG = "flag"
    ENV = "env"
    FILE = "file"
    GCLOUD = "gcloud"
    DEFAULT = "default"


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A setting's value and where it came from: ``detail`` names the flag, variable, file or gcloud configuration."""

    value: T
    source: Source
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source.value, "detail": self.detail}


@dataclass(frozen=True)
class _Setting:
    key: str
    flag: str
    env: str
    check: Callable[[str], str]
    hint: str


_SETTINGS = (
    _Setting(
        "project",
        "--project",
        "DEPLOYER_PROJECT",
        check_project,
        f'set one with --project, DEPLOYER_PROJECT, project = "..." in {CONFIG_FILE_NAME}, '
        "or gcloud config set project PROJECT_ID",
    ),
    _Setting(
        "region",
        "--region",
        "DEPLOYER_REGION",
        check_region,
        f'set one with --region, DEPLOYER_REGION, region = "..." in {CONFIG_FILE_NAME}, '
        "or gcloud config set run/region REGION",
    ),
    _Setting(
        "repository",
        "--repository",
        "DEPLOYER_REPOSITORY",
        check_repository,
        f'set one with --repository, DEPLOYER_REPOSITORY or repository = "..." in {CONFIG_FILE_NAME}',
    ),
)
_SETTINGS_BY_KEY = {setting.key: setting for setting in _SETTINGS}

_NO_FLAGS: Mapping[str, str | None] = MappingProxyType({})


@dataclass(frozen=True)
class ResolvedConfig:
    project_dir: Path
    config_file: Path | None
    project: Resolved[str | None]
    region: Resolved[str | None]
    repository: Resolved[str]
    build: BuildConfig
    services: dict[str, ServiceConfig]
    vms: dict[str, VmConfig] = field(default_factory=dict)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    jobs: dict[str, JobConfig] = field(default_factory=dict)

    def require_project(self) -> str:
        if self.project.value is None:
            raise BadInput("no project set", _SETTINGS_BY_KEY["project"].hint)
        return self.project.value

    def require_region(self) -> str:
        if self.region.value is None:
            raise BadInput("no region set", _SETTINGS_BY_KEY["region"].hint)
        return self.region.value

    def _where(self) -> str:
        return _display_path(self.config_file) if self.config_file else CONFIG_FILE_NAME

    def service(self, name: str | None) -> tuple[str, ServiceConfig]:
        """The named service, or the only one when ``name`` is None."""
        where = self._where()
        none = BadInput(
            f"no services configured in {where}",
            f'add a [services.NAME] table to {where}, e.g. [services.api] with dockerfile = "Dockerfile"',
        )
        name = _choose(name, sorted(self.services), where, "service", ("services",), none)
        return name, self.services[name]

    def target(
        self, name: str | None
    ) -> tuple[str, Literal["service", "vm", "job"], ServiceConfig | VmConfig | JobConfig]:
        """The named target, a [services.NAME], [vms.NAME] or [jobs.NAME] (names are unique across them); the only
        one if None."""
        where = self._where()
        kinds: dict[str, Literal["service", "vm", "job"]] = {
            **dict.fromkeys(self.services, "service"),
            **dict.fromkeys(self.vms, "vm"),
            **dict.fromkeys(self.jobs, "job"),
        }
        none = BadInput(
            f"nothing to deploy: no services, vms or jobs configured in {where}",
            f"add a [services.NAME] (Cloud Run) or [vms.NAME] (a VM) table to {where}, e.g. [services.api]",
        )
        name = _choose(name, sorted(kinds), where, "target", ("services", "vms", "jobs"), none)
        kind = kinds[name]
        tables: dict[str, dict[str, ServiceConfig] | dict[str, VmConfig] | dict[str, JobConfig]] = {
            "service": self.services,
            "vm": self.vms,
            "job": self.jobs,
        }
        return name, kind, tables[kind][name]

    def describe(self) -> dict[str, Any]:
        """Everything resolved, JSON-able: the top-level settings with their provenance, then build and services."""
        return {
            "project_dir": str(self.project_dir),
            "config_file": str(self.config_file) if self.config_file else None,
            "project": self.project.to_json(),
            "region": self.region.to_json(),
            "repository": self.repository.to_json(),
            "build": self.build.model_dump(mode="json"),
            "services": {name: svc.model_dump(mode="json") for name, svc in sorted(self.services.items())},
            "vms": {name: vm.describe() for name, vm in sorted(self.vms.items())},
            "jobs": {name: job.model_dump(mode="json") for name, job in sorted(self.jobs.items())},
            "bootstrap": self.bootstrap.model_dump(mode="json"),
        }


@dataclass(frozen=True)
class _Document:
    path: Path
    display: str  # how messages name the file
    table: dict[str, Any]
    key_prefix: tuple[str, ...]  # where the table sits in the file: ("tool", "deployer") inside pyproject.toml


def load_config(
    project_dir: Path,
    *,
    config_file: Path | None = None,
    flags: Mapping[str, str | None] = _NO_FLAGS,
    environ: Mapping[str, str] | None = None,
) -> ResolvedConfig:
    """Read the configuration for ``project_dir`` and resolve every setting; raises ``BadInput`` listing every error.

    ``flags`` maps "project", "region" and "repository" to a command-line value or None. ``config_file`` (from a
    flag) or ``DEPLOYER_CONFIG`` names the file; otherwise deployer.toml, then pyproject.toml's [tool.deployer].
    """
    env = os.environ if environ is None else environ
    unknown_flags = set(flags) - set(_SETTINGS_BY_KEY)
    if unknown_flags:
        raise ValueError(f"unknown flags {sorted(unknown_flags)}; known: {sorted(_SETTINGS_BY_KEY)}")
    if not project_dir.is_dir():
        raise BadInput(
            f"project directory {project_dir} does not exist or is not a directory",
            "run deployer from the project's directory, or point it at one",
        )

    document = _find_document(project_dir, config_file, env)
    errors: list[str] = []
    file_config = FileConfig()
    if document is not None:
        _remember_secrets(document.table)
        try:
            file_config = FileConfig.model_validate(document.table)
        except ValidationError as exc:
            errors.extend(_describe_validation_error(exc, document))

    gcloud = _gcloud_values(env)
    resolved: dict[str, Resolved[str | None]] = {}
    for setting in _SETTINGS:
        try:
            resolved[setting.key] = _resolve(setting, flags, env, document, file_config, gcloud)
        except ValueError as exc:
            errors.append(str(exc))

    if errors:
        shown = document.display if document else "the configuration"
        raise BadInput(
            "\n".join(errors),
            f"correct the values above (in {shown} or where each line says) and run the command again",
        )

    repository = resolved["repository"]
    return ResolvedConfig(
        project_dir=project_dir,
        config_file=document.path if document else None,
        project=resolved["project"],
        region=resolved["region"],
        repository=Resolved(repository.value or DEFAULT_REPOSITORY, repository.source, repository.detail),
        build=file_config.build,
        services=dict(file_config.services),
        vms=dict(file_config.vms),
        bootstrap=file_config.bootstrap,
        jobs=dict(file_config.jobs),
    )


def _remember_secrets(table: Mapping[str, Any]) -> None:
    """Remember every target's secret env values as written, before validation: an error message that quotes a
    bad value, and every later output, then masks them (deployer/masking.py)."""
    for section in ("services", "vms", "jobs"):
        targets = table.get(section)
        if not isinstance(targets, Mapping):
            continue
        for target in targets.values():
            if not isinstance(target, Mapping) or not isinstance(target.get("env"), Mapping):
                continue
            # A wrongly typed value (a number) is quoted by its error message too.
            env = {str(k): str(v) for k, v in target["env"].items() if isinstance(v, str | int | float)}
            marked = target.get("secret_env")
            masking.remember(env, [str(n) for n in marked] if isinstance(marked, list | tuple) else ())


def _resolve(
    setting: _Setting,
    flags: Mapping[str, str | None],
    env: Mapping[str, str],
    document: _Document | None,
    file_config: FileConfig,
    gcloud: Mapping[str, tuple[str, str]],
) -> Resolved[str | None]:
    """The winning value for one setting; a flag or variable that wins is validated (ValueError names it)."""
    candidates: list[tuple[str | None, Source, str]] = [
        (flags.get(setting.key), Source.FLAG, setting.flag),
        (env.get(setting.env), Source.ENV, setting.env),
    ]
    for value, source, origin in candidates:
        # An empty value is how shells and wrappers say "not set".
        if value:
            try:
                setting.check(value)
            except ValueError as exc:
                raise ValueError(f"{origin}: {setting.key} = {_show(value)}: {exc}") from None
            return Resolved(value, source, origin)
    from_file: str | None = getattr(file_config, setting.key)
    if from_file is not None and document is not None:
        return Resolved(from_file, Source.FILE, document.display)
    if setting.key in gcloud:
        value, detail = gcloud[setting.key]
        return Resolved(value, Source.GCLOUD, detail)
    if setting.key == "repository":
        return Resolved(DEFAULT_REPOSITORY, Source.DEFAULT, "built-in default")
    return Resolved(None, Source.DEFAULT, "not set")


# --- finding and parsing the file ------------------------------------------------------------------------------------


def _find_document(project_dir: Path, config_file: Path | None, env: Mapping[str, str]) -> _Document | None:
    named_by = "--config"
    if config_file is None and env.get(CONFIG_ENV):
        config_file, named_by = Path(env[CONFIG_ENV]), CONFIG_ENV
    if config_file is not None:
        if not config_file.is_file():
            raise BadInput(
                f"config file {config_file} (named by {named_by}) does not exist",
                f"point {named_by} at an existing file, or drop it to use {CONFIG_FILE_NAME} in the project directory",
            )
        if config_file.name == PYPROJECT_FILE_NAME:
            document = _read_pyproject(config_file)
            if document is None:
                raise BadInput(
                    f"{_display_path(config_file)} has no [tool.deployer] table",
                    f"add a [tool.deployer] table to it, or name a {CONFIG_FILE_NAME} instead",
                )
            return document
        return _Document(config_file, _display_path(config_file), _read_toml(config_file), ())

    own_file = project_dir / CONFIG_FILE_NAME
    if own_file.is_file():
        return _Document(own_file, _display_path(own_file), _read_toml(own_file), ())
    pyproject = project_dir / PYPROJECT_FILE_NAME
    if pyproject.is_file():
        return _read_pyproject(pyproject)
    return None


def _read_pyproject(path: Path) -> _Document | None:
    data = _read_toml(path)
    tool = data.get("tool")
    if not isinstance(tool, dict) or "deployer" not in tool:
        return None
    table = tool["deployer"]
    display = _display_path(path)
    if not isinstance(table, dict):
        raise BadInput(
            f"{display}: tool.deployer = {_show(table)}: must be a table",
            "write the settings under a [tool.deployer] header",
        )
    return _Document(path, display, table, ("tool", "deployer"))


def _read_toml(path: Path) -> dict[str, Any]:
    display = _display_path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {display}: {exc.strerror or exc}", "check the file's permissions") from None
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{display} is not UTF-8 text (bad byte at offset {exc.start})", "save the file as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The parser's message ends with "(at line L, column C)".
        raise BadInput(f"{display}: invalid TOML: {exc}", "fix the syntax at that line and column") from None


def _display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it, so messages read "deployer.toml: ..."."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- turning pydantic's errors into lines a person can act on --------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

_ALLOWED_BY_TYPE = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be one of {expected}",
}


def _describe_validation_error(exc: ValidationError, document: _Document) -> list[str]:
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        is_key = bool(loc) and loc[-1] == "[key]"
        if is_key:
            loc = loc[:-1]
        path = _dotted(document.key_prefix + loc)
        if error["type"] == "extra_forbidden":
            lines.append(f"{document.display}: unknown key {path}{_suggest_key(loc)}")
            continue
        allowed = _allowed(error)
        value = error.get("input")
        if is_key or isinstance(value, Mapping):
            # A problem of the whole file (loc is empty) names its own fields.
            where = f"{document.display}: {path}: " if path else f"{document.display}: "
            lines.extend(where + line for line in allowed.splitlines())
        else:
            lines.append(f"{document.display}: {path} = {_show(value)}: {allowed}")
    return lines


def _allowed(error: Any) -> str:
    template = _ALLOWED_BY_TYPE.get(error["type"])
    ctx = error.get("ctx") or {}
    if template is not None:
        try:
            return template.format(**ctx)
        except KeyError:
            pass
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    return message.replace("Input should be", "must be")


def _suggest_key(loc: tuple[str | int, ...]) -> str:
    known = _known_keys(loc[:-1])
    if not known:
        return ""
    return did_you_mean(str(loc[-1]), known) or f" (known keys here: {', '.join(known)})"


def _known_keys(parent: tuple[str | int, ...]) -> list[str]:
    """The keys a table at ``parent`` may hold, found by walking the models' field annotations."""
    node: Any = FileConfig
    for part in parent:
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            if field is None:
                return []
            node = field.annotation
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]
        else:
            return []
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            text += f".{name}" if text else name
    return text


def _show(value: object, limit: int = 60) -> str:
    """A value as it would be written in TOML, shortened so a huge value cannot flood the terminal."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- gcloud's configuration, read from its files ---------------------------------------------------------------------


def _gcloud_config_dir(env: Mapping[str, str]) -> Path | None:
    if env.get("CLOUDSDK_CONFIG"):
        return Path(env["CLOUDSDK_CONFIG"])
    if os.name == "nt" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "gcloud"
    home = env.get("HOME")
    if home:
        return Path(home) / ".config" / "gcloud"
    try:
        return Path.home() / ".config" / "gcloud"
    except RuntimeError:
        return None


def _gcloud_values(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """{"project": (value, detail), "region": (value, detail)} for what gcloud would use; absent when unset."""
    properties: dict[tuple[str, str], str] = {}
    name = "default"
    config_dir = _gcloud_config_dir(env)
    if config_dir is not None:
        name = env.get("CLOUDSDK_ACTIVE_CONFIG_NAME", "").strip() or _read_active_config(config_dir) or "default"
        properties = _read_ini(config_dir / "configurations" / f"config_{name}")
    detail = f"gcloud configuration '{name}'"

    # gcloud lets CLOUDSDK_<SECTION>_<PROPERTY> override the configuration file, so those come first.
    project_candidates = [
        (env.get("CLOUDSDK_CORE_PROJECT", "").strip(), "CLOUDSDK_CORE_PROJECT"),
        (properties.get(("core", "project"), ""), detail),
    ]
    # deploying to Cloud Run, gcloud's run/region is the better guess; compute/region is a common fallback.
    region_candidates = [
        (env.get("CLOUDSDK_RUN_REGION", "").strip(), "CLOUDSDK_RUN_REGION"),
        (properties.get(("run", "region"), ""), detail),
        (env.get("CLOUDSDK_COMPUTE_REGION", "").strip(), "CLOUDSDK_COMPUTE_REGION"),
        (properties.get(("compute", "region"), ""), detail),
    ]
    values: dict[str, tuple[str, str]] = {}
    for key, candidates in (("project", project_candidates), ("region", region_candidates)):
        for value, where in candidates:
            if value:
                values[key] = (value, where)
                break
    return values


def _read_active_config(config_dir: Path) -> str:
    try:
        return (config_dir / "active_config").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _read_ini(path: Path) -> dict[tuple[str, str], str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return {}
    return {
        (section, option): parser.get(section, option).strip()
        for section in parser.sections()
        for option in parser.options(section)
    }


def _either(*words: str) -> str:
    """ "a", "a or b", "a, b or c"."""
    return " or ".join(filter(None, (", ".join(words[:-1]), words[-1])))


def _choose(name: str | None, names: list[str], where: str, what: str, tables: tuple[str, ...], none: BadInput) -> str:
    """``name`` when it is one of ``names`` (found in ``tables`` of ``where``), or the only name when it is None.

    Raises ``none`` when there are no names, and bad input listing them when the choice is missing or unknown.
    """
    if not names:
        raise none
    listed = ", ".join(names)
    if name is None:
        if len(names) == 1:
            return names[0]
        raise BadInput(
            f"{where} configures {len(names)} {what}s ({listed}); which one?", f"name the {what}: one of {listed}"
        )
    if name not in names:
        kinds = _either(*(table.removesuffix("s") for table in tables))
        add = _either(*(f"[{table}.{name}]" for table in tables))
        raise BadInput(
            f'no {kinds} named "{name}" in {where}{did_you_mean(name, names)}; configured: {listed}',
            f"use one of {listed}, or add a {add} table",
        )
    return name
