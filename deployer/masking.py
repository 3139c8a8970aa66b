"""Secret environment values, and the one function that masks them wherever deployer prints or writes a document.

An ``env`` key is secret when its name contains KEY, TOKEN, SECRET or PASSWORD (any case), or when the table lists
it in ``secret_env``. Its value is still sent to Google as configured (a deploy needs it); only what is shown is
masked: ``config show``, the plans of ``--dry-run`` and ``--diff``, ``--json`` documents, progress and errors.

Masking works two ways, because a value reaches output in two shapes:
- by name, in the shapes deployer writes env in (an ``env`` table, Cloud Run's ``[{"name", "value"}]``), so a short
  value is masked there too;
- by value, anywhere in any string: a VM's cloud-init document, a message that quotes a request. Values are
  remembered when the configuration is loaded (``remember``). Values shorter than ``MIN_MASKED_LENGTH`` are masked
  by name only: replacing "1" or "on" in every line would make output unreadable and hides nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
MASK = "********"
MIN_MASKED_LENGTH = 4

_lock = threading.Lock()
_remembered: set[str] = set()
_marked_names: set[str] = set()  # names marked in secret_env: request bodies do not carry the marks


def looks_secret(name: str, marked: Iterable[str] = ()) -> bool:
    """Whether ``name`` is a secret env key: by its name, or because the user marked it."""
    upper = name.upper()
    with _lock:
        remembered = name in _marked_names
    return remembered or name in set(marked) or any(part in upper for part in SECRET_NAME_PARTS)


def secret_names(env: Mapping[str, str], marked: Iterable[str] = ()) -> list[str]:
    """The keys of ``env`` whose values are secret, sorted."""
    marked = tuple(marked)
    return sorted(name for name in env if looks_secret(name, marked))


def remember(env: Mapping[str, str], marked: Iterable[str] = ()) -> None:
    """Remember the secret values of ``env`` so every later ``mask`` hides them wherever they appear."""
    marked = tuple(marked)
    values = {env[name] for name in secret_names(env, marked) if len(env[name]) >= MIN_MASKED_LENGTH}
    with _lock:
        _marked_names.update(marked)
        _remembered.update(values)


def mask_text(text: str) -> str:
    """``text`` with every remembered secret value replaced by ``MASK``; the longest first, so a value that
    contains another is masked whole."""
    with _lock:
        values = sorted(_remembered, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def mask(document: Any) -> Any:
    """A copy of a JSON-like ``document`` (dicts, lists, strings, scalars) with secret env values masked."""
    return _mask(document, marked=())


def _mask(node: Any, marked: tuple[str, ...]) -> Any:
    if isinstance(node, str):
        return mask_text(node)
    if isinstance(node, list | tuple):
        return [_mask(item, marked) for item in node]
    if not isinstance(node, dict):
        return node
    # A table that marks its own secret names (a config section) applies them to its env.
    own = node.get("secret_env")
    if isinstance(own, list | tuple):
        marked = (*marked, *(str(name) for name in own))
    if isinstance(node.get("name"), str) and "value" in node and looks_secret(node["name"], marked):
        # Cloud Run's env entry: {"name": "API_KEY", "value": "..."}.
        return {**{k: _mask(v, marked) for k, v in node.items()}, "value": MASK}
    masked: dict[Any, Any] = {}
    for key, value in node.items():
        if key == "env" and isinstance(value, dict):
            masked[key] = {
                name: MASK if looks_secret(str(name), marked) and isinstance(item, str) else _mask(item, marked)
                for name, item in value.items()
            }
        else:
            masked[key] = _mask(value, marked)
    return masked


__all__ = ["MASK", "looks_secret", "mask", "mask_text", "remember", "secret_names"]
