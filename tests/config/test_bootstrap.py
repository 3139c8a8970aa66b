"""Pure tier: ``[bootstrap]``: its defaults, normalized values, and errors that say what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deployer.config import load_config
from deployer.config.bootstrap import BootstrapConfig, parse_age
from deployer.errors import BadInput


def test_bootstrap_defaults() -> None:
    assert BootstrapConfig().model_dump(mode="json") == {
        "billing_account": None,
        "parent": None,
        "members": [],
        "github": None,
        "budget": None,
        "budget_currency": None,
        "cleanup_keep_versions": 10,
        "cleanup_untagged_older_than": 604800,
        "apis_extra": [],
    }


def test_bootstrap_values_are_normalized() -> None:
    config = BootstrapConfig.model_validate(
        {
            "billing_account": "billingAccounts/0a1b2c-000000-ffffff",
            "members": ["user:ana@example.com", "group:ml@example.com", "domain:example.com"],
            "github": "my-org/model-api",
            "budget": 12.5,
            "cleanup_untagged_older_than": "36h",
            "apis_extra": ["secretmanager"],
            "parent": "folders/123",
        }
    )
    assert config.billing_account == "0A1B2C-000000-FFFFFF"
    assert config.cleanup_untagged_older_than == 36 * 3600
    assert config.apis_extra == ("secretmanager.googleapis.com",)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("billing_account", "12345", "three groups of six letters or digits"),
        ("members", ["ana@example.com"], "user:EMAIL, group:EMAIL, serviceAccount:EMAIL or domain:DOMAIN"),
        ("members", ["user:not-an-email"], "user: needs an email address"),
        ("github", "just-a-repo", "OWNER/REPO"),
        ("budget", 0, "greater than 0"),
        ("budget", 1.234, "at most two decimals"),
        ("budget_currency", "euro", "ISO 4217"),
        ("cleanup_keep_versions", 0, "greater than or equal to 1"),
        ("cleanup_untagged_older_than", "7 days", '"7d"'),
        ("cleanup_untagged_older_than", "10m", "between 1h"),
        ("parent", "org/1", "organizations/NUMBER"),
        ("apis_extra", ["Secret Manager"], "secretmanager.googleapis.com"),
    ],
)
def test_bad_bootstrap_values_say_what_is_allowed(key: str, value: Any, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BootstrapConfig.model_validate({key: value})
    assert words in str(caught.value)


def test_age_parsing() -> None:
    assert parse_age("7d") == 604800
    assert parse_age("604800s") == 604800
    assert parse_age("1d12h") == 36 * 3600
    assert parse_age(7200) == 7200


def test_bootstrap_table_in_deployer_toml_is_read_and_its_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "deployer.toml").write_text(
        'project = "my-proj"\nregion = "europe-west4"\n[bootstrap]\nmembers = ["user:ana@example.com"]\n'
        'github = "o/r"\nbudget = 40\n'
    )
    config = load_config(tmp_path, environ={})
    assert config.bootstrap.members == ("user:ana@example.com",)
    assert config.bootstrap.budget == 40

    (tmp_path / "deployer.toml").write_text('project = "my-proj"\n[bootstrap]\nmembers = ["ana@example.com"]\n')
    with pytest.raises(BadInput) as caught:
        load_config(tmp_path, environ={})
    assert "deployer.toml" in caught.value.message
    assert "bootstrap.members" in caught.value.message
