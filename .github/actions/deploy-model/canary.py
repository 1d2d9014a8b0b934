"""Start a canary of the version a pier.yaml describes (the deploy-model action's last step).

Reads PIER_URL, PIER_TOKEN, MANIFEST, CANARY_PERCENT, REASON, WAIT_SECONDS and
GITHUB_OUTPUT from the environment; prints what it did; exits non-zero with a message.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from control_plane.cli.client import ApiError, ClientConfig, PierClient
from control_plane.pier_yaml import load_manifest


def canary_weights(current: dict[str, int], new: str, percent: int) -> dict[str, int]:
    """`new` gets `percent`; the others keep their proportions of the rest, in whole
    percents summing to 100 (largest remainders get the spare points)."""
    others = {v: w for v, w in current.items() if v != new and w > 0}
    rest = 100 - percent
    total = sum(others.values())
    if not others or rest == 0:
        return {new: 100}
    exact = {v: w * rest / total for v, w in others.items()}
    weights = {v: int(x) for v, x in exact.items()}
    spare = rest - sum(weights.values())
    for v in sorted(exact, key=lambda v: exact[v] - weights[v], reverse=True)[:spare]:
        weights[v] += 1
    return {**{v: w for v, w in weights.items() if w > 0}, new: percent}


def main() -> int:
    env = os.environ
    percent = int(env.get("CANARY_PERCENT", "10"))
    if not 1 <= percent <= 100:
        print(f"canary-percent must be 1-100, got {percent}", file=sys.stderr)
        return 2
    manifest = load_manifest(Path(env["MANIFEST"]))
    name = manifest.model.name
    config = ClientConfig(url=env["PIER_URL"].rstrip("/"), token=env["PIER_TOKEN"])
    with PierClient(config) as client:
        try:
            model = next(m for m in client.models() if m.name == name)
            version = manifest.model.version or model.latest
            if version is None:
                print(f"{name} has no version after the push", file=sys.stderr)
                return 1
            weights = canary_weights(model.deployment or {}, version, percent)
            reason = (
                env.get("REASON")
                or f"canary of {version} from {env.get('GITHUB_REPOSITORY', 'CI')}"
            )
            deployed = client.split(name, weights, reason)
            print(f"{name}: {deployed.weights} (revision {deployed.revision})")
            deadline = time.monotonic() + float(env.get("WAIT_SECONDS", "300"))
            while time.monotonic() < deadline:
                status = next((m for m in client.status().models if m.model == name), None)
                if status is not None and status.converged:
                    print(f"every replica serves revision {deployed.revision}")
                    break
                time.sleep(2)
            else:
                print("replicas did not converge in time", file=sys.stderr)
                return 3
        except ApiError as e:
            print(f"Pier refused: {e.status} {e.message}", file=sys.stderr)
            return 1
    if "GITHUB_OUTPUT" in env:
        with open(env["GITHUB_OUTPUT"], "a") as out:
            out.write(f"version={version}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
