"""Each model's load on one worker, from the worker's own /metrics (pure): the local workers
serve every model, so the autoscaler judges each model by its own share of them."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Totals:
    """Cumulative figures of one model on one worker."""

    requests: float = 0.0
    busy_s: float = 0.0  # sum of request durations: its integral of requests in flight
    model_s: float = 0.0  # time spent in the model's calls


@dataclass(frozen=True)
class ModelLoad:
    """One model on one worker since the previous sample."""

    inflight: float  # time-averaged requests in flight (Little's law: busy_s / span)
    rps: float
    cpu_share: float  # this model's share of the worker's model time, 0..1


def read_totals(text: str) -> dict[str, Totals]:
    """Per model, summed over versions and codes, from a worker's Prometheus text."""
    requests: dict[str, float] = {}
    busy: dict[str, float] = {}
    model: dict[str, float] = {}
    wanted = {
        "pier_requests_total": requests,
        "pier_request_duration_seconds_sum": busy,
        "pier_model_inference_seconds_sum": model,
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            into = wanted.get(sample.name)
            name = sample.labels.get("model")
            if into is not None and name:
                into[name] = into.get(name, 0.0) + sample.value
    names = set(requests) | set(busy) | set(model)
    return {n: Totals(requests.get(n, 0.0), busy.get(n, 0.0), model.get(n, 0.0)) for n in names}


def loads_between(
    before: dict[str, Totals], after: dict[str, Totals], span_s: float
) -> dict[str, ModelLoad]:
    """Each model's load over `span_s` seconds; a counter that went back (a restarted
    worker) counts from zero."""
    span = max(span_s, 1e-6)
    deltas: dict[str, Totals] = {}
    for name, now in after.items():
        then = before.get(name, Totals())
        if now.requests < then.requests or now.busy_s < then.busy_s:
            then = Totals()
        deltas[name] = Totals(
            now.requests - then.requests, now.busy_s - then.busy_s, now.model_s - then.model_s
        )
    model_total = sum(d.model_s for d in deltas.values())
    return {
        name: ModelLoad(
            inflight=d.busy_s / span,
            rps=d.requests / span,
            cpu_share=d.model_s / model_total if model_total > 0 else 0.0,
        )
        for name, d in deltas.items()
    }
