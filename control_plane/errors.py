"""Domain exceptions of the control plane and the one table that maps them to HTTP."""

from __future__ import annotations


class PierError(Exception):
    """Base of every error the control plane reports to a user."""

    status_code = 500
    kind = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PierError):
    status_code = 404
    kind = "not_found"


class Conflict(PierError):
    status_code = 409
    kind = "conflict"


class InvalidRequest(PierError):
    status_code = 422
    kind = "invalid"


class PayloadTooLarge(PierError):
    status_code = 413
    kind = "too_large"


class Unauthenticated(PierError):
    status_code = 401
    kind = "unauthenticated"


class Forbidden(PierError):
    status_code = 403
    kind = "forbidden"


class ArtifactRejected(InvalidRequest):
    """The artifact is not an accepted format, or does not answer as declared."""

    kind = "artifact_rejected"


class OrchestratorError(PierError):
    status_code = 502
    kind = "orchestrator"


# The one place where domain errors meet HTTP: status code and machine-readable kind.
HTTP_STATUS: dict[type[PierError], int] = {
    cls: cls.status_code
    for cls in (
        NotFound,
        Conflict,
        InvalidRequest,
        ArtifactRejected,
        PayloadTooLarge,
        Unauthenticated,
        Forbidden,
        OrchestratorError,
    )
}


def http_status(error: PierError) -> int:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500
