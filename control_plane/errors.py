"""Domain exceptions of the control plane and the one table that maps them to HTTP."""

from __future__ import annotations


class PierError(Exception):
    """Base of every error the control plane reports to a user."""

    status_code = 500
    kind = "internal"
    # Seconds a client should wait before retrying, for errors that pass by themselves.
    retry_after_s: int | None = None

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


class TooManyAttempts(PierError):
    """Too many failed sign-ins for one username from one client: wait, then retry."""

    status_code = 429
    kind = "too_many_attempts"


class ArtifactRejected(InvalidRequest):
    """The artifact is not an accepted format, or does not answer as declared."""

    kind = "artifact_rejected"


class OrchestratorError(PierError):
    status_code = 502
    kind = "orchestrator"


class KubernetesError(OrchestratorError):
    """The Kubernetes API refused or failed a call; its status and reason are kept.

    To a user this is a 502 (the platform's cluster side failed, not their request):
    `k8s_status` says why, e.g. 403 (the ServiceAccount's Role lacks a verb), 409, 422.
    """

    kind = "kubernetes"

    def __init__(self, message: str, *, k8s_status: int, reason: str) -> None:
        super().__init__(message)
        self.k8s_status = k8s_status
        self.reason = reason


class RolloutFailed(OrchestratorError):
    """A rollout is stuck (progress deadline exceeded); the message holds Kubernetes' reason."""

    kind = "rollout_failed"


class MetricsUnavailable(PierError):
    """The metrics source (Prometheus) did not answer; the charts are unavailable, not empty."""

    status_code = 503
    kind = "metrics_unavailable"
    retry_after_s = 5


class DatabaseUnavailable(PierError):
    """SQL could not be reached (down, restarting, out of connections). Every API route
    answers 503 with Retry-After: the state is unknown, not wrong, and comes back by
    itself (the pool checks connections before use and reconnects)."""

    status_code = 503
    kind = "database_unavailable"
    retry_after_s = 2


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
        TooManyAttempts,
        OrchestratorError,
        KubernetesError,
        RolloutFailed,
        MetricsUnavailable,
        DatabaseUnavailable,
    )
}


def http_status(error: PierError) -> int:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500
