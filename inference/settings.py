"""Settings of an inference replica: read once at boot, then passed down."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

METRICS_STARTED_FILE = "pier_started"
"""In the multiprocess directory: when the replica's main process started (unix seconds)."""


class InferenceSettings(BaseSettings):
    """Every field is an environment variable prefixed with ``PIER_INFERENCE_``."""

    model_config = SettingsConfigDict(env_prefix="PIER_INFERENCE_", extra="ignore")

    host: str = Field(
        default="127.0.0.1",
        description="Interface to bind. Loopback by default: expose it deliberately. "
        "0.0.0.0 on a pod whose pod_ip is IPv6 binds every IPv6 address (::).",
    )
    pod_ip: str = Field(
        default="",
        description="The pod's own address (Kubernetes' status.podIP): the host of the "
        "replica URL when replica_url is empty, and the address family to bind.",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port to serve on.")
    listen_fd: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Set by the local pool (`pier up`): an inherited listening socket, the public port "
            "every worker shares, served beside `port` once the pool says so on stdin."
        ),
    )
    control_plane_url: str = Field(
        default="",
        description=(
            "Base URL of the control plane, e.g. http://127.0.0.1:3000. Empty means "
            "standalone: serve the routing table and artifacts the cache dir holds."
        ),
    )
    token: str = Field(
        default="",
        description="Bearer token (role viewer or higher) sent on every call to the control plane.",
    )
    cache_dir: Path = Field(
        default=Path(".pier/inference-cache"),
        description=(
            "Where artifacts (artifacts/<sha256>) and the last applied routing.json are "
            "kept, so a restarted replica serves before the control plane is back."
        ),
    )
    poll_interval_s: float = Field(
        default=0.5, gt=0, description="Seconds between two polls of the routing table."
    )
    redis_url: str = Field(
        default="",
        description=(
            "Redis to subscribe to for routing changes, so they land at once instead of at "
            "the next poll. Empty: polling alone. Redis being down only slows changes down."
        ),
    )
    routing_channel: str = Field(
        default="pier:routing", description="Redis pub/sub channel announcing routing changes."
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description="Largest request body accepted; larger ones get 413 before being read.",
    )
    max_rows_per_request: int = Field(
        default=4096, gt=0, description="Largest batch (first dimension) one request may send."
    )
    replica_url: str = Field(
        default="",
        description="URL reported to the control plane; empty means http://<pod_ip or "
        "host>:<port>, an IPv6 address in brackets.",
    )
    torch_threads: int = Field(
        default=1,
        ge=1,
        description=(
            "torch intra-op threads per worker (torch.set_num_threads). 1: for the small "
            "models a replica serves, extra threads cost more in handoff than they save, "
            "and requests already run in parallel across batches and workers."
        ),
    )
    model_threads: int = Field(
        default=0,
        ge=0,
        le=1024,
        description=(
            "Model calls a worker runs at once (the threads that run them). 0: one per core "
            "this process may use (its CPU affinity). Requests that arrive while every call "
            "runs are gathered into the next one. In a container whose CPUs are a quota "
            "rather than a cpuset, the affinity is the whole node's: set it there (the "
            "Kubernetes orchestrator does)."
        ),
    )
    keep_freed_memory: bool = Field(
        default=True,
        description=(
            "Keep the memory a model call frees for the next call (glibc's malloc with fixed "
            "thresholds: blocks up to 32 MB from the heap, up to 64 MB of free heap kept). "
            "Off, glibc may hand it back after every call and the next call faults it in "
            "again, page by page (inference/execution/malloc.py). "
            "Resident memory is then the peak working set."
        ),
    )
    device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description=(
            "Where the models run: auto (the first GPU when torch sees one, else the CPU), "
            "cpu, cuda or cuda:N. Naming a GPU that torch cannot use stops the replica at "
            "boot with the reason; it never falls back to the CPU quietly."
        ),
    )
    server: Literal["uvicorn", "granian"] = Field(
        default="uvicorn",
        description=(
            "HTTP server of `python -m inference`: uvicorn (httptools; the prediction routes "
            "are answered straight from the connection, inference/http/protocol.py), or "
            "granian (a Rust HTTP server). docs/performance.md compares both."
        ),
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Worker processes per replica, each with every model loaded. 1 by default: "
            "scale out with replicas (one per core or so), which keeps one batching queue "
            "per model per process. More than 1 needs PROMETHEUS_MULTIPROC_DIR; "
            "`python -m inference` makes (and empties) one when it is unset."
        ),
    )
    max_batch_rows: int = Field(
        default=32,
        ge=1,
        description=(
            "Most rows one model call gathers from requests that queued for the same version "
            "while it was busy. 1 turns batching off: every request is its own call."
        ),
    )
    adaptive_batch_rows: bool = Field(
        default=True,
        description=(
            "Learn, per model version, the batch size whose calls cost the least a row, and "
            "gather no more than that (at most max_batch_rows). False: always up to "
            "max_batch_rows. See inference/execution/sizer.py."
        ),
    )
    max_batch_wait_ms: float = Field(
        default=2.0,
        ge=0,
        description=(
            "Longest a queued request waits for others to fill its batch once the model is "
            "free. A request that arrives while the model is idle never waits, and a batch "
            "is not held once as many requests are queued as the load has lately queued "
            "at once (inference/execution/batcher.py)."
        ),
    )
    max_in_flight: int = Field(
        default=0,
        ge=0,
        description=(
            "Most prediction requests one worker holds at once; beyond it a request gets 503 "
            "with Retry-After at once, before its body is read. 0: derived from capacity, "
            "CPU cores x max(2 x max_batch_rows, 256): every model call's batch filled twice "
            "over, and room for the bursts of clients that arrive at random. Set it lower "
            "for a slow model (256 requests of 100 ms are 25 s of work a core), or let "
            "max_queue_s bound them."
        ),
    )
    max_queue_s: float = Field(
        default=10.0,
        ge=0,
        description=(
            "Most seconds of work one worker holds: beyond it a prediction request gets 503 "
            "with Retry-After at once, whatever max_in_flight allows. The work is the "
            "requests held times the worker's recent pace (its busy time per answered "
            "request), so it is the wait a new request would have. Applies from 2 requests "
            "a core up, once the pace is measured. 0: no bound in time. Keep it under "
            "request_timeout_s, or admitted requests time out in the queue."
        ),
    )
    request_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Longest a prediction request waits for its model call, queueing included; past "
            "it the request gets 504 and the replica goes on. A hung call keeps its thread "
            "until the model returns (docs/reliability.md). Batched or not."
        ),
    )
    models: str = Field(
        default="",
        description=(
            "Comma-separated model names this replica serves (on Kubernetes, one Deployment "
            "per model); empty: every model in the routing table."
        ),
    )

    @property
    def model_filter(self) -> frozenset[str]:
        return frozenset(m.strip() for m in self.models.split(",") if m.strip())

    metrics_enabled: bool = Field(
        default=True,
        description=(
            "Record request metrics (Prometheus collectors and the JSON rolling window). "
            "Off only to measure their overhead: /metrics then answers 404."
        ),
    )
    prediction_ttl_s: float = Field(
        default=86_400.0,
        gt=0,
        description=(
            "How long a prediction is kept for ground-truth feedback; feedback after that "
            "gets 410. With Redis, every prediction row costs about 150 bytes there for this "
            "long: size Redis (or lower this) for your request rate."
        ),
    )
    prediction_store_rows: int = Field(
        default=100_000,
        ge=0,
        description=(
            "Without Redis: most prediction rows kept in memory for feedback (oldest dropped "
            "first, about 400 bytes each). 0 records nothing."
        ),
    )
    multiproc_dir: Path | None = Field(
        default=None,
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description=(
            "prometheus_client's multiprocess directory (its own variable, read by it at "
            "import). Set it when a replica runs several worker processes: /metrics then "
            "sums every worker's figures. It must exist and be emptied before the workers start."
        ),
    )
    shadow_queue: int = Field(
        default=256,
        ge=1,
        description=(
            "Most copies of requests waiting for shadow versions; a copy that finds it full is "
            'dropped and counted (pier_shadow_requests_total{result="dropped"}), never waited for.'
        ),
    )
    shadow_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Shadow model calls at once, on threads of their own (not the live path's).",
    )

    api_keys: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Comma-separated API keys for this service's own endpoints (inference/http/auth.py); "
            "empty with no keys file: open. Health checks, /metrics and /feedback/aggregates "
            "stay open for probes and scrapers."
        ),
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="A file of API keys, one a line (a mounted Secret); read once at boot.",
    )

    def api_key_set(self) -> frozenset[str]:
        """Every configured key; empty when the service is open."""
        keys = [k.strip() for k in self.api_keys.get_secret_value().split(",")]
        if self.api_keys_file is not None:
            try:
                lines = self.api_keys_file.read_text().splitlines()
            except OSError as e:
                raise ValueError(
                    f"PIER_INFERENCE_API_KEYS_FILE={self.api_keys_file}: {e.strerror}"
                ) from e
            keys += [line.strip() for line in lines]
        return frozenset(k for k in keys if k and not k.startswith("#"))

    @field_validator("control_plane_url", "replica_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _pod_family(self) -> InferenceSettings:
        if self.host == "0.0.0.0" and _ipv6(self.pod_ip):
            self.host = "::"
        return self

    @property
    def advertised_url(self) -> str:
        """The URL the control plane should use to reach this replica."""
        if self.replica_url:
            return self.replica_url
        host = self.pod_ip or self.host
        return f"http://{f'[{host}]' if _ipv6(host) else host}:{self.port}"

    @property
    def standalone(self) -> bool:
        return not self.control_plane_url


def _ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False
