"""Tests of deployer/config/, one file per module."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError


def validation_errors(model: type[Any], data: dict[str, Any]) -> list[dict[str, Any]]:
    """pydantic's errors for ``data``, which must not validate."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [dict(error) for error in caught.value.errors()]
