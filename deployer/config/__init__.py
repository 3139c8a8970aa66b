"""The configuration file (deployer.toml or [tool.deployer] in pyproject.toml) and how settings are resolved."""

from __future__ import annotations

from deployer.config.build import BuildConfig
from deployer.config.file import CONFIG_FILE_NAME, DEFAULT_REPOSITORY, FileConfig, config_schema
from deployer.config.load import Resolved, ResolvedConfig, Source, load_config
from deployer.config.service import ServiceConfig

__all__ = [
    "CONFIG_FILE_NAME",
    "DEFAULT_REPOSITORY",
    "BuildConfig",
    "FileConfig",
    "Resolved",
    "ResolvedConfig",
    "ServiceConfig",
    "Source",
    "config_schema",
    "load_config",
]
