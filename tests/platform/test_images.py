"""An image classifier declared with preprocess and postprocess in its pier.yaml, pushed with
the CLI beside its labels file: applications send JPEG, PNG or WebP and get labels back, over
/predict (a raw body or base64 in JSON) and v2 (BYTES), and bad images are refused cleanly."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
import tritonclient.http as triton
import yaml
from PIL import Image

from control_plane.settings import PierSettings
from tests.support import zoo
from tests.support.platform import LocalPlatform, local_platform
from tests.support.servers import wait_until

LABELS = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead"]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
RESIZE, CROP, TOP = 72, 64, 3
MOBILENET = next(s for s in zoo.ZOO if s.name == "mobilenet")


@dataclass(frozen=True)
class Classifier:
    platform: LocalPlatform
    artifact: Path

    @property
    def url(self) -> str:
        return self.platform.inference_url


def _manifest(work: Path, name: str, labels_file: str, classes: int = 5) -> Path:
    doc = {
        "model": {
            "name": name,
            "version": "v1",
            "artifact": "classifier.pt",
            "inputs": [
                {
                    "name": "image",
                    "dtype": "float32",
                    "shape": [-1, 3, CROP, CROP],
                    "preprocess": {
                        "image": {"resize": RESIZE, "crop": CROP, "mean": MEAN, "std": STD}
                    },
                }
            ],
            "outputs": [
                {
                    "name": "logits",
                    "dtype": "float32",
                    "shape": [-1, classes],
                    "postprocess": {
                        "classify": {"labels": labels_file, "top_k": TOP, "softmax": True}
                    },
                }
            ],
        }
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classifier]:
    home = tmp_path_factory.mktemp("home")
    work = tmp_path_factory.mktemp("work")
    artifact = work / "classifier.pt"
    zoo.save(MOBILENET, "trace", artifact)
    (work / "labels.txt").write_text("\n".join(LABELS) + "\n")
    _manifest(work, "fish", "labels.txt")
    settings = PierSettings(home=home, database_url=f"sqlite:///{home / 'pier.db'}")
    # scalable: workers sharing the public port, as `make run` serves port 8080
    with local_platform(settings, workdir=work, scalable=True) as platform:
        pushed = platform.pier("push", "fish.yaml")
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        deployed = platform.pier("deploy", "fish", "v1")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        ready = f"{platform.inference_url}/v2/models/fish/ready"
        wait_until(lambda: httpx.get(ready, timeout=10).status_code == 200, timeout=120)
        yield Classifier(platform, artifact)


def _picture(size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels).filter(__import__("PIL.ImageFilter").ImageFilter.SMOOTH)


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def _expected(classifier: Classifier, data: bytes) -> list[dict[str, object]]:
    """What the artifact answers here for these bytes: Pillow's own decode, resize and crop,
    normalised with numpy, then softmax and the top labels."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = image.size
    size = (RESIZE, round(h * RESIZE / w)) if w <= h else (round(w * RESIZE / h), RESIZE)
    image = image.resize(size, Image.Resampling.BILINEAR)
    left, top = round((size[0] - CROP) / 2), round((size[1] - CROP) / 2)
    pixels = np.asarray(image.crop((left, top, left + CROP, top + CROP)), dtype=np.float64) / 255
    chw = ((pixels - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)[None]
    module = torch.jit.load(str(classifier.artifact))
    with torch.inference_mode():
        scores = torch.softmax(module(torch.from_numpy(chw)).double(), dim=-1)[0]
    order = sorted(range(len(LABELS)), key=lambda i: (-float(scores[i]), i))[:TOP]
    return [{"label": LABELS[i], "score": float(scores[i])} for i in order]


def _assert_labels(got: list[dict[str, object]], want: list[dict[str, object]]) -> None:
    assert [e["label"] for e in got] == [e["label"] for e in want]
    assert np.allclose([e["score"] for e in got], [e["score"] for e in want], atol=1e-5)


@pytest.mark.parametrize(
    ("fmt", "media"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_a_raw_image_body_is_answered_with_labels(
    classifier: Classifier, fmt: str, media: str
) -> None:
    data = _encoded(_picture((120, 90), seed=1), fmt)
    r = httpx.post(
        f"{classifier.url}/predict",
        content=data,
        headers={"Content-Type": media, "X-Pier-Model": "fish"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == "v1" and len(body["outputs"]) == 1
    _assert_labels(body["outputs"][0], _expected(classifier, data))


def test_json_carries_one_base64_image_per_row(classifier: Classifier) -> None:
    images = [_encoded(_picture((80 + 10 * i, 100), seed=i), "PNG") for i in range(3)]
    rows = [{"b64": base64.b64encode(d).decode()} for d in images]
    with httpx.Client(timeout=30) as c:
        named = c.post(
            f"{classifier.url}/predict", json={"model": "fish", "inputs": {"image": rows}}
        )
        bare = c.post(f"{classifier.url}/predict", json={"model": "fish", "inputs": rows})
    assert named.status_code == 200, named.text
    assert named.json()["outputs"] == bare.json()["outputs"]
    for got, data in zip(named.json()["outputs"], images, strict=True):
        _assert_labels(got, _expected(classifier, data))


def test_v2_takes_bytes_and_answers_triton_classification(classifier: Classifier) -> None:
    data = [
        _encoded(_picture((64, 64), seed=7), "JPEG"),
        _encoded(_picture((200, 150), seed=8), "PNG"),
    ]
    client = triton.InferenceServerClient(classifier.url.removeprefix("http://"))
    try:
        meta = client.get_model_metadata("fish")
        assert meta["inputs"][0]["datatype"] == "BYTES"
        item = triton.InferInput("image", [2], "BYTES")
        item.set_data_from_numpy(np.array(data, dtype=object), binary_data=True)
        result = client.infer("fish", [item], outputs=[triton.InferRequestedOutput("logits")])
        answer = result.as_numpy("logits")
    finally:
        client.close()
    assert answer.shape == (2, TOP)
    for row, d in zip(answer, data, strict=True):
        parsed = [e.decode().split(":", 2) for e in row]
        want = _expected(classifier, d)
        assert [p[2] for p in parsed] == [w["label"] for w in want]
        assert [LABELS[int(p[1])] for p in parsed] == [w["label"] for w in want]
        assert np.allclose([float(p[0]) for p in parsed], [w["score"] for w in want], atol=1e-5)


def _bomb() -> bytes:
    """A valid PNG a few hundred bytes long that declares 30,000 x 30,000 pixels."""
    small = io.BytesIO()
    Image.new("L", (1, 1)).save(small, format="PNG")
    png = bytearray(small.getvalue())
    ihdr = png.index(b"IHDR")
    png[ihdr + 4 : ihdr + 12] = struct.pack(">II", 30_000, 30_000)
    crc = zlib.crc32(bytes(png[ihdr : ihdr + 17]))
    png[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(png)


@pytest.mark.parametrize(
    ("body", "media", "reason"),
    [
        (b"certainly not an image", "image/png", "expected a JPEG, PNG or WebP image"),
        (None, "image/gif", "got GIF"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png", "expected a JPEG, PNG or WebP image"),
        (_bomb(), "image/png", "900000000 pixels"),
    ],
    ids=["garbage", "gif", "truncated-png", "decompression-bomb"],
)
def test_bad_images_are_refused_with_the_reason(
    classifier: Classifier, body: bytes | None, media: str, reason: str
) -> None:
    if body is None:
        body = _encoded(_picture((32, 32), seed=3), "GIF")
    r = httpx.post(
        f"{classifier.url}/predict",
        content=body,
        headers={"Content-Type": media, "X-Pier-Model": "fish"},
        timeout=30,
    )
    assert r.status_code == 422, r.text
    assert reason in r.json()["error"]["message"]


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_the_body_limit_holds_for_images(classifier: Classifier, chunked: bool) -> None:
    """17 MiB, over the workers' 16 MiB: a 413 on the public port, never a 503 to retry."""
    body = b"\xff\xd8" + b"\x00" * (17 * 1024 * 1024)
    content = iter([body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    r = httpx.post(
        f"{classifier.url}/predict",
        content=content,
        headers={"Content-Type": "image/jpeg", "X-Pier-Model": "fish"},
        timeout=60,
    )
    assert r.status_code == 413, r.text
    assert "expected a body of at most 16777216 bytes" in r.json()["error"]["message"]


def test_a_labels_file_that_does_not_fit_is_refused_at_push(classifier: Classifier) -> None:
    work = classifier.platform.workdir
    (work / "short.txt").write_text("tench\ngoldfish\n")
    _manifest(work, "short", "short.txt")
    refused = classifier.platform.pier("push", "short.yaml")
    assert refused.returncode != 0
    assert "2 labels for 5 classes; give one per class" in refused.stdout + refused.stderr
    _manifest(work, "missing", "nowhere.txt")
    refused = classifier.platform.pier("push", "missing.yaml")
    assert "labels file 'nowhere.txt' not found" in refused.stdout + refused.stderr
