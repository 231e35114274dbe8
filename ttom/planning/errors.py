"""Errors of the planning half of the agent; each message names the problem and the fix."""

from __future__ import annotations

from ttom.errors import TtomError


class PlannerError(TtomError):
    """No usable layout could be planned (bad prompt, or every planner and repair failed)."""


class LLMError(PlannerError):
    """The LLM endpoint failed; the message names the endpoint."""


class LLMUnreachableError(LLMError):
    """The endpoint could not be reached (connection refused, DNS, timeout)."""


class LLMServerError(LLMError):
    """The endpoint answered with an error status (5xx, 4xx)."""


class LLMOutputError(LLMError):
    """The endpoint answered, but its output is not a valid layout (bad JSON, wrong schema)."""
