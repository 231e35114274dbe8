"""Names that callers choose and that end up in file paths: checked, and kept inside their root.

A thread id (chat thread, MCP job, HTTP job) becomes a folder under ``<cache_dir>/runs``; an id
that is absolute, climbs with ``..`` or carries a path separator would put files anywhere. Only
ids of letters, digits, ``.``, ``_`` and ``-`` (not starting with ``.`` or ``-``) are accepted.
"""

from __future__ import annotations

import re
from pathlib import Path

from ttom.errors import ConfigError

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_id(value: str, what: str = "thread id") -> str:
    """``value`` if it is a safe id; a ``ConfigError`` naming ``what`` otherwise."""
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value) or ".." in value:
        shown = repr(value)[:60]
        raise ConfigError(f"{what} {shown} is not allowed: use 1-100 letters, digits, '.', '_' or '-' "
                          "(starting with a letter or digit, no '..')")
    return value


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved, if it lies inside ``root``; a ``ConfigError`` otherwise."""
    root_r, path_r = Path(root).resolve(), Path(path).resolve()
    if path_r != root_r and root_r not in path_r.parents:
        raise ConfigError(f"{path} is outside {root}")
    return path_r
