"""GET /metrics (Prometheus text or a JSON summary) and ground truth: POST /feedback,
POST /feedback/batch, GET /feedback/aggregates (what the control plane reads)."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ValidationError

from inference.errors import (
    DuplicateFeedback,
    InferenceError,
    InvalidInput,
    MetricsDisabled,
    PredictionExpired,
    PredictionNotFound,
)
from inference.feedback.tallies import BUCKET_S, RETENTION_S
from inference.metrics.collectors import TEXT_CONTENT_TYPE
from inference.metrics.window import WINDOW_MAX_S
from inference.schemas import (
    BookOut,
    BucketOut,
    FeedbackAggregates,
    FeedbackBatch,
    FeedbackBatchResponse,
    FeedbackItem,
    FeedbackOutcome,
    MetricsSummary,
    PredictionStoreOut,
    VersionWindow,
)
from inference.state import state_of

router = APIRouter()

_DEFAULT_WINDOW_S = 60


def _window(request: Request) -> int:
    raw = request.query_params.get("window", str(_DEFAULT_WINDOW_S))
    try:
        window = int(raw)
    except ValueError:
        window = 0
    if not 1 <= window <= WINDOW_MAX_S:
        raise InvalidInput(f"window: expected whole seconds from 1 to {WINDOW_MAX_S}, got {raw!r}")
    return window


@router.get(
    "/metrics",
    responses={
        200: {
            "description": "Prometheus text; with `Accept: application/json`, a summary "
            "per model version over `?window=` seconds (default 60, at most 300).",
            "content": {"application/json": {"schema": MetricsSummary.model_json_schema()}},
        }
    },
)
async def metrics(request: Request) -> Response:
    state = state_of(request)
    if not state.metrics.enabled:
        raise MetricsDisabled(
            "metrics are turned off on this replica (PIER_INFERENCE_METRICS_ENABLED=false)"
        )
    if "application/json" not in request.headers.get("accept", ""):
        return Response(state.metrics.render_text(), media_type=TEXT_CONTENT_TYPE)
    window = _window(request)
    figures = state.truth.window(state.metrics.window, window)
    rows = []
    for (model, version), f in figures.items():
        s, t = f.stats, f.tally
        rows.append(
            VersionWindow(
                model=model,
                version=version,
                requests=s.requests if s else 0,
                errors=s.errors if s else 0,
                rps=s.rps if s else 0.0,
                p50_ms=s.p50_ms if s else None,
                p95_ms=s.p95_ms if s else None,
                p99_ms=s.p99_ms if s else None,
                error_rate=s.error_rate if s else None,
                errors_by_type=s.errors_by_type if s else {},
                labelled=t.labelled,
                accuracy=t.accuracy,
                mae=t.mae,
                rmse=t.rmse,
            )
        )
    stats = state.truth.store.stats()
    body = MetricsSummary(
        window_s=window,
        generated_at=state.truth.now(),
        workers=state.truth.workers(),
        models=rows,
        prediction_store=PredictionStoreOut(
            kind=stats.kind,
            entries=stats.entries,
            rows=stats.rows,
            capacity_rows=stats.capacity_rows,
            ttl_s=stats.ttl_s,
            pending_writes=stats.pending_writes,
            dropped=stats.dropped,
        ),
    )
    return _json(body)


_Body = TypeVar("_Body", bound=BaseModel)


def _json(body: BaseModel, status_code: int = 200) -> Response:
    return Response(body.model_dump_json(), status_code=status_code, media_type="application/json")


def _parse(model: type[_Body], raw: bytes) -> _Body:
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in e.errors()
        )
        raise InvalidInput(f"expected {model.__name__} JSON; {problems}") from e


@router.post(
    "/feedback",
    response_model=FeedbackOutcome,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FeedbackItem.model_json_schema()}},
        }
    },
    responses={
        404: {"description": "No prediction with this id was made here (or Redis dropped it)"},
        409: {"description": "This prediction already has its label"},
        410: {"description": "The prediction is older than the store keeps"},
        422: {"description": "A malformed id or body, or a label of the wrong kind"},
    },
)
async def feedback(request: Request) -> Response:
    """Ground truth for one prediction, minutes or days after it was made."""
    state = state_of(request)
    item = _parse(FeedbackItem, await request.body())
    (outcome,) = await state.truth.submit([item])
    if outcome.result != "accepted":
        error = _FEEDBACK_ERRORS[outcome.result]
        raise error(f"prediction {item.prediction_id!r}: {outcome.message}")
    return _json(outcome)


_FEEDBACK_ERRORS: dict[str, type[InferenceError]] = {
    "unknown": PredictionNotFound,
    "expired": PredictionExpired,
    "duplicate": DuplicateFeedback,
    "invalid": InvalidInput,
}


@router.post(
    "/feedback/batch",
    response_model=FeedbackBatchResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FeedbackBatch.model_json_schema()}},
        }
    },
)
async def feedback_batch(request: Request) -> Response:
    """Many labels at once; every item gets its own result, the call itself succeeds."""
    state = state_of(request)
    batch = _parse(FeedbackBatch, await request.body())
    outcomes = await state.truth.submit(batch.items)
    counts = dict.fromkeys(("accepted", "unknown", "expired", "duplicate", "invalid"), 0)
    for outcome in outcomes:
        counts[outcome.result] += 1
    return _json(FeedbackBatchResponse(counts=counts, results=outcomes))


def _cursors(after: list[str]) -> dict[str, int]:
    cursors = {}
    for raw in after:
        epoch, _, revision = raw.rpartition("@")
        if not epoch or not revision.isdigit():
            raise InvalidInput(
                f"after: expected EPOCH@REVISION from an earlier answer, got {raw!r}"
            )
        cursors[epoch] = int(revision)
    return cursors


@router.get("/feedback/aggregates", response_model=FeedbackAggregates)
async def feedback_aggregates(
    request: Request, after: Annotated[list[str] | None, Query()] = None
) -> Response:
    """Labelled-row tallies by bucket of prediction time, for the control plane.

    `after=EPOCH@REVISION` (repeatable) returns only the buckets that changed since.
    """
    state = state_of(request)
    cursors = _cursors(after or [])
    books = []
    for view in state.truth.books():
        since = cursors.get(view.epoch, -1)
        if view.epoch == state.truth.epoch:
            view = state.truth.own_book_since(since)
        elif view.revision <= since:
            view = type(view)(view.epoch, view.revision, [])
        books.append(
            BookOut(
                epoch=view.epoch,
                revision=view.revision,
                buckets=[
                    BucketOut(
                        model=b.model,
                        version=b.version,
                        start=b.start,
                        labelled=b.tally.labelled,
                        correct=b.tally.correct,
                        regressed=b.tally.regressed,
                        abs_error=b.tally.abs_error,
                        sq_error=b.tally.sq_error,
                    )
                    for b in view.buckets
                ],
            )
        )
    return _json(FeedbackAggregates(bucket_s=BUCKET_S, retention_s=RETENTION_S, books=books))
