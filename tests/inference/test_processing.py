"""Image bytes to model inputs and classifier outputs to labels, on images Pillow makes here:
decoding, resizing, cropping and normalising against references computed another way."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import orjson
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from inference.errors import InvalidInput
from inference.processing.classify import top_k
from inference.processing.image import ImageSteps, decode_image

IMAGENET = ImageSteps(256, 224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
RAW = ImageSteps(None, None)


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def photo(width: int, height: int, seed: int = 7) -> Image.Image:
    """Smooth gradients plus noise, so a resize has something to interpolate."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    noisy = base + rng.normal(0, 20, base.shape)
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


def normalised(rgb: np.ndarray, steps: ImageSteps) -> np.ndarray:
    """The reference normalisation: float64 arithmetic on an (H, W, 3) uint8 array."""
    scaled = rgb.astype(np.float64) / 255.0
    return ((scaled - np.array(steps.mean)) / np.array(steps.std)).transpose(2, 0, 1)


# --- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params"), [("PNG", {}), ("JPEG", {"quality": 95}), ("WEBP", {"lossless": True})]
)
def test_each_accepted_format_decodes_to_chw_float32(fmt: str, params: dict[str, object]) -> None:
    img = photo(64, 48)
    got = decode_image(encode(img, fmt, **params), RAW)
    assert got.shape == (3, 48, 64)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    expected = np.asarray(Image.open(io.BytesIO(encode(img, fmt, **params))).convert("RGB"))
    np.testing.assert_array_equal(got, normalised(expected, RAW).astype(np.float32))


def test_lossless_pixels_come_back_exactly_scaled_to_unit_range() -> None:
    img = photo(33, 21)
    got = decode_image(encode(img, "PNG"), RAW)
    expected = np.asarray(img).transpose(2, 0, 1).astype(np.float64) / 255.0
    np.testing.assert_array_equal(got, expected.astype(np.float32))
    assert got.min() >= 0.0 and got.max() <= 1.0


def test_resize_and_centre_crop_match_pillow_and_numpy_reference() -> None:
    data = encode(photo(640, 480), "JPEG", quality=90)
    got = decode_image(data, IMAGENET)
    assert got.shape == (3, 224, 224)
    # Shorter side 480 -> 256, longer 640 -> round(640 * 256 / 480) = 341; crop offsets
    # round((341 - 224) / 2) = 58 and (256 - 224) / 2 = 16.
    rgb = Image.open(io.BytesIO(data)).convert("RGB")
    resized = np.asarray(rgb.resize((341, 256), Image.Resampling.BILINEAR))
    expected = normalised(resized[16 : 16 + 224, 58 : 58 + 224], IMAGENET)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_portrait_keeps_its_aspect() -> None:
    got = decode_image(encode(photo(480, 640), "PNG"), ImageSteps(256, None))
    assert got.shape == (3, 341, 256)


def test_small_image_is_scaled_up_to_the_resize() -> None:
    got = decode_image(encode(photo(100, 50), "PNG"), ImageSteps(64, 32))
    assert got.shape == (3, 32, 32)


def test_solid_colour_normalises_to_the_exact_constant_per_channel() -> None:
    colour = (255, 128, 0)
    got = decode_image(encode(Image.new("RGB", (300, 260), colour), "PNG"), IMAGENET)
    assert got.shape == (3, 224, 224)
    for channel, value in enumerate(colour):
        mean, std = IMAGENET.mean[channel], IMAGENET.std[channel]
        expected = np.float32((value / 255.0 - mean) / std)
        assert (got[channel] == expected).all(), (channel, got[channel][0, 0], expected)


def test_rgba_png_drops_alpha_and_keeps_colour() -> None:
    img = Image.new("RGBA", (20, 10), (10, 20, 30, 0))
    got = decode_image(encode(img, "PNG"), RAW)
    assert got.shape == (3, 10, 20)
    np.testing.assert_array_equal(
        got[:, 0, 0], np.array([10 / 255, 20 / 255, 30 / 255], dtype=np.float32)
    )


@pytest.mark.parametrize("transparency", [None, 0, bytes([0, 128, 255, 64])])
def test_palette_png_decodes_to_its_colours(transparency: int | bytes | None) -> None:
    img = Image.new("P", (8, 4))
    img.putpalette([200, 100, 50, 10, 20, 30, 0, 255, 0, 9, 9, 9])
    img.putdata([i % 4 for i in range(32)])
    params = {} if transparency is None else {"transparency": transparency}
    data = encode(img, "PNG", **params)
    assert Image.open(io.BytesIO(data)).info.get("transparency") == transparency
    got = decode_image(data, RAW)
    np.testing.assert_array_equal(
        got[:, 0, :4] * 255, np.array([[200, 10, 0, 9], [100, 20, 255, 9], [50, 30, 0, 9]])
    )


@pytest.mark.parametrize(("mode", "fmt"), [("L", "PNG"), ("L", "JPEG"), ("LA", "PNG")])
def test_grayscale_becomes_three_equal_channels(mode: str, fmt: str) -> None:
    img = Image.new(mode, (12, 9), 77 if mode == "L" else (77, 255))
    got = decode_image(encode(img, fmt), RAW)
    assert got.shape == (3, 9, 12)
    assert (got == np.float32(77 / 255)).all()


def test_sixteen_bit_grayscale_keeps_its_high_byte() -> None:
    values = np.array([[0, 256 * 100, 65535]], dtype=np.uint16)
    got = decode_image(encode(Image.fromarray(values), "PNG"), RAW)
    np.testing.assert_array_equal(got[0, 0], np.array([0, 100 / 255, 1], dtype=np.float32))


def test_cmyk_jpeg_is_converted() -> None:
    got = decode_image(encode(Image.new("CMYK", (16, 16), (0, 0, 0, 0)), "JPEG"), RAW)
    assert got.shape == (3, 16, 16)
    assert got.min() > 0.95  # no ink is white


def test_multi_picture_jpeg_is_accepted() -> None:
    data = encode(photo(40, 30), "MPO", save_all=True, append_images=[photo(40, 30, seed=1)])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert decode_image(data, RAW).shape == (3, 30, 40)


def test_malformed_multi_picture_header_never_escapes_as_a_warning() -> None:
    img = photo(40, 30)
    data = bytearray(encode(img, "MPO", save_all=True, append_images=[img]))
    index = data.index(b"MPF\x00")
    data[index + 8 : index + 12] = b"\xff\xff\xff\x7f"  # the MP index's directory offset
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidInput, match="malformed MPO"):
            decode_image(bytes(data), RAW)


def test_large_jpeg_is_decoded_at_a_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: object) -> object:
        answer = original(self, mode, size)  # type: ignore[arg-type]
        decoded.append(self.size)
        return answer

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    data = encode(photo(2048, 1536), "JPEG", quality=90)
    got = decode_image(data, IMAGENET)
    # 1536 // 256 = 6, so the decoder scales by 1/4: the shorter side stays >= 256.
    assert decoded == [(512, 384)]
    assert got.shape == (3, 224, 224)
    full = Image.open(io.BytesIO(data)).convert("RGB").resize((341, 256), Image.Resampling.BILINEAR)
    expected = normalised(np.asarray(full)[16:240, 58:282], IMAGENET)
    assert np.abs(got - expected).mean() < 0.05


def test_crop_larger_than_the_image_is_refused_with_both_sizes() -> None:
    with pytest.raises(InvalidInput, match=r"100x80 is smaller than the 224x224"):
        decode_image(encode(photo(100, 80), "PNG"), ImageSteps(None, 224))
    with pytest.raises(InvalidInput, match=r"640x480 resized to 133x100 is smaller than the 224"):
        decode_image(encode(photo(640, 480), "PNG"), ImageSteps(100, 224))


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_other_formats_are_refused_by_name(fmt: str, name: str) -> None:
    with pytest.raises(InvalidInput, match=rf"expected a JPEG, PNG or WebP image, got {name}$"):
        decode_image(encode(photo(20, 20), fmt), RAW)


@pytest.mark.parametrize(
    "body", [b"", b"not an image at all", np.random.default_rng(3).bytes(4096)]
)
def test_non_image_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"^image: expected a JPEG, PNG or WebP image, got"):
        decode_image(body, RAW)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = encode(photo(200, 150), fmt)
    with pytest.raises(InvalidInput, match="broken or truncated"):
        decode_image(data[: len(data) // 2], RAW)


def test_corrupted_bodies_raise_nothing_but_invalid_input() -> None:
    rng = np.random.default_rng(11)
    originals = [encode(photo(48, 32), fmt) for fmt in ("PNG", "JPEG", "WEBP")]
    for attempt in range(300):
        body = bytearray(originals[attempt % 3])
        for at in rng.integers(0, len(body), size=int(rng.integers(1, 8))):
            body[at] = int(rng.integers(0, 256))
        try:
            got = decode_image(bytes(body), ImageSteps(40, 24))
        except InvalidInput:
            continue
        assert got.shape == (3, 24, 24)


def png_declaring(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR (and its CRC) is patched to declare another size."""
    data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small baseline JPEG whose start-of-frame segment declares another size."""
    data = bytearray(encode(Image.new("RGB", (8, 8)), "JPEG"))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(self: ImageFile.ImageFile) -> None:
        raise AssertionError("a refused image must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.mark.parametrize("declaring", [png_declaring, jpeg_declaring])
def test_decompression_bomb_is_refused_from_its_header(
    monkeypatch: pytest.MonkeyPatch, declaring: object
) -> None:
    assert callable(declaring)
    data = declaring(30_000, 30_000)
    assert len(data) < 2_000
    forbid_decoding(monkeypatch)
    with pytest.raises(InvalidInput, match=r"declares 30000x30000 \(900000000 pixels\)"):
        decode_image(data, IMAGENET)


def test_size_pillow_would_only_warn_about_is_refused_without_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forbid_decoding(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidInput, match="100000000 pixels"):
            decode_image(png_declaring(10_000, 10_000), IMAGENET)
    assert caught == []


def test_max_pixels_is_the_caller_s_to_lower() -> None:
    data = encode(photo(100, 100), "PNG")
    assert decode_image(data, RAW, max_pixels=10_000).shape == (3, 100, 100)
    with pytest.raises(InvalidInput, match="over the limit of 9999 pixels"):
        decode_image(data, RAW, max_pixels=9_999)


def test_extreme_aspect_ratio_is_refused_before_resizing() -> None:
    with pytest.raises(InvalidInput, match=r"1x20000 resized to a shorter side of 256"):
        decode_image(encode(Image.new("L", (1, 20_000)), "PNG"), ImageSteps(256, None))


def test_image_steps_are_checked_and_made_hashable() -> None:
    steps = ImageSteps(8, 4, mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])  # type: ignore[arg-type]
    assert steps.mean == (0.5, 0.5, 0.5) and hash(steps)
    with pytest.raises(ValueError, match="resize must be at least 1"):
        ImageSteps(0, None)
    with pytest.raises(ValueError, match="std must not be zero"):
        ImageSteps(None, None, std=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="one value per RGB channel"):
        ImageSteps(None, None, mean=(0.5,))  # type: ignore[arg-type]


# --- top-k ----------------------------------------------------------------------------------


def test_top_k_orders_by_score_with_labels() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]], dtype=np.float32)
    got = top_k(scores, ["cat", "dog", "fox"], k=2, softmax=False)
    assert [[entry["label"] for entry in row] for row in got] == [["dog", "fox"], ["cat", "fox"]]
    assert got[0][0]["score"] == float(np.float32(0.7))
    assert all(type(entry["score"]) is float for row in got for entry in row)
    assert orjson.loads(orjson.dumps(got)) == got


def test_softmax_is_stable_and_sums_to_one() -> None:
    scores = np.array([[1000.0, 1001.0, 1002.0], [-5.0, 0.0, 5.0]])
    got = top_k(scores, ["a", "b", "c"], k=3, softmax=True)
    for row, logits in zip(got, scores, strict=True):
        assert sum(entry["score"] for entry in row) == pytest.approx(1.0, abs=1e-12)  # type: ignore[misc]
        expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        assert [entry["score"] for entry in row] == pytest.approx(sorted(expected, reverse=True))
    assert got[0][0] == {"label": "c", "score": pytest.approx(0.6652409557748219)}


def test_k_larger_than_classes_gives_every_class() -> None:
    got = top_k(np.array([[0.2, 0.8]]), ["no", "yes"], k=10, softmax=False)
    assert got == [[{"label": "yes", "score": 0.8}, {"label": "no", "score": 0.2}]]


def test_classes_without_a_label_are_named_by_index() -> None:
    got = top_k(np.array([[0.1, 0.2, 0.3, 0.4]]), ["zero", "one"], k=4, softmax=False)
    assert [entry["label"] for entry in got[0]] == ["3", "2", "one", "zero"]


def test_ties_keep_the_lower_class_index_first() -> None:
    got = top_k(np.array([[0.1, 0.5, 0.5, 0.5, 0.5]]), [], k=2, softmax=False)
    assert [entry["label"] for entry in got[0]] == ["1", "2"]
    got = top_k(np.ones((1, 6)), [], k=6, softmax=True)
    assert [entry["label"] for entry in got[0]] == ["0", "1", "2", "3", "4", "5"]


def test_float16_scores_are_reported_as_their_exact_value() -> None:
    scores = np.array([[0.1, 0.3, 0.2]], dtype=np.float16)
    got = top_k(scores, ["a", "b", "c"], k=1, softmax=False)
    assert got == [[{"label": "b", "score": float(np.float16(0.3))}]]


def test_nan_ranks_last() -> None:
    got = top_k(np.array([[np.nan, 0.1, 0.2]]), [], k=3, softmax=False)
    assert [entry["label"] for entry in got[0]] == ["2", "1", "0"]


def test_thousand_classes_match_a_full_stable_sort() -> None:
    rng = np.random.default_rng(5)
    # Rounded to a few levels so most rows hold ties around the k-th score.
    scores = rng.normal(size=(64, 1000)).round(1)
    labels = [f"class {i}" for i in range(1000)]
    got = top_k(scores, labels, k=5, softmax=False)
    for row, values in zip(got, scores, strict=True):
        order = np.argsort(-values, kind="stable")[:5]
        assert row == [{"label": labels[i], "score": float(values[i])} for i in order]


def test_top_k_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_k(np.ones((1, 3)), [], k=0, softmax=False)
    with pytest.raises(ValueError, match=r"must be \(rows, classes\)"):
        top_k(np.ones(3), [], k=1, softmax=False)
    assert top_k(np.ones((2, 0)), [], k=3, softmax=False) == [[], []]


# --- labels ---------------------------------------------------------------------------------
