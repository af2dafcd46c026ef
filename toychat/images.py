"""Synthetic images: the course's stand-ins for "known prohibited" pictures.

**No real abuse material is used anywhere in this course.**  Every image here
is drawn by code: a coloured gradient with a few random shapes and a little
texture, fully determined by a seed.  Lessons 06-07 call one seeded set the
*synthetic stand-in "known prohibited" set* (the role a hash list such as
NCMEC's or the IWF's plays in real scanning) and other seeds *innocent
look-alikes*: images of the same kind that are not on the list.

The module also applies the edits people make to pictures they share —
resize, crop, a small rotation, JPEG recompression, brightness and contrast,
noise, a border, a text caption — so that lessons can measure how robust a
perceptual hash is to each.

All functions are deterministic: the same seed gives the same pixels.
Gradients and noise are made with numpy in chunks and shapes drawn with
Pillow: thousands of 128×128 images per second on one core.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw

from .errors import ImageTooLarge

__all__ = [
    "IMAGE_SIZE",
    "STAND_IN_LABEL",
    "generate_images",
    "generate_batches",
    "stand_in_set",
    "lookalikes",
    "stand_in_batches",
    "lookalike_batches",
    "EDITS",
    "apply_edit",
    "encode_png",
    "decode_png",
    "MAX_PIXELS",
]

#: Most pixels a picture may have to be decoded (4096 × 4096, far above any picture a lesson
#: sends); a larger one is refused from its header, before its pixels are unpacked.
MAX_PIXELS = 4096 * 4096
#: Width and height of generated images, in pixels.
IMAGE_SIZE = 128
#: The label every stand-in carries wherever it is shown.
STAND_IN_LABEL = "SYNTHETIC STAND-IN (generated shapes, not real material)"
#: Seed offsets that keep the stand-in set and the look-alikes apart.
_STAND_IN_STREAM = 0x5EED_0001
_LOOKALIKE_STREAM = 0x5EED_0002
_SHAPES_PER_IMAGE = 6
_CHUNK = 512


def generate_images(n: int, seed: int, *, size: int = IMAGE_SIZE) -> np.ndarray:
    """``n`` synthetic RGB images as a ``(n, size, size, 3)`` uint8 array.

    Each image: a two-colour linear gradient at a random angle, six random
    shapes (ellipses and rectangles, drawn with Pillow) in random colours, and
    faint texture noise.  The same ``seed`` always gives the same pixels.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    start = 0
    for batch in generate_batches(n, seed, size=size):
        out[start : start + len(batch)] = batch
        start += len(batch)
    return out


def generate_batches(n: int, seed: int, *, size: int = IMAGE_SIZE) -> Iterator[np.ndarray]:
    """The images :func:`generate_images` returns, up to 512 at a time, the same pixels in the same order.

    For a study that needs only something computed from each image (a hash), not thousands of
    images at once: memory stays at one batch.  Each batch is a view of one reused buffer, valid
    until the next is asked for; copy it to keep it.

    >>> batches = list(map(np.copy, generate_batches(600, seed=3, size=16)))
    >>> [len(batch) for batch in batches]
    [512, 88]
    >>> bool(np.array_equal(np.concatenate(batches), generate_images(600, seed=3, size=16)))
    True
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    rng = np.random.default_rng(seed)
    buffer = np.empty((min(n, _CHUNK), size, size, 3), dtype=np.uint8)
    gradient = np.empty((size, size, 3), dtype=np.uint8)
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    ys, xs = np.meshgrid(axis, axis, indexing="ij")
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        angle = rng.uniform(0, 2 * np.pi, m).astype(np.float32)
        c0 = rng.uniform(0, 255, (m, 3)).astype(np.float32)
        c1 = rng.uniform(0, 255, (m, 3)).astype(np.float32)
        # cos and sin by the C library, not numpy's float32 vector code, whose last bit differs
        # between CPUs (SSE, AVX2, AVX-512) and would move gradient pixels by one grey level
        cos = np.array([math.cos(a) for a in angle.tolist()], dtype=np.float32)
        sin = np.array([math.sin(a) for a in angle.tolist()], dtype=np.float32)
        shapes = rng.uniform(0, 1, (m, _SHAPES_PER_IMAGE, 5))  # cx, cy, rx, ry, kind
        colours = rng.integers(0, 256, (m, _SHAPES_PER_IMAGE, 3))
        noise = rng.integers(-6, 7, (m, size, size, 3), dtype=np.int16)
        for i in range(m):
            # one image's gradient at a time, one colour channel at a time: the same float32
            # arithmetic, bit for bit, as broadcasting over a whole chunk's (m, size, size, 3),
            # without its 100 MB temporaries or numpy's slow inner loop over 3 channels
            t = cos[i] * xs + sin[i] * ys
            t = (t - t.min(keepdims=True)) / (np.ptp(t, keepdims=True) + 1e-6)
            step = c1[i] - c0[i]
            for channel in range(3):
                gradient[..., channel] = c0[i, channel] + step[channel] * t  # truncated to uint8
            picture = Image.fromarray(gradient)
            draw = ImageDraw.Draw(picture)
            for (cx, cy, rx, ry, kind), colour in zip(shapes[i], colours[i], strict=True):
                cx, cy = (0.1 + 0.8 * cx) * size, (0.1 + 0.8 * cy) * size
                rx, ry = (0.06 + 0.24 * rx) * size, (0.06 + 0.24 * ry) * size
                box = (cx - rx, cy - ry, cx + rx, cy + ry)
                (draw.ellipse if kind < 0.5 else draw.rectangle)(box, fill=tuple(int(c) for c in colour))
            buffer[i] = np.clip(np.asarray(picture, dtype=np.int16) + noise[i], 0, 255).astype(np.uint8)
        # Let this chunk's noise (int16, 48 MiB for 512 pictures) go before the next chunk's is
        # drawn; otherwise both are alive for a moment.  The same draws, in the same order.
        del noise
        yield buffer[:m]


def stand_in_set(n: int, seed: int = 0, *, size: int = IMAGE_SIZE) -> np.ndarray:
    """The synthetic stand-in "known prohibited" set: ``n`` generated images.

    Label them :data:`STAND_IN_LABEL` wherever they are shown.
    """
    return generate_images(n, _STAND_IN_STREAM + seed, size=size)


def lookalikes(n: int, seed: int = 0, *, size: int = IMAGE_SIZE) -> np.ndarray:
    """``n`` innocent images of the same kind, disjoint from the stand-in set."""
    return generate_images(n, _LOOKALIKE_STREAM + seed, size=size)


def stand_in_batches(n: int, seed: int = 0, *, size: int = IMAGE_SIZE) -> Iterator[np.ndarray]:
    """:func:`stand_in_set`'s images a batch at a time (see :func:`generate_batches`)."""
    return generate_batches(n, _STAND_IN_STREAM + seed, size=size)


def lookalike_batches(n: int, seed: int = 0, *, size: int = IMAGE_SIZE) -> Iterator[np.ndarray]:
    """:func:`lookalikes`' images a batch at a time (see :func:`generate_batches`)."""
    return generate_batches(n, _LOOKALIKE_STREAM + seed, size=size)


# ---- edits ----------------------------------------------------------------------------------
def _resize(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    scale = rng.uniform(0.5, 0.8)
    return np.asarray(
        Image.fromarray(image).resize((max(8, int(w * scale)), max(8, int(h * scale))), Image.Resampling.BILINEAR)
    )


def _crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = (int(rng.uniform(0.0, 0.1) * h), int(rng.uniform(0.0, 0.1) * w))
    bottom, right = (h - int(rng.uniform(0.0, 0.1) * h), w - int(rng.uniform(0.0, 0.1) * w))
    return image[top:bottom, left:right].copy()


def _rotate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    degrees = rng.uniform(-5, 5)
    return np.asarray(
        Image.fromarray(image).rotate(degrees, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=(0, 0, 0))
    )


def _jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(rng.integers(30, 70)))
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _brightness_contrast(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    contrast, brightness = rng.uniform(0.7, 1.3), rng.uniform(-30, 30)
    mean = image.mean()
    edited: np.ndarray = np.clip((image.astype(np.float32) - mean) * contrast + mean + brightness, 0, 255)
    return edited.astype(np.uint8)


def _noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(image.astype(np.float32) + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)


def _border(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    width = int(rng.integers(4, 16))
    colour = rng.integers(0, 256, 3, dtype=np.uint8)
    h, w = image.shape[:2]
    framed = np.empty((h + 2 * width, w + 2 * width, 3), dtype=np.uint8)
    framed[:] = colour
    framed[width : width + h, width : width + w] = image
    return framed


def _caption(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    h = image.shape[0]
    y = int(rng.uniform(0.05, 0.85) * h)
    draw.text((4, y), "lol look at this", fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(picture)


#: The edits users make, by name: each takes (image, rng) and returns a new image.
EDITS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "resize": _resize,
    "crop": _crop,
    "rotate": _rotate,
    "jpeg": _jpeg,
    "brightness_contrast": _brightness_contrast,
    "noise": _noise,
    "border": _border,
    "caption": _caption,
}


def apply_edit(images: np.ndarray | Sequence[np.ndarray], edit: str, seed: int) -> list[np.ndarray]:
    """Apply the edit named ``edit`` (a key of :data:`EDITS`) to every image, deterministically."""
    try:
        function = EDITS[edit]
    except KeyError:
        raise ValueError(f"unknown edit {edit!r}; choose from {sorted(EDITS)}") from None
    rng = np.random.default_rng(seed)
    return [function(np.asarray(image, dtype=np.uint8), rng) for image in images]


def encode_png(image: np.ndarray) -> bytes:
    """An image as PNG bytes, to send in a chat message (lossless).

    zlib level 1: the same pixels as Pillow's default level 6 in about 60 % of the
    time (the scanning lessons encode thousands of pictures), for files about 15 %
    larger; the stand-ins' noise barely compresses at any level."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes back to an RGB array; :class:`ValueError` if they are not a PNG image, and
    :class:`~toychat.errors.ImageTooLarge` (before decoding anything) if the image has more
    than :data:`MAX_PIXELS` pixels."""
    try:
        with Image.open(io.BytesIO(bytes(data))) as picture:
            if picture.format != "PNG":
                raise ValueError("not a PNG image")
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise _too_large(f"{width}×{height} pixels")
            return np.asarray(picture.convert("RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(str(exc)) from None
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"not a PNG image ({exc})") from None


def _too_large(what: str) -> ImageTooLarge:
    return ImageTooLarge(
        f"the picture is too large to decode ({what}; the limit is {MAX_PIXELS:,} pixels): a few "
        "kilobytes that would unpack to gigabytes (a decompression bomb). Refused."
    )
