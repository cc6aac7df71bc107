"""Preprocessing: BGR kept, short side to 224, centre crop, area-style shrink, NCHW float32."""

import cv2
import numpy as np
import pytest

from actionrec.pipeline import crop_rect, preprocess


@pytest.mark.parametrize(
    ("size_wh", "crop"),
    [
        ((1280, 720), (280, 0, 720, 720)),
        ((1080, 1920), (0, 420, 1080, 1080)),
        ((340, 256), (42, 0, 256, 256)),
        ((224, 224), (0, 0, 224, 224)),
        ((16, 16), (0, 0, 16, 16)),
        ((7680, 4320), (1680, 0, 4320, 4320)),
    ],
)
def test_crop_is_the_centred_square_of_the_short_side(size_wh, crop):
    assert crop_rect(size_wh) == crop


def test_tensor_layout_colour_order_and_range():
    img = np.zeros((240, 320, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 20, 250  # B, G, R
    t = preprocess(img).tensor
    assert t.shape == (1, 3, 224, 224) and t.dtype == np.float32
    assert [float(t[0, c].mean()) for c in range(3)] == pytest.approx([10, 20, 250], abs=0.5)  # BGR, 0..255


@pytest.mark.parametrize("size_wh", [(1280, 720), (1920, 1080), (640, 480), (340, 256)])
@pytest.mark.parametrize(("blur_sigma", "max_error"), [(3.0, 1.0), (1.5, 2.5)])
def test_shrink_matches_one_area_resize_and_does_not_alias(size_wh, blur_sigma, max_error):
    rng = np.random.default_rng(0)
    w, h = size_wh
    detail = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), np.uint8), (0, 0), blur_sigma)
    x, y, cw, ch = crop_rect(size_wh)
    crop = detail[y : y + ch, x : x + cw]
    reference = cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
    error = np.abs(preprocess(detail).tensor[0].transpose(1, 2, 0) - reference).mean()
    aliased = np.abs(cv2.resize(crop, (224, 224), interpolation=cv2.INTER_NEAREST) - reference).mean()
    assert error < max_error  # grey levels, mean over the crop
    assert error < 0.3 * aliased or aliased < 1.0  # far from point sampling wherever it differs


def test_non_bgr_input_is_a_clear_error():
    with pytest.raises(ValueError, match="expected an H x W x 3 uint8 BGR image"):
        preprocess(np.zeros((10, 10), np.uint8))
