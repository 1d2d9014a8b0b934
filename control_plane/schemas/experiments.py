"""How the live and shadow versions of a model compare: figures, effects, verdicts, and
the per-model thresholds below which a difference is not worth acting on."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Comparison",
    "Difference",
    "EffectPublic",
    "Estimate",
    "ExperimentPublic",
    "LatencyTest",
    "ThresholdSettings",
    "ThresholdsPublic",
    "ThresholdsSet",
    "VersionResult",
]


class ThresholdSettings(BaseModel):
    """The smallest differences an experiment declares: a latency difference must exceed
    both the share and the milliseconds; accuracy and error rate in percentage points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_pct: float = Field(default=10.0, ge=0, le=1000, description="Percent of baseline.")
    latency_ms: float = Field(default=1.0, ge=0, le=60_000, description="Milliseconds.")
    accuracy_points: float = Field(default=1.0, gt=0, le=50, description="Percentage points.")
    error_points: float = Field(default=1.0, gt=0, le=50, description="Percentage points.")


class ThresholdsPublic(BaseModel):
    model: str
    thresholds: ThresholdSettings
    custom: bool = Field(description="False: the platform's defaults apply.")


class ThresholdsSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thresholds: ThresholdSettings
    reason: str = Field(default="", max_length=2000)


class Estimate(BaseModel):
    """A proportion with its 95 % Wilson interval; None values where nothing was counted."""

    value: float | None = Field(description="0..1")
    low: float | None
    high: float | None
    n: int = Field(description="What the proportion is of: requests or labelled rows.")


class VersionResult(BaseModel):
    version: str
    weight: int = Field(description="Percent of traffic it takes now.")
    role: str = Field(description="baseline, challenger or shadow")
    shadow: int = Field(default=0, description="Shadow: percent of requests mirrored to it.")
    agreement: Estimate | None = Field(
        default=None,
        description="Shadow: share of classifier rows where it predicted the live answer.",
    )
    requests: int
    errors: int
    error_rate: Estimate
    labelled: int
    accuracy: Estimate
    p50_ms: float | None
    p99_ms: float | None


class Difference(BaseModel):
    """Challenger minus baseline, with Newcombe's 95 % interval and a two-sided p-value."""

    diff: float
    low: float
    high: float
    p_value: float


class EffectPublic(BaseModel):
    """Challenger minus baseline on one measure, with its 95 % interval and how it reads
    against the model's threshold."""

    measure: str = Field(description="latency (the median), accuracy or error rate")
    unit: str = Field(description="ms, or percentage points")
    baseline: float
    challenger: float
    diff: float
    low: float
    high: float
    p_value: float
    threshold: float = Field(description="The smallest difference declared, in `unit`.")
    n: int
    reading: str = Field(
        description="better or worse (for the challenger): significant and beyond the "
        "threshold; negligible: not both, or the interval lies within it; unclear: the "
        "interval still reaches beyond it"
    )


class LatencyTest(BaseModel):
    """Challenger against baseline on latency: a rank test on their histograms."""

    u: float = Field(description="Mann-Whitney U of the challenger.")
    p_value: float = Field(description="Two-sided.")
    prob_slower: float = Field(
        description="P(a challenger request takes longer than a baseline one), ties half."
    )
    significant: bool
    text: str


class Comparison(BaseModel):
    challenger: str
    baseline: str
    effects: list[EffectPublic] = Field(default_factory=list)
    accuracy: Difference | None = Field(description="None until both versions have labels.")
    error_rate: Difference | None = Field(description="None until both versions served.")
    p99_ratio: float | None = Field(description="Challenger p99 / baseline p99.")
    latency: LatencyTest | None = Field(
        default=None, description="None until both versions have latency histograms."
    )
    agreement: float | None = Field(
        default=None, description="Shadow challenger: share of rows agreeing with live answers."
    )
    labelled: int = Field(description="Labelled predictions of both versions together.")
    labels_missing: bool = Field(
        default=False, description="True while either version has no labelled prediction."
    )
    needed: int | None = Field(
        description="Labelled predictions (both together) needed to detect the accuracy "
        "threshold with 80 % power at alpha 0.05; None until the baseline has labels."
    )
    reached: bool
    decided: bool
    verdict: str


class ExperimentPublic(BaseModel):
    model: str
    window_s: int = Field(
        description="Seconds compared: since the current split took effect, at most the "
        "window asked for."
    )
    since: datetime = Field(description="Start of the traffic compared.")
    since_split: bool = Field(
        description="True when the compared traffic starts at the split (younger than the "
        "window asked for)."
    )
    split_revision: int = Field(description="The revision from which the current split held.")
    split_since: datetime = Field(description="When the current split took effect.")
    generated_at: datetime
    min_effect: float
    thresholds: ThresholdSettings
    baseline: str
    canary: str | None = Field(description="The canary in progress, if one runs.")
    latency_method: str
    versions: list[VersionResult]
    comparisons: list[Comparison]
