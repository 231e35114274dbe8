"""What the service refuses, each with the HTTP status it maps to."""

from __future__ import annotations

from ttom.errors import ConfigError


class ServiceError(ConfigError):
    """A request the service refuses; ``status`` is its HTTP status, ``param`` the field it names."""

    status = 400

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class JobNotFound(ServiceError):
    status = 404


class JobConflict(ServiceError):
    """The job (or its thread) is not in a state that allows this."""

    status = 409


class QueueFull(ServiceError):
    """Too many queued jobs; ``retry_after`` is the hint in seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
