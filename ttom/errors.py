"""Errors a user can act on, and how the command line shows them."""

from __future__ import annotations

import sys


class TtomError(Exception):
    """An error whose message tells the user what is wrong and what to do; shown without a traceback."""


class WeightsNotFoundError(TtomError):
    """Model weights are not in the given folder or the local Hugging Face cache.

    ``what`` says what is missing; ``fix``, when given, how the user of the command that raised it
    supplies the weights (callers with other options, such as the agent's run, show ``what`` alone).
    """

    def __init__(self, what: str, fix: str | None = None) -> None:
        super().__init__(f"{what} {fix}" if fix else what)
        self.what, self.fix = what, fix


class ConfigError(TtomError):
    """A setting or argument that cannot work."""


def run_cli(app) -> None:
    """Run a typer app, turning ttom's own errors (and layout errors) into one clear line and exit 2."""
    from ttom.layout import LayoutError

    try:
        rc = app(standalone_mode=False)
    except (TtomError, LayoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:
        # click's usage errors; typer may bundle its own copy of click, so match by behaviour
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            sys.exit(e.exit_code)
        if type(e).__name__ == "Abort":
            sys.exit(1)
        raise
    if isinstance(rc, int) and rc:
        sys.exit(rc)
