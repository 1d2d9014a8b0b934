"""Image bytes to a model's input array: decode, resize, centre-crop and normalise. Anything
but a JPEG, PNG or WebP, or one too large, is refused from its header before a pixel is decoded."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from inference.errors import InvalidInput

MAX_PIXELS = 50_000_000
FORMATS = ("JPEG", "PNG", "WEBP")
# The JPEG plugin opens a multi-picture JPEG (most phone cameras write one) as MPO.
ACCEPTED = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
EXPECTED = "image: expected a JPEG, PNG or WebP image"

# decode_image refuses by the declared size itself, before decoding. Pillow's own check would
# only warn between its limit and twice it, through the process-wide warnings machinery.
Image.MAX_IMAGE_PIXELS = None

# What Pillow raises on a broken, truncated or hostile body.
PILLOW_ERRORS: tuple[type[BaseException], ...] = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    Image.DecompressionBombError,
    # Raised only where a warnings filter turns them into errors (a malformed MPO header, say).
    Image.DecompressionBombWarning,
    UserWarning,
)

# First bytes of formats we refuse, only to name them in the answer.
_MAGIC = (
    (0, b"GIF8", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (4, b"ftypavif", "AVIF"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
)


@dataclass(frozen=True)
class ImageSteps:
    """How one model wants its images: shorter side resized, centre crop, per-channel
    normalisation of values scaled to [0, 1]. None skips the resize or the crop."""

    resize: int | None
    crop: int | None
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        for name in ("resize", "crop"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"image steps: {name} must be at least 1, got {value}")
        mean = tuple(float(x) for x in self.mean)
        std = tuple(float(x) for x in self.std)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError("image steps: mean and std take one value per RGB channel")
        if any(x == 0.0 for x in std):
            raise ValueError(f"image steps: std must not be zero, got {std}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)


def decode_image(data: bytes, steps: ImageSteps, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A C-contiguous float32 array shaped (3, H, W); InvalidInput for anything that is not a
    JPEG, PNG or WebP, is broken, declares over max_pixels, or is smaller than the crop."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            if img.format not in ACCEPTED:
                raise InvalidInput(f"{EXPECTED}, got {img.format}")
            pixels = np.asarray(_transform(img, steps, max_pixels))
    except UnidentifiedImageError:
        raise InvalidInput(f"{EXPECTED}, got {_sniff(data)}") from None
    except PILLOW_ERRORS as exc:
        raise InvalidInput(f"{EXPECTED}, got a broken or truncated one: {exc}") from exc
    return _normalise(pixels, steps)


def _transform(img: Image.Image, steps: ImageSteps, max_pixels: int) -> Image.Image:
    """Check the declared geometry, then decode (scaled down where JPEG allows), resize, crop."""
    width, height = img.size
    if width < 1 or height < 1 or width * height > max_pixels:
        raise InvalidInput(
            f"image: declares {width}x{height} ({width * height} pixels), "
            f"over the limit of {max_pixels} pixels"
        )
    size = _resized(img.size, steps.resize, max_pixels)
    box = _crop_box(img.size, size, steps.crop)
    region: tuple[float, float, float, float] = (0, 0, width, height)
    if size != img.size and isinstance(img, JpegImagePlugin.JpegImageFile):
        # The decoder scales by 1/2, 1/4 or 1/8 while the shorter side stays >= the target.
        drafted = img.draft("RGB", (min(size), min(size)))
        if drafted is not None:
            region = drafted[1]
    img.load()
    rgb = img if img.mode == "RGB" else _to_rgb(img)
    if size != rgb.size or region != (0, 0, *rgb.size):
        rgb = rgb.resize(size, Image.Resampling.BILINEAR, box=region)
    return rgb if box is None else rgb.crop(box)


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB, alpha dropped; 16-bit grey keeps its high byte (Pillow's conversion would clip)."""
    # Alpha is dropped anyway; per-entry palette alpha would only make Pillow warn.
    img.info.pop("transparency", None)
    if img.mode.startswith("I"):
        grey = (np.asarray(img) >> 8).clip(0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    return img.convert("RGB")


def _resized(size: tuple[int, int], target: int | None, max_pixels: int) -> tuple[int, int]:
    """The size with its shorter side at ``target`` and the aspect kept (other side rounded)."""
    width, height = size
    if target is None or min(width, height) == target:
        return size
    other = max(1, round(max(width, height) * target / min(width, height)))
    if other * target > max_pixels:
        raise InvalidInput(
            f"image: {width}x{height} resized to a shorter side of {target} would be "
            f"{other * target} pixels, over the limit of {max_pixels} pixels"
        )
    return (target, other) if width <= height else (other, target)


def _crop_box(
    declared: tuple[int, int], size: tuple[int, int], crop: int | None
) -> tuple[int, int, int, int] | None:
    """The centred crop x crop box in an image of ``size`` (None when no crop is declared)."""
    if crop is None:
        return None
    width, height = size
    if width < crop or height < crop:
        resized = "" if size == declared else f" resized to {width}x{height}"
        raise InvalidInput(
            f"image: {declared[0]}x{declared[1]}{resized} is smaller than "
            f"the {crop}x{crop} centre crop"
        )
    left, top = round((width - crop) / 2), round((height - crop) / 2)
    return left, top, left + crop, top + crop


def _normalise(pixels: np.ndarray, steps: ImageSteps) -> np.ndarray:
    """(x / 255 - mean) / std per channel, (H, W, 3) uint8 to (3, H, W) float32."""
    table = _table(steps.mean, steps.std)
    height, width, _ = pixels.shape
    out = np.empty((3, height, width), dtype=np.float32)
    for channel in range(3):
        np.take(table[channel], pixels[:, :, channel], out=out[channel])
    return out


@lru_cache(maxsize=64)
def _table(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """Each channel's 256 normalised values, computed in float64 and rounded once to float32."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    table = (levels[None, :] - np.array(mean)[:, None]) / np.array(std)[:, None]
    return table.astype(np.float32)


def _sniff(data: bytes) -> str:
    """A name for a body Pillow did not open as one of FORMATS."""
    for offset, magic, name in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    return f"a body of {len(data)} bytes that is not one"
