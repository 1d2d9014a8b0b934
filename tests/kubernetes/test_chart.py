"""The Helm chart, rendered by the real `helm` binary (installed by `make tools`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from control_plane.backends.kubernetes.orchestrator import KubernetesOrchestrator
from control_plane.backends.kubernetes.settings import KubernetesSettings
from tests.kubernetes.cluster import assert_valid, client_model, emulated_cluster
from tests.kubernetes.conftest import DesiredState

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "pier"
MONITORING = [
    "--api-versions",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "--api-versions",
    "monitoring.coreos.com/v1/PrometheusRule",
]
VALUE_SETS: dict[str, list[str]] = {
    "defaults": [],
    "everything": [
        "--set",
        "ingress.enabled=true,ingress.tlsSecretName=pier-tls,ingress.className=nginx",
        "--set",
        "inference.namespace=models,inference.image.gpuTag=0.1.0-cuda",
        "--set",
        "database.url=postgresql+psycopg://pier:pw@db.example.com:5432/pier",
        "--set",
        "redis.url=rediss://:pw@redis.example.com:6380/0",
        "--set",
        "prometheus.url=http://prometheus-operated.monitoring:9090",
        "--set",
        "controlPlane.imagePullSecrets={ghcr}",
        "--set",
        "persistence.storageClass=fast,persistence.size=50Gi",
        *MONITORING,
    ],
    "existing secret and claim": [
        "--set",
        "secrets.existingSecret=pier-secrets,persistence.existingClaim=pier-data",
        "--set",
        "controlPlane.image.digest=sha256:" + "a" * 64,
    ],
    "no persistence, no rbac": [
        "--set",
        "persistence.enabled=false,rbac.create=false,serviceAccount.create=false",
    ],
}


def helm() -> str:
    path = REPO / ".tools" / "bin" / "helm"
    found = str(path) if path.is_file() else shutil.which("helm")
    if found is None:
        pytest.fail("no helm binary: `make tools` installs it into .tools/bin")
    return found


def render(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [helm(), "template", "pier", str(CHART), "--namespace", "pier", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_the_chart_lints_strictly() -> None:
    result = subprocess.run(
        [helm(), "lint", "--strict", str(CHART)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_rendered_object_is_valid_kubernetes(values: list[str]) -> None:
    docs = render(*values)
    assert {d["kind"] for d in docs} >= {"Deployment", "Service"}
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            assert client_model(doc) is None  # a CRD: no official schema to check against
            continue
        assert_valid(doc)


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def test_monitoring_objects_only_when_the_operator_is_there() -> None:
    assert not {"ServiceMonitor", "PrometheusRule"} & set(_by_kind(render()))
    kinds = _by_kind(render(*MONITORING))
    (monitor,) = kinds["ServiceMonitor"]
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "pier-inference",
        "app.kubernetes.io/managed-by": "pier",
    }
    (rule,) = kinds["PrometheusRule"]
    exprs = " ".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    assert "pier_request_errors_total" in exprs and "pier_request_duration_seconds_bucket" in exprs


def test_the_control_plane_gets_its_settings_and_secrets_from_the_chart() -> None:
    kinds = _by_kind(render(*VALUE_SETS["everything"]))
    (dep,) = kinds["Deployment"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["PIER_ORCHESTRATOR"]["value"] == "kubernetes"
    assert env["PIER_K8S_NAMESPACE"]["value"] == "models"
    assert env["PIER_K8S_INFERENCE_IMAGE"]["value"] == "ghcr.io/pier-dev/pier-inference:0.1.0"
    assert env["PIER_K8S_CONTROL_PLANE_URL"]["value"] == "http://pier.pier.svc:3000"
    assert env["PIER_PUBLIC_URL"]["value"] == "https://pier.example.com"
    # Secrets only by reference, never inline.
    for name in (
        "PIER_DATABASE_URL",
        "PIER_REDIS_URL",
        "PIER_ADMIN_TOKEN",
        "PIER_K8S_INFERENCE_TOKEN",
    ):
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]["name"] == "pier"
    assert "pw@" not in json.dumps(dep)
    # Every PIER_K8S_* variable is a real setting of the orchestrator.
    known = {f"PIER_K8S_{f.upper()}" for f in KubernetesSettings.model_fields}
    assert {k for k in env if k.startswith("PIER_K8S_")} <= known
    # The replicas' Secret is copied into the models' namespace, with only what they need.
    secrets = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in kinds["Secret"]}
    inference = secrets[("models", "pier-inference")]["stringData"]
    assert set(inference) == {"inference-token", "redis-url"}
    assert (
        inference["inference-token"] == secrets[("pier", "pier")]["stringData"]["inference-token"]
    )
    assert re.fullmatch(r"pier_[A-Za-z0-9]{43}", inference["inference-token"])
    assert env["PIER_K8S_SECRET_NAME"]["value"] == "pier-inference"


def test_containers_run_unprivileged() -> None:
    for doc in render(*VALUE_SETS["everything"]):
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert {"readinessProbe", "livenessProbe", "resources"} <= set(c)


def test_bad_values_are_refused_with_the_path_of_the_mistake() -> None:
    for args, expected in [
        (["--set", "inference.autoscaling.minReplica=2"], "minReplica"),
        (["--set", "database.url=mysql://db/pier"], "/database/url"),
        (["--set", "secrets.adminToken=short"], "/secrets/adminToken"),
        (
            ["--set", "inference.autoscaling.minReplicas=5,inference.autoscaling.maxReplicas=2"],
            "maxReplicas must be at least",
        ),
    ]:
        result = subprocess.run(
            [helm(), "template", "pier", str(CHART), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0 and expected in result.stderr, result.stderr


def _key_lines(node: yaml.Node, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(dotted path, 0-based line) of every key in values.yaml."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}{key.value}"
            yield path, key.start_mark.line
            yield from _key_lines(value, f"{path}.")


def test_every_value_is_documented_and_in_the_schema() -> None:
    """Each value, or the free-form map it belongs to (resources, securityContext), has a
    comment in values.yaml and a description in values.schema.json."""
    text = (CHART / "values.yaml").read_text()
    lines = text.splitlines()
    schema = json.loads((CHART / "values.schema.json").read_text())
    keys = dict(_key_lines(yaml.compose(text)))
    leaves = [p for p in keys if not any(k.startswith(f"{p}.") for k in keys)]
    assert len(leaves) > 50
    for leaf in leaves:
        node, documented = schema, []
        for part in leaf.split("."):
            if "properties" not in node:
                break  # a free-form map: documented as a whole
            node = node["properties"][part]
            documented.append(part)
        assert node.get("description"), f"{leaf}: no description in values.schema.json"
        line = keys[".".join(documented)]
        assert lines[line - 1].lstrip().startswith("#"), f"values.yaml: {leaf} has no comment"


def _role_verbs() -> set[tuple[str, str, str]]:
    (role,) = _by_kind(render())["Role"]
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_role_holds_exactly_the_verbs_the_orchestrator_uses() -> None:
    with emulated_cluster() as cluster:
        settings = KubernetesSettings(api_url=cluster.url, namespace="pier")
        orch = KubernetesOrchestrator.connect(settings)
        state = DesiredState()
        state.deploy("iris", {"v1": 100}, ["v1"])
        try:
            for model in state():
                orch.apply(model)  # create (a first apply), then apply again
                orch.apply(model)
            cluster.write_deployment_status(
                "pier",
                "pier-iris",
                {
                    "conditions": [
                        {
                            "type": "Progressing",
                            "status": "False",
                            "reason": "ProgressDeadlineExceeded",
                        }
                    ]
                },
            )
            assert orch.rollout("iris").state == "failed"  # reads the Deployment and events
            assert orch.managed() == ["iris"]
            orch.delete("iris")
        finally:
            orch.close()
        used = set()
        for r in cluster.sent_requests():
            named = r.name is not None
            verb = {
                "GET": "get" if named else "list",
                "POST": "create",
                "PATCH": "patch",
                "DELETE": "delete",
            }[r.method.value]
            used.add((r.resource.group, r.resource.plural, verb))
    assert used == _role_verbs()
