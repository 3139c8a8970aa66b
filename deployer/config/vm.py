"""``[vms.NAME]``: a Container-Optimized OS Compute Engine VM that runs one container (GPU optional)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

_VM_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def _check_vm_name(value: str) -> str:
    if not _VM_NAME_RE.fullmatch(value):
        raise ValueError(
            f'invalid VM name "{value}": a Compute Engine instance name is 1 to 63 characters: lowercase letters, '
            "digits and hyphens, starting with a letter and not ending with a hyphen"
        )
    return value


VmName = Annotated[str, AfterValidator(_check_vm_name)]


class VmConfig(BaseModel):
    """One VM. (Its fields are defined with the VM deploy.)"""

    model_config = ConfigDict(extra="forbid", frozen=True)
