"""KubernetesSettings: how the `kubernetes` orchestrator runs inference replicas.

Read once at boot (`PIER_K8S_<NAME>` in the environment; the Helm chart sets them all)
and passed down to the manifest builders, which stay pure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from control_plane.schemas import NAME_RE, ScalingSettings


class KubernetesSettings(BaseSettings):
    """Every field is `PIER_K8S_<NAME>`; the Helm chart's values map onto them one to one."""

    model_config = SettingsConfigDict(env_prefix="PIER_K8S_", extra="ignore", frozen=True)

    namespace: str = Field(
        default="default", description="Namespace where model workloads are created."
    )
    kubeconfig: str = Field(
        default="",
        description="Path to a kubeconfig; empty: the in-cluster ServiceAccount, "
        "else ~/.kube/config.",
    )
    context: str = Field(default="", description="kubeconfig context; empty: the current one.")
    api_url: str = Field(
        default="",
        description="A Kubernetes API URL that needs no credentials (`kubectl proxy`, an "
        "emulator); when set, kubeconfig and in-cluster config are not read.",
    )
    inference_image: str = Field(
        default="ghcr.io/pier-dev/pier-inference:0.1.0",
        description="Image of the inference replicas (CPU torch).",
    )
    inference_gpu_image: str = Field(
        default="",
        description="Image for models whose versions ask for GPUs (CUDA torch); "
        "empty: inference_image.",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="imagePullPolicy of the inference container."
    )
    image_pull_secret: str = Field(
        default="", description="Name of a docker-registry Secret for private images; optional."
    )
    control_plane_url: str = Field(
        default="http://pier:3000",
        description="URL of the control plane as the replicas reach it (its Service).",
    )
    secret_name: str = Field(
        default="pier",
        description="Secret holding the replicas' API token and, optionally, the Redis URL.",
    )
    token_key: str = Field(
        default="inference-token", description="Key of the replicas' API token in that Secret."
    )
    redis_url_key: str = Field(
        default="redis-url",
        description="Key of the Redis URL in that Secret; a missing key means no Redis.",
    )
    inference_token: SecretStr = Field(
        default=SecretStr(""),
        description="The same token as the control plane reads it, so that it can accept it "
        "(the chart sets it from the Secret). Never logged.",
    )
    service_account: str = Field(
        default="",
        description="ServiceAccount of the inference pods (they call no Kubernetes API: "
        "its token is not mounted); empty: the namespace's default.",
    )
    priority_class: str = Field(default="", description="priorityClassName of inference pods.")
    gpu_resource: str = Field(
        default="nvidia.com/gpu", description="Extended resource name that GPUs are requested as."
    )
    prestop_s: int = Field(
        default=10,
        ge=0,
        le=300,
        description="Pause before SIGTERM, so that Service endpoints drop the pod before "
        "it stops accepting connections.",
    )
    termination_grace_s: int = Field(
        default=45,
        ge=1,
        le=3600,
        description="Time from shutdown to SIGKILL: the pause plus in-flight requests.",
    )
    progress_deadline_s: int = Field(
        default=600,
        ge=30,
        description="A rollout that makes no progress for this long is reported as failed.",
    )
    min_replicas: int = Field(default=1, ge=1, description="Default HPA minimum per model.")
    max_replicas: int = Field(default=3, ge=1, description="Default HPA maximum per model.")
    target_cpu_utilization: int = Field(
        default=70, ge=1, le=100, description="Default HPA CPU target, % of the request."
    )
    reconcile_interval_s: float = Field(
        default=5.0, gt=0, description="Seconds between two reconciliations."
    )
    resync_s: float = Field(
        default=300.0,
        gt=0,
        description="Re-apply unchanged objects this often, to undo edits made by hand.",
    )
    request_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of one call to the Kubernetes API."
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(
                f"namespace {value!r} must be 1-63 lowercase letters, digits or '-', "
                "starting and ending with a letter or digit"
            )
        return value

    def default_scaling(self) -> ScalingSettings:
        return ScalingSettings(
            min_replicas=self.min_replicas,
            max_replicas=max(self.max_replicas, self.min_replicas),
            target_cpu_utilization=self.target_cpu_utilization,
        )
