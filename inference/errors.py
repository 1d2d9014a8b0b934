"""Domain exceptions of the inference service and the one table mapping them to HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


class InferenceError(Exception):
    """Base of every error this service reports to a client."""

    def __init__(self, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s
        # The version that was serving when it failed, when one was chosen: the answer says
        # so (X-Pier-Version), so a caller can tell a failing canary from its baseline.
        self.version: str | None = None


class ModelNotFound(InferenceError):
    pass


class VersionNotFound(InferenceError):
    pass


class InvalidInput(InferenceError):
    pass


class MalformedBody(InvalidInput):
    pass


class PayloadTooLarge(InferenceError):
    pass


class TooManyRows(InferenceError):
    pass


class ModelError(InferenceError):
    """The model raised, or returned something other than its declared outputs."""


class NotReady(InferenceError):
    """No routing table applied yet, or the model has no version taking traffic."""


class Overloaded(InferenceError):
    """More requests in flight than this worker admits (inference/execution/admission.py)."""


class ModelTimeout(InferenceError):
    """The model call did not answer within the per-request timeout."""


class UnsupportedArtifact(InferenceError):
    """An artifact in a format we refuse to load (never unpickled)."""


class ArtifactError(InferenceError):
    """An artifact that could not be fetched, verified or loaded."""


class ControlPlaneError(InferenceError):
    pass


class PredictionNotFound(InferenceError):
    """Feedback for a prediction id this service never issued (or Redis evicted)."""


class PredictionExpired(InferenceError):
    """Feedback for a prediction older than what the store keeps."""


class DuplicateFeedback(InferenceError):
    """A second feedback for the same prediction."""


class MetricsDisabled(InferenceError):
    """/metrics on a replica started with metrics turned off."""


@dataclass(frozen=True)
class ErrorMapping:
    status: int
    type: str
    # Open Inference Protocol clients expect 400 for a bad request.
    v2_status: int


ERROR_TABLE: dict[type[InferenceError], ErrorMapping] = {
    ModelNotFound: ErrorMapping(404, "model_not_found", 404),
    VersionNotFound: ErrorMapping(404, "version_not_found", 404),
    MalformedBody: ErrorMapping(422, "malformed_body", 400),
    InvalidInput: ErrorMapping(422, "invalid_input", 400),
    PayloadTooLarge: ErrorMapping(413, "payload_too_large", 413),
    TooManyRows: ErrorMapping(413, "too_many_rows", 413),
    ModelError: ErrorMapping(500, "model_error", 500),
    NotReady: ErrorMapping(503, "not_ready", 503),
    Overloaded: ErrorMapping(503, "overloaded", 503),
    ModelTimeout: ErrorMapping(504, "model_timeout", 504),
    UnsupportedArtifact: ErrorMapping(422, "unsupported_artifact", 400),
    ArtifactError: ErrorMapping(500, "artifact_error", 500),
    ControlPlaneError: ErrorMapping(502, "control_plane_error", 502),
    PredictionNotFound: ErrorMapping(404, "prediction_not_found", 404),
    PredictionExpired: ErrorMapping(410, "prediction_expired", 410),
    DuplicateFeedback: ErrorMapping(409, "duplicate_feedback", 409),
    MetricsDisabled: ErrorMapping(404, "metrics_disabled", 404),
}

_FALLBACK = ErrorMapping(500, "internal_error", 500)


def mapping_for(error: InferenceError) -> ErrorMapping:
    """The most specific table entry for ``error`` (walks the class hierarchy)."""
    for cls in type(error).__mro__:
        found = ERROR_TABLE.get(cls)
        if found is not None:
            return found
    return _FALLBACK


def render(error: InferenceError, *, v2: bool) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and headers for ``error``; v2 routes use the protocol's body."""
    mapping = mapping_for(error)
    if v2:
        body: object = {"error": error.message}
    else:
        body = {"error": {"type": mapping.type, "message": error.message}}
    headers = {"content-type": "application/json"}
    if error.retry_after_s is not None:
        headers["retry-after"] = str(error.retry_after_s)
    if error.version:
        headers["x-pier-version"] = error.version
    return (mapping.v2_status if v2 else mapping.status), orjson.dumps(body), headers


def is_v2_path(path: str) -> bool:
    return path == "/v2" or path.startswith("/v2/")
