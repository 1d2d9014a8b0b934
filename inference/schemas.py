"""Typed shapes of what crosses the service's boundaries (see docs/contract.md)."""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue

DType: TypeAlias = Literal[
    "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"
]
ArtifactFormat: TypeAlias = Literal["torchscript", "torch_export"]

# Open Inference Protocol datatype names, one per contract dtype.
V2_DATATYPES: dict[str, str] = {
    "float32": "FP32",
    "float64": "FP64",
    "float16": "FP16",
    "bfloat16": "BF16",
    "int64": "INT64",
    "int32": "INT32",
    "int16": "INT16",
    "int8": "INT8",
    "uint8": "UINT8",
    "bool": "BOOL",
}
DTYPES_BY_V2: dict[str, str] = {v: k for k, v in V2_DATATYPES.items()}


class ImagePreprocess(BaseModel):
    model_config = ConfigDict(frozen=True)

    resize: int | None = Field(default=None, ge=1)
    crop: int | None = Field(default=None, ge=1)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


class Preprocess(BaseModel):
    """An input the client sends as encoded images (inference/processing/image.py)."""

    model_config = ConfigDict(frozen=True)

    image: ImagePreprocess


class Classify(BaseModel):
    model_config = ConfigDict(frozen=True)

    labels: list[str] = Field(min_length=1)
    top_k: int = Field(default=5, ge=1)
    softmax: bool = False


class Postprocess(BaseModel):
    """An output answered as its top labels (inference/processing/classify.py)."""

    model_config = ConfigDict(frozen=True)

    classify: Classify


class TensorSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    dtype: DType
    shape: list[int] = Field(description="-1 marks a free dimension (the batch).")
    preprocess: Preprocess | None = None
    postprocess: Postprocess | None = None

    def describe(self) -> str:
        """Human form used in error messages, e.g. ``[-1, 4] float32``."""
        return f"[{', '.join(str(d) for d in self.shape)}] {self.dtype}"


class VersionBatching(BaseModel):
    """The version's own batching (its pier.yaml); None keeps the replica's setting."""

    model_config = ConfigDict(frozen=True)

    max_rows: int | None = Field(default=None, ge=1)
    max_wait_ms: float | None = Field(default=None, ge=0)


class VersionSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    format: ArtifactFormat
    inputs: list[TensorSpec] = Field(min_length=1)
    outputs: list[TensorSpec] = Field(min_length=1)
    batching: VersionBatching = Field(default_factory=VersionBatching)


class ModelRoute(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    weights: dict[str, int] = Field(default_factory=dict)
    versions: list[VersionSpec] = Field(default_factory=list)
    # Shadow versions: version -> percent of requests mirrored to it (answers never returned).
    shadow: dict[str, int] = Field(default_factory=dict)
    # Sticky routing's slot table: [version, count] runs in slot order; [] -> rendezvous.
    slots: list[tuple[str, int]] = Field(default_factory=list)


class RoutingTable(BaseModel):
    model_config = ConfigDict(frozen=True)

    revision: int = Field(ge=0)
    models: list[ModelRoute] = Field(default_factory=list)


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """Body of every error of the native API: ``{"error": {"type", "message"}}``."""

    error: ErrorDetail


class V2ErrorBody(BaseModel):
    """Body of every error of the Open Inference Protocol routes."""

    error: str


class PredictRequest(BaseModel):
    """Documents /predict's body; the hot path parses it with orjson (inference/http/native.py)."""

    model: str
    inputs: JsonValue = Field(description="An array, or an object input name -> array.")
    version: str | None = None
    key: str | None = None


class PredictResponse(BaseModel):
    model: str
    version: str
    outputs: JsonValue
    prediction_id: str


class ServedVersion(BaseModel):
    version: str
    sha256: str
    format: ArtifactFormat
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


class ServedModel(BaseModel):
    name: str
    weights: dict[str, int]
    versions: list[ServedVersion]


class ModelsResponse(BaseModel):
    revision: int | None
    ready: bool
    models: list[ServedModel]


class V2Tensor(BaseModel):
    """One tensor of a v2 request or response (JSON form)."""

    name: str
    datatype: str
    shape: list[int]
    data: list[object] | None = None
    parameters: dict[str, object] | None = None


class V2RequestedOutput(BaseModel):
    name: str
    parameters: dict[str, object] | None = None


class V2InferRequest(BaseModel):
    id: str | None = None
    inputs: list[V2Tensor]
    outputs: list[V2RequestedOutput] | None = None
    parameters: dict[str, object] | None = None


class V2InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[V2Tensor]


class V2TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class FeedbackItem(BaseModel):
    """Ground truth for one prediction: a class index for a classifier, a number for a
    regressor; a list with one label per row when the prediction had several rows."""

    prediction_id: str = Field(description="The prediction_id /predict returned.")
    label: JsonValue


class FeedbackBatch(BaseModel):
    items: list[FeedbackItem] = Field(min_length=1, max_length=10_000)


FeedbackResult: TypeAlias = Literal["accepted", "unknown", "expired", "duplicate", "invalid"]


class FeedbackOutcome(BaseModel):
    prediction_id: str
    result: FeedbackResult
    message: str | None = Field(default=None, description="Why it was not accepted.")
    model: str | None = None
    version: str | None = None


class FeedbackBatchResponse(BaseModel):
    counts: dict[str, int] = Field(description="Items per result.")
    results: list[FeedbackOutcome] = Field(description="One per item, in order.")


class BucketOut(BaseModel):
    model: str
    version: str
    start: int = Field(description="Unix seconds: start of the bucket of prediction time.")
    labelled: int
    correct: int
    regressed: int
    abs_error: float
    sq_error: float


class BookOut(BaseModel):
    epoch: str = Field(description="Identifies one worker process's tallies.")
    revision: int
    buckets: list[BucketOut]


class FeedbackAggregates(BaseModel):
    bucket_s: int
    retention_s: int
    books: list[BookOut]


class VersionWindow(BaseModel):
    """One model version over the window of the JSON /metrics summary."""

    model: str
    version: str
    requests: int
    errors: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    errors_by_type: dict[str, int]
    labelled: int = Field(description="Rows predicted in the window that have a label.")
    accuracy: float | None
    mae: float | None
    rmse: float | None


class PredictionStoreOut(BaseModel):
    kind: Literal["local", "redis", "off"]
    entries: int
    rows: int
    capacity_rows: int | None
    ttl_s: float
    pending_writes: int
    dropped: int


class MetricsSummary(BaseModel):
    window_s: int
    generated_at: float = Field(description="Unix seconds.")
    workers: int
    models: list[VersionWindow]
    prediction_store: PredictionStoreOut
