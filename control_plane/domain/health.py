"""A model's status badge: a pure decision over its rollout and its recent traffic."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from control_plane.domain.convergence import Rollout

DEGRADED_ERROR_RATE = 0.02
"""At or above this share of failed requests a model is degraded..."""
FAILING_ERROR_RATE = 0.25
"""...and at or above this one it is failing."""


class Health(StrEnum):
    not_deployed = "not deployed"
    serving = "serving"
    deploying = "deploying"
    degraded = "degraded"
    failing = "failing"


@dataclass(frozen=True)
class HealthVerdict:
    health: Health
    reason: str


def judge(deployed: bool, rollout: Rollout | None, error_rate: float | None) -> HealthVerdict:
    """Worst first: nothing serving, then a rollout under way, then errors."""
    if not deployed or rollout is None:
        return HealthVerdict(Health.not_deployed, "No version receives traffic yet.")
    if rollout.live == 0:
        return HealthVerdict(
            Health.failing, "No inference replica has reported in the last seconds."
        )
    if not rollout.done:
        return HealthVerdict(Health.deploying, rollout.describe())
    if error_rate is not None and error_rate >= FAILING_ERROR_RATE:
        return HealthVerdict(Health.failing, f"{error_rate:.0%} of recent requests failed.")
    if rollout.errors:
        return HealthVerdict(Health.degraded, f"A replica reports: {rollout.errors[0]}")
    if error_rate is not None and error_rate >= DEGRADED_ERROR_RATE:
        return HealthVerdict(Health.degraded, f"{error_rate:.1%} of recent requests failed.")
    return HealthVerdict(Health.serving, rollout.describe())
