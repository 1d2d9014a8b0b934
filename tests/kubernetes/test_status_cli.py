"""A stuck rollout on the cluster reaches `pier status` with Kubernetes' own reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from control_plane.api.app import create_api
from control_plane.backends.kubernetes.reconciler import Reconciler
from control_plane.composition import build_platform
from control_plane.domain.convergence import cluster_line
from control_plane.schemas import Resources
from control_plane.settings import PierSettings
from tests.kubernetes.conftest import Cluster, DesiredState
from tests.kubernetes.test_orchestrator import NAME, NAMESPACE
from tests.support.controlplane import bootstrap
from tests.support.servers import serve

PIER = str(Path(sys.executable).with_name("pier"))


def test_pier_status_shows_a_stuck_rollout_and_why(
    cluster: Cluster, reconciler: Reconciler, state: DesiredState, tmp_path: Path
) -> None:
    state.resources["iris"] = {"v1": Resources(cpu="64", memory="1Gi")}
    state.deploy("iris", {"v1": 100}, ["v1"])
    reconciler.reconcile_once()
    cluster.warn(
        NAMESPACE,
        f"{NAME}-7d9f8b6c4d-x2z5q",
        "Pod",
        "FailedScheduling",
        "0/3 nodes are available: 3 Insufficient cpu.",
    )
    cluster.write_deployment_status(
        NAMESPACE,
        NAME,
        {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "unavailableReplicas": 1,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": "ReplicaSet has timed out progressing.",
                }
            ],
        },
    )
    reconciler.reconcile_once()
    settings = PierSettings(home=tmp_path)
    tokens = bootstrap(settings)
    platform = build_platform(settings)
    platform.rollouts = reconciler.rollouts
    with serve(create_api(platform)) as url:
        env = {**os.environ, "PIER_URL": url, "PIER_TOKEN": tokens.admin, "COLUMNS": "250"}
        done = subprocess.run([PIER, "status"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Rollouts (Kubernetes)" in done.stdout
    row = next(line for line in done.stdout.splitlines() if "iris" in line and "failed" in line)
    assert "0/1" in row and "Insufficient cpu" in done.stdout
    # The same line the dashboard's model page shows under the serving versions.
    line = cluster_line(reconciler.rollouts(), "iris")
    assert line.startswith("Cluster: failed, 0/1 ready.") and "Insufficient cpu" in line
    assert cluster_line(reconciler.rollouts(), "other") == ""
