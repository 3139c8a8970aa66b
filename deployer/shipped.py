"""Files deployer ships beside its code: the templates `deployer init` copies and the Cloud Build config.

They live at the top of the repository (``templates/``, ``cloudbuild.yaml``), where people look for them; the wheel
carries them inside the package (pyproject's ``force-include``). An installed wheel finds them there, a source
checkout (editable install, tests) at the repository's top.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def shipped(*parts: str) -> Traversable:
    """The shipped file or folder at ``parts`` (e.g. ``shipped("templates", "python-api")``)."""
    packaged = resources.files("deployer").joinpath(*parts)
    if packaged.is_file() or packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.joinpath(*parts)
