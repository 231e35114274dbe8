"""Prompt templates and few-shot examples, as text files loaded by name.

Each file starts with one header line, ``# purpose: ...``, saying what it is for; the rest is the
text. Placeholders are ``${name}`` (``string.Template``), so JSON braces need no escaping.

Override a prompt by putting a file of the same name in a folder and passing ``directory=`` or
setting ``TTOM_PROMPTS_DIR``; names missing there fall back to the bundled ones.

The offline planner's word lists live in ``lexicon/``, one list per file, loaded by name with
``load_word_list``: the same header line, then one entry (a word or a multi-word phrase) per
line; blank lines and lines starting with ``#`` are ignored. They are bundled only, so a plan
does not depend on the machine it was made on.
"""

from __future__ import annotations

import hashlib
import os
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ttom.errors import ConfigError

BUNDLED = Path(__file__).resolve().parent
HEADER = "# purpose:"


@dataclass(frozen=True)
class Prompt:
    name: str
    purpose: str
    text: str
    path: Path

    def format(self, **values: object) -> str:
        """The text with ``${key}`` placeholders filled; a missing value is an error naming it."""
        try:
            return string.Template(self.text).substitute({k: str(v) for k, v in values.items()})
        except KeyError as e:
            raise ConfigError(f"prompt {self.name!r} ({self.path}) needs a value for ${{{e.args[0]}}}") from None

    @property
    def digest(self) -> str:
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()[:8]


def prompt_dirs(directory: str | Path | None = None) -> list[Path]:
    dirs = []
    for d in (directory, os.environ.get("TTOM_PROMPTS_DIR")):
        if d:
            p = Path(d).expanduser()
            if not p.is_dir():
                raise ConfigError(f"prompt folder {p} does not exist (from {'TTOM_PROMPTS_DIR' if d != directory else 'directory='})")
            dirs.append(p)
    return [*dirs, BUNDLED]


def load_prompt(name: str, directory: str | Path | None = None) -> Prompt:
    """The prompt ``name`` (file ``<name>.txt``), from an override folder or the bundled ones."""
    for d in prompt_dirs(directory):
        path = d / f"{name}.txt"
        if path.is_file():
            raw = path.read_text(encoding="utf-8")
            first, _, rest = raw.partition("\n")
            if not first.startswith(HEADER):
                raise ConfigError(f"prompt file {path} must start with a '{HEADER} ...' line")
            return Prompt(name=name, purpose=first[len(HEADER):].strip(), text=rest.strip("\n"), path=path)
    available = sorted(p.stem for p in BUNDLED.glob("*.txt"))
    raise ConfigError(f"no prompt named {name!r}; bundled prompts: {', '.join(available)}")


LEXICON = BUNDLED / "lexicon"


@cache
def load_word_list(name: str) -> tuple[str, ...]:
    """The entries of the bundled word list ``lexicon/<name>.txt``, in file order, lower-cased."""
    path = LEXICON / f"{name}.txt"
    if not path.is_file():
        available = sorted(p.stem for p in LEXICON.glob("*.txt"))
        raise ConfigError(f"no word list named {name!r}; bundled lists: {', '.join(available)}")
    first, _, rest = path.read_text(encoding="utf-8").partition("\n")
    if not first.startswith(HEADER):
        raise ConfigError(f"word list {path} must start with a '{HEADER} ...' line")
    entries = (" ".join(line.split()).lower() for line in rest.splitlines())
    return tuple(e for e in entries if e and not e.startswith("#"))
