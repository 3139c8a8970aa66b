"""Finding the config file, error messages a person can act on, and precedence with provenance."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from deployer.config import CONFIG_FILE_NAME, Resolved, ResolvedConfig, ServiceConfig, Source, load_config
from deployer.errors import BadInput, ExitCode
from tests.config import SERVICE_DEFAULTS


@pytest.fixture
def gcloud_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "gcloud"
    (directory / "configurations").mkdir(parents=True)
    return directory


def _environ(gcloud_dir: Path, **extra: str) -> dict[str, str]:
    return {"CLOUDSDK_CONFIG": str(gcloud_dir), "HOME": str(gcloud_dir.parent), **extra}


def _write_gcloud(gcloud_dir: Path, name: str, text: str, *, active: str | None = None) -> None:
    (gcloud_dir / "configurations" / f"config_{name}").write_text(text)
    if active is not None:
        (gcloud_dir / "active_config").write_text(active + "\n")


def _load(
    project: Path,
    gcloud_dir: Path,
    *,
    environ: dict[str, str] | None = None,
    flags: Mapping[str, str | None] | None = None,
    config_file: Path | None = None,
) -> ResolvedConfig:
    return load_config(
        project,
        config_file=config_file,
        flags=flags or {},
        environ=_environ(gcloud_dir) if environ is None else environ,
    )


def _bad_input(project: Path, gcloud_dir: Path, **options: Any) -> BadInput:
    """What ``_load`` with these options refuses, as bad input."""
    with pytest.raises(BadInput) as caught:
        _load(project, gcloud_dir, **options)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    return caught.value


# --- error messages --------------------------------------------------------------------------------------------------


def test_unknown_key_suggests_the_closest(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text('[services.api]\nmemmory = "1Gi"\n')
    error = _bad_input(project, gcloud_dir)
    assert error.message == 'deployer.toml: unknown key services.api.memmory (did you mean "memory"?)'


def test_unknown_key_without_a_close_match_lists_known_keys(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text("[build]\nzzz = 1\n")
    error = _bad_input(project, gcloud_dir)
    assert error.message == (
        "deployer.toml: unknown key build.zzz "
        "(known keys here: max_context_mb, timeout, machine_type, source_retention_days, allow_credential_files)"
    )


def test_bad_cpu_names_file_field_value_and_allowed(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text('[services.api]\ncpu = "3"\n')
    error = _bad_input(project, gcloud_dir)
    assert error.message.startswith('deployer.toml: services.api.cpu = "3": must be one of 1, 2, 4, 6, 8')


def test_memory_cpu_rule_names_both_values(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text('[services.api]\ncpu = 2\nmemory = "16Gi"\n')
    error = _bad_input(project, gcloud_dir)
    assert error.message.startswith('deployer.toml: services.api: memory = "16Gi" needs cpu of at least 4 (cpu = "2")')


def test_bad_service_name(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text("[services.My_Api]\n")
    error = _bad_input(project, gcloud_dir)
    assert error.message.startswith('deployer.toml: services.My_Api: invalid service name "My_Api"')
    assert "lowercase letters, digits and hyphens" in error.message


def test_toml_syntax_error_names_line_and_column(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text('project = "my-proj"\n\n[services.api\n')
    error = _bad_input(project, gcloud_dir)
    assert error.message.startswith("deployer.toml: invalid TOML: ")
    assert "line 3" in error.message
    assert "column" in error.message


def test_every_error_is_reported_at_once(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text(
        'project = "X"\n[build]\ntimeout = "5s"\n[services.api]\nport = "80"\nenv = { PORT = "1" }\nargs = ["a", 3]\n'
    )
    error = _bad_input(project, gcloud_dir, flags={"region": "nowhere"})
    lines = error.message.splitlines()
    assert lines[0].startswith('deployer.toml: project = "X": a project id is 6 to 30 characters')
    assert lines[1].startswith('deployer.toml: build.timeout = "5s": must be a duration')
    assert lines[2].startswith('deployer.toml: services.api.env.PORT: environment variable "PORT" is reserved')
    assert lines[3] == 'deployer.toml: services.api.port = "80": must be a whole number'
    assert lines[4] == "deployer.toml: services.api.args[1] = 3: must be a string"
    assert lines[5].startswith('--region: region = "nowhere": a region looks like "europe-west4"')
    assert len(lines) == 6
    assert error.hint


def test_config_outside_the_working_directory_is_named_by_path(
    tmp_path: Path, gcloud_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / CONFIG_FILE_NAME).write_text("bogus = 1\n")
    monkeypatch.chdir(gcloud_dir)
    error = _bad_input(elsewhere, gcloud_dir)
    assert error.message.startswith(f"{elsewhere / CONFIG_FILE_NAME}: unknown key bogus")


# --- which file ------------------------------------------------------------------------------------------------------


def test_no_file_means_defaults(project: Path, gcloud_dir: Path) -> None:
    config = _load(project, gcloud_dir)
    assert config.config_file is None
    assert config.services == {}
    assert config.build.max_context_mb == 500


def test_pyproject_tool_table(project: Path, gcloud_dir: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.deployer]\nproject = "py-proj"\n\n[tool.deployer.services.web]\nport = 9000\n'
    )
    config = _load(project, gcloud_dir)
    assert config.config_file == project / "pyproject.toml"
    assert config.project == _resolved("py-proj", Source.FILE, "pyproject.toml")
    assert config.services["web"].port == 9000


def test_pyproject_errors_name_the_full_key(project: Path, gcloud_dir: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.deployer.services.web]\nprot = 9000\n")
    error = _bad_input(project, gcloud_dir)
    assert error.message == 'pyproject.toml: unknown key tool.deployer.services.web.prot (did you mean "port"?)'


def test_pyproject_without_tool_table_is_ignored(project: Path, gcloud_dir: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n')
    assert _load(project, gcloud_dir).config_file is None


def test_deployer_toml_wins_over_pyproject(project: Path, gcloud_dir: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.deployer]\nproject = "py-proj"\n')
    (project / CONFIG_FILE_NAME).write_text('project = "toml-proj"\n')
    config = _load(project, gcloud_dir)
    assert config.config_file == project / CONFIG_FILE_NAME
    assert config.project.value == "toml-proj"


def test_config_env_names_the_file(project: Path, gcloud_dir: Path) -> None:
    other = project / "conf" / "prod.toml"
    other.parent.mkdir()
    other.write_text('project = "prod-proj"\n')
    (project / CONFIG_FILE_NAME).write_text('project = "dev-proj"\n')
    config = _load(project, gcloud_dir, environ=_environ(gcloud_dir, DEPLOYER_CONFIG=str(other)))
    assert config.config_file == other
    assert config.project == _resolved("prod-proj", Source.FILE, "conf/prod.toml")


def test_named_config_file_must_exist(project: Path, gcloud_dir: Path) -> None:
    error = _bad_input(project, gcloud_dir, config_file=project / "missing.toml")
    assert "missing.toml" in error.message
    assert "--config" in error.message
    error = _bad_input(project, gcloud_dir, environ=_environ(gcloud_dir, DEPLOYER_CONFIG="nope.toml"))
    assert "DEPLOYER_CONFIG" in error.message


def test_missing_project_dir(tmp_path: Path, gcloud_dir: Path) -> None:
    error = _bad_input(tmp_path / "absent", gcloud_dir)
    assert "does not exist" in error.message


# --- precedence and provenance ---------------------------------------------------------------------------------------


def _resolved(value: str | None, source: Source, detail: str) -> Resolved[str | None]:
    return Resolved(value, source, detail)


def test_defaults_when_nothing_is_set(project: Path, gcloud_dir: Path) -> None:
    config = _load(project, gcloud_dir)
    assert config.project == _resolved(None, Source.DEFAULT, "not set")
    assert config.region == _resolved(None, Source.DEFAULT, "not set")
    assert config.repository == _resolved("deployer", Source.DEFAULT, "built-in default")


def test_gcloud_active_configuration(project: Path, gcloud_dir: Path) -> None:
    _write_gcloud(gcloud_dir, "default", "[core]\nproject = default-proj\n")
    _write_gcloud(
        gcloud_dir,
        "work",
        "[core]\naccount = me@example.com\nproject = work-proj\n"
        "[compute]\nregion = us-east1\n[run]\nregion = asia-east1\n",
        active="work",
    )
    config = _load(project, gcloud_dir)
    assert config.project == _resolved("work-proj", Source.GCLOUD, "gcloud configuration 'work'")
    assert config.region == _resolved("asia-east1", Source.GCLOUD, "gcloud configuration 'work'")
    assert config.repository.source is Source.DEFAULT


def test_gcloud_compute_region_is_the_fallback(project: Path, gcloud_dir: Path) -> None:
    _write_gcloud(gcloud_dir, "default", "[compute]\nregion = us-east1\n")
    assert _load(project, gcloud_dir).region == _resolved("us-east1", Source.GCLOUD, "gcloud configuration 'default'")


def test_gcloud_config_name_and_property_overrides_from_env(project: Path, gcloud_dir: Path) -> None:
    _write_gcloud(gcloud_dir, "default", "[core]\nproject = default-proj\n", active="default")
    _write_gcloud(gcloud_dir, "other", "[core]\nproject = other-proj\n[run]\nregion = us-west1\n")
    environ = _environ(gcloud_dir, CLOUDSDK_ACTIVE_CONFIG_NAME="other")
    config = _load(project, gcloud_dir, environ=environ)
    assert config.project == _resolved("other-proj", Source.GCLOUD, "gcloud configuration 'other'")

    environ.update(CLOUDSDK_CORE_PROJECT="env-gproj", CLOUDSDK_RUN_REGION="europe-north1")
    config = _load(project, gcloud_dir, environ=environ)
    assert config.project == _resolved("env-gproj", Source.GCLOUD, "CLOUDSDK_CORE_PROJECT")
    assert config.region == _resolved("europe-north1", Source.GCLOUD, "CLOUDSDK_RUN_REGION")


def test_unreadable_gcloud_config_is_absent(project: Path, gcloud_dir: Path) -> None:
    _write_gcloud(gcloud_dir, "default", "this is not ini at all\n")
    assert _load(project, gcloud_dir).project.source is Source.DEFAULT


def test_gcloud_dir_defaults_to_home(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    configurations = home / ".config" / "gcloud" / "configurations"
    configurations.mkdir(parents=True)
    (configurations / "config_default").write_text("[core]\nproject = home-proj\n")
    config = load_config(project, environ={"HOME": str(home)})
    assert config.project.value == "home-proj"


def test_each_level_beats_the_next(project: Path, gcloud_dir: Path) -> None:
    _write_gcloud(gcloud_dir, "default", "[core]\nproject = gcloud-proj\n[run]\nregion = us-east1\n")
    (project / CONFIG_FILE_NAME).write_text(
        'project = "file-proj"\nregion = "europe-west1"\nrepository = "file-repo"\n'
    )

    config = _load(project, gcloud_dir)
    assert config.project == _resolved("file-proj", Source.FILE, "deployer.toml")
    assert config.region == _resolved("europe-west1", Source.FILE, "deployer.toml")
    assert config.repository == _resolved("file-repo", Source.FILE, "deployer.toml")

    environ = _environ(
        gcloud_dir, DEPLOYER_PROJECT="env-proj", DEPLOYER_REGION="europe-west2", DEPLOYER_REPOSITORY="env-repo"
    )
    config = _load(project, gcloud_dir, environ=environ)
    assert config.project == _resolved("env-proj", Source.ENV, "DEPLOYER_PROJECT")
    assert config.region == _resolved("europe-west2", Source.ENV, "DEPLOYER_REGION")
    assert config.repository == _resolved("env-repo", Source.ENV, "DEPLOYER_REPOSITORY")

    flags = {"project": "flag-proj", "region": "europe-west3", "repository": None}
    config = _load(project, gcloud_dir, environ=environ, flags=flags)
    assert config.project == _resolved("flag-proj", Source.FLAG, "--project")
    assert config.region == _resolved("europe-west3", Source.FLAG, "--region")
    assert config.repository == _resolved("env-repo", Source.ENV, "DEPLOYER_REPOSITORY")


def test_empty_env_value_counts_as_unset(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text('project = "file-proj"\n')
    config = _load(project, gcloud_dir, environ=_environ(gcloud_dir, DEPLOYER_PROJECT=""))
    assert config.project.source is Source.FILE


def test_bad_env_value_names_the_variable(project: Path, gcloud_dir: Path) -> None:
    error = _bad_input(project, gcloud_dir, environ=_environ(gcloud_dir, DEPLOYER_REPOSITORY="Bad_Repo"))
    assert error.message.startswith('DEPLOYER_REPOSITORY: repository = "Bad_Repo": an Artifact Registry repository')


def test_bad_flag_value_names_the_flag(project: Path, gcloud_dir: Path) -> None:
    error = _bad_input(project, gcloud_dir, flags={"project": "x"})
    assert error.message.startswith('--project: project = "x": a project id is 6 to 30 characters')


def test_overridden_bad_env_value_is_not_an_error(project: Path, gcloud_dir: Path) -> None:
    environ = _environ(gcloud_dir, DEPLOYER_REGION="nowhere")
    config = _load(project, gcloud_dir, environ=environ, flags={"region": "europe-west4"})
    assert config.region.value == "europe-west4"


# --- the resolved config's helpers -----------------------------------------------------------------------------------


def test_require_project_and_region(project: Path, gcloud_dir: Path) -> None:
    config = _load(project, gcloud_dir)
    with pytest.raises(BadInput) as caught:
        config.require_project()
    assert caught.value.message == "no project set"
    assert caught.value.hint is not None
    for way in ("--project", "DEPLOYER_PROJECT", "deployer.toml", "gcloud config set project"):
        assert way in caught.value.hint
    with pytest.raises(BadInput, match="no region set"):
        config.require_region()

    config = _load(project, gcloud_dir, flags={"project": "my-proj", "region": "us-central1"})
    assert (config.require_project(), config.require_region()) == ("my-proj", "us-central1")


def test_service_selection(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text("[services.api]\nport = 9000\n")
    config = _load(project, gcloud_dir)
    assert config.service(None) == ("api", ServiceConfig(port=9000))
    assert config.service("api")[1].port == 9000
    with pytest.raises(BadInput) as caught:
        config.service("apu")
    assert caught.value.message == 'no service named "apu" in deployer.toml (did you mean "api"?); configured: api'


def test_service_selection_when_ambiguous(project: Path, gcloud_dir: Path) -> None:
    (project / CONFIG_FILE_NAME).write_text("[services.web]\n[services.api]\n")
    with pytest.raises(BadInput) as caught:
        _load(project, gcloud_dir).service(None)
    assert caught.value.message == "deployer.toml configures 2 services (api, web); which one?"


def test_service_selection_when_none_configured(project: Path, gcloud_dir: Path) -> None:
    with pytest.raises(BadInput) as caught:
        _load(project, gcloud_dir).service(None)
    assert caught.value.message == "no services configured in deployer.toml"
    assert caught.value.hint is not None
    assert "[services.NAME]" in caught.value.hint


def test_describe(project: Path, gcloud_dir: Path) -> None:
    _write_gcloud(gcloud_dir, "default", "[run]\nregion = us-east1\n")
    (project / CONFIG_FILE_NAME).write_text(
        '[build]\ntimeout = "20m"\n[services.api]\nenv = { A = "1" }\ncpu = 2\nmemory = "2048Mi"\n'
    )
    described = _load(project, gcloud_dir, flags={"project": "flag-proj"}).describe()
    assert described.pop("vms") == {}
    assert described.pop("jobs") == {}
    assert isinstance(described.pop("bootstrap"), dict)
    assert described == {
        "project_dir": str(project),
        "config_file": str(project / CONFIG_FILE_NAME),
        "project": {"value": "flag-proj", "source": "flag", "detail": "--project"},
        "region": {"value": "us-east1", "source": "gcloud", "detail": "gcloud configuration 'default'"},
        "repository": {"value": "deployer", "source": "default", "detail": "built-in default"},
        "build": {
            "max_context_mb": 500,
            "timeout": 1200,
            "machine_type": "",
            "source_retention_days": 30,
            "allow_credential_files": [],
        },
        "services": {"api": {**SERVICE_DEFAULTS, "env": {"A": "1"}, "cpu": "2", "memory": "2Gi"}},
    }
