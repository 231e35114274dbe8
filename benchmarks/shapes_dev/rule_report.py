"""The shared end of the sweep rules (``sweep_v9_rule.py``, ``sweep_v10_rule.py``): each candidate's checks printed,
then the first candidate, in the rule's order, that passes all of them (or ``none``)."""

from __future__ import annotations


def first_passing(checks: dict[str, dict[str, bool]]) -> int:
    """Print ``{candidate: {check: passed}}`` and, last, the chosen candidate; 0 when one was chosen, else 1."""
    chosen = None
    for name, c in checks.items():
        print(f"{name}: " + ("passes" if all(c.values()) else "fails"))
        for text, passed in c.items():
            print(("  pass  " if passed else "  FAIL  ") + text)
        if chosen is None and all(c.values()):
            chosen = name
    print(chosen or "none")
    return 0 if chosen else 1
