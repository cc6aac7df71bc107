"""Frame preprocessing exactly as the OMZ action-recognition encoder expects.

BGR, 0..255 (the mean subtraction is inside the IR: do not normalise), short side resized to the
model's input size (area interpolation when shrinking), centre crop, NCHW float32.

Example:
    >>> import numpy as np
    >>> p = preprocess(np.zeros((720, 1280, 3), np.uint8))
    >>> p.tensor.shape, p.tensor.dtype, p.crop_xywh
    ((1, 3, 224, 224), dtype('float32'), (280, 0, 720, 720))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..video.core import CroppableFrame, Frame

PREPROCESS_VERSION = 1
"""Bump when :func:`preprocess` gives other tensors (crop, resize, colour order): the embedding
cache keys entries with it, so embeddings of the old preprocessing are rebuilt, never reused."""


@dataclass(frozen=True)
class Preprocessed:
    """The encoder input of one frame and where it came from.

    Attributes:
        tensor: ``[1, 3, H, W]`` float32, BGR, 0..255.
        crop_xywh: the source-pixel rectangle the model sees (x, y, width, height), for drawing.
    """

    tensor: np.ndarray
    crop_xywh: tuple[int, int, int, int]


def crop_rect(size_wh: tuple[int, int], *, input_hw: tuple[int, int] = (224, 224)) -> tuple[int, int, int, int]:
    """The centred source rectangle that "resize the short side, then centre-crop" keeps.

    Args:
        size_wh: source frame (width, height).
        input_hw: model input (height, width).

    Returns:
        ``(x, y, w, h)`` in source pixels.
    """
    w, h = size_wh
    if w < 1 or h < 1:
        raise ValueError(f"frame size must be positive, got {size_wh}")
    in_h, in_w = input_hw
    scale = max(in_h / h, in_w / w)  # short side -> input size
    cw, ch = min(w, round(in_w / scale)), min(h, round(in_h / scale))
    return ((w - cw) // 2, (h - ch) // 2, cw, ch)


def preprocess(image_bgr: np.ndarray, *, input_hw: tuple[int, int] = (224, 224)) -> Preprocessed:
    """Turn one BGR frame into the encoder's input tensor.

    Cropping the centred rectangle first and resizing it to the input size is the same geometric
    operation as resizing the short side and then cropping, and much cheaper on large frames.

    Raises:
        ValueError: the image is not an ``H x W x 3`` uint8 array.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(
            f"expected an H x W x 3 uint8 BGR image, got shape {image_bgr.shape} dtype {image_bgr.dtype}; "
            "convert grey or BGRA frames with cv2.cvtColor first"
        )
    h, w = image_bgr.shape[:2]
    x, y, cw, ch = crop_rect((w, h), input_hw=input_hw)
    return Preprocessed(_crop_to_tensor(image_bgr[y : y + ch, x : x + cw], input_hw), (x, y, cw, ch))


def preprocess_frame(frame: Frame | CroppableFrame, *, input_hw: tuple[int, int] = (224, 224)) -> Preprocessed:
    """:func:`preprocess` of a decoded frame, converting only the model crop of a sampled-decode frame.

    A :class:`~actionrec.video.CroppableFrame` (the sampled decode) converts only the model crop to
    BGR, never the whole frame: the same tensor, cheaper.

    Raises:
        ValueError: the frame's image is not ``H x W x 3`` uint8.
    """
    crop_bgr = getattr(frame, "crop_bgr", None)
    if crop_bgr is None:
        return preprocess(frame.image_bgr, input_hw=input_hw)
    x, y, cw, ch = crop_rect(frame.size_wh, input_hw=input_hw)
    return Preprocessed(_crop_to_tensor(crop_bgr(x, y, cw, ch), input_hw), (x, y, cw, ch))


def _crop_to_tensor(crop: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """The model crop (BGR) resized to the input size, as the ``[1, 3, H, W]`` float32 tensor."""
    import cv2

    ch, cw = crop.shape[:2]
    in_h, in_w = input_hw
    # Area-average by halving while the image is at least twice the input size (OpenCV's SIMD
    # path for exact halves; this is what anti-aliases), then one linear step of less than 2x: within
    # 1 grey level of a single INTER_AREA resize at an eighth of its cost on 720p (preprocessing
    # sits on the file pipeline's critical path). Small crops shrink by area directly.
    while crop.shape[1] >= 2 * in_w and crop.shape[0] >= 2 * in_h:
        crop = cv2.resize(crop, (crop.shape[1] // 2, crop.shape[0] // 2), interpolation=cv2.INTER_AREA)
    shrinking = crop.shape[1] > in_w or crop.shape[0] > in_h
    halved = crop.shape[:2] != (ch, cw)
    interpolation = cv2.INTER_AREA if shrinking and not halved else cv2.INTER_LINEAR
    resized = cv2.resize(crop, (in_w, in_h), interpolation=interpolation)
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)[None]
