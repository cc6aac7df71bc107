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


# -- what mutation testing (benchmarks/mutation.py) showed unchecked ---------------------------------


@pytest.mark.parametrize(
    ("size_wh", "input_hw", "crop"),
    [
        ((1280, 720), (224, 300), (158, 0, 964, 720)),  # a wide model input keeps a wide crop
        ((720, 1280), (300, 224), (0, 158, 720, 964)),
        ((100, 50), (224, 224), (25, 0, 50, 50)),
        ((1, 1), (224, 224), (0, 0, 1, 1)),
    ],
)
def test_crop_follows_the_model_input_shape(size_wh, input_hw, crop):
    assert crop_rect(size_wh, input_hw=input_hw) == crop


@pytest.mark.parametrize("size_wh", [(0, 10), (10, 0), (-3, 5)])
def test_crop_of_an_empty_frame_is_a_clear_error(size_wh):
    with pytest.raises(ValueError, match=rf"^frame size must be positive, got \({size_wh[0]}, {size_wh[1]}\)$"):
        crop_rect(size_wh)


@pytest.mark.parametrize(
    ("image", "described"),
    [
        (np.zeros((10, 10, 4), np.uint8), r"shape \(10, 10, 4\) dtype uint8"),
        (np.zeros((10, 10, 3), np.float32), r"shape \(10, 10, 3\) dtype float32"),
    ],
)
def test_bgra_and_float_frames_are_refused_saying_what_came(image, described):
    with pytest.raises(
        ValueError,
        match=rf"^expected an H x W x 3 uint8 BGR image, got {described}; "
        r"convert grey or BGRA frames with cv2\.cvtColor first$",
    ):
        preprocess(image)


def test_the_model_sees_only_the_crop_and_all_of_it():
    img = np.zeros((720, 1280, 3), np.uint8)
    img[:, :280] = (0, 0, 255)  # red left of the crop
    img[:, 1000:] = (255, 0, 0)  # blue right of it
    img[:, 280:1000] = (0, 255, 0)  # the crop: green
    img[:, 280:282] = (0, 0, 200)  # its first and last columns: marked
    img[:, 998:1000] = (200, 0, 0)
    p = preprocess(img, input_hw=(224, 300))
    t = p.tensor[0]
    assert p.tensor.shape == (1, 3, 224, 300) and p.crop_xywh == (158, 0, 964, 720) == crop_rect(
        (1280, 720), input_hw=(224, 300)
    )
    img2 = np.zeros_like(img)
    img2[:, 158:1122] = img[:, 158:1122]  # outside the crop: nothing the model may see
    assert np.array_equal(preprocess(img2, input_hw=(224, 300)).tensor, p.tensor)
    assert t[2, :, 0].mean() > 30 and t[0, :, -1].mean() > 30  # the crop's edges reach the tensor's edges


def _reference(image_bgr, input_hw=(224, 224)):
    """The documented algorithm: crop, halve by area while >= 2x, then one step (area if only shrinking)."""
    h, w = image_bgr.shape[:2]
    x, y, cw, ch = crop_rect((w, h), input_hw=input_hw)
    crop = image_bgr[y : y + ch, x : x + cw]
    in_h, in_w = input_hw
    halved = False
    while crop.shape[1] >= 2 * in_w and crop.shape[0] >= 2 * in_h:
        crop, halved = cv2.resize(crop, (crop.shape[1] // 2, crop.shape[0] // 2), interpolation=cv2.INTER_AREA), True
    shrinking = crop.shape[1] > in_w or crop.shape[0] > in_h
    interpolation = cv2.INTER_AREA if shrinking and not halved else cv2.INTER_LINEAR
    return cv2.resize(crop, (in_w, in_h), interpolation=interpolation).transpose(2, 0, 1).astype(np.float32)


@pytest.mark.parametrize(
    ("size_wh", "input_hw"),
    [
        ((100, 50), (224, 224)),
        ((340, 256), (224, 224)),
        ((448, 448), (224, 224)),
        ((1280, 720), (224, 224)),
        ((1920, 1080), (224, 224)),
        ((1280, 720), (112, 160)),
        ((500, 1000), (224, 112)),  # portrait: halved while both sides are at least twice the input
        ((224, 224), (224, 224)),
        # crops where rounding puts one side at twice the input and the other just below, or one side
        # just above the input and the other at it: each side's own test decides
        ((40, 19), (10, 3)),
        ((19, 40), (3, 10)),
        ((40, 11), (10, 3)),
        ((11, 40), (3, 10)),
    ],
)
def test_resize_path_is_the_documented_one_exactly(size_wh, input_hw):
    rng = np.random.default_rng(1)
    w, h = size_wh
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), np.uint8), (0, 0), 1.0)
    assert np.array_equal(preprocess(img, input_hw=input_hw).tensor[0], _reference(img, input_hw))


# -- preprocess_frame: a decoded frame, and a sampled-decode frame that converts only the model crop --


class _CropOnlyFrame:
    """A sampled-decode frame (CroppableFrame): its whole image is never to be converted."""

    def __init__(self, image_bgr):
        self._image = image_bgr
        self.index, self.timestamp_s = 0, 0.0
        self.size_wh = (image_bgr.shape[1], image_bgr.shape[0])
        self.crops = []

    @property
    def image_bgr(self):
        raise AssertionError("the whole frame was converted; only the model crop should be")

    def crop_bgr(self, x, y, w, h):
        self.crops.append((x, y, w, h))
        return self._image[y : y + h, x : x + w]


@pytest.mark.parametrize(("size_wh", "input_hw"), [((1280, 720), (112, 160)), ((500, 1000), (224, 224))])
def test_a_sampled_decode_frame_gives_the_whole_frame_tensor_converting_only_the_crop(size_wh, input_hw):
    from actionrec.pipeline.preprocess import preprocess_frame

    w, h = size_wh
    img = cv2.GaussianBlur(np.random.default_rng(2).integers(0, 256, (h, w, 3), np.uint8), (0, 0), 1.0)
    frame = _CropOnlyFrame(img)
    got = preprocess_frame(frame, input_hw=input_hw)
    want = preprocess(img, input_hw=input_hw)
    assert frame.crops == [crop_rect(size_wh, input_hw=input_hw)]  # the crop asked for, once
    assert got.crop_xywh == want.crop_xywh == frame.crops[0]
    assert got.tensor.shape == (1, 3, *input_hw) and np.array_equal(got.tensor, want.tensor)


def test_a_decoded_frame_is_preprocessed_whole_at_the_input_size_asked():
    from actionrec.pipeline.preprocess import preprocess_frame
    from actionrec.video import Frame

    img = cv2.GaussianBlur(np.random.default_rng(3).integers(0, 256, (360, 640, 3), np.uint8), (0, 0), 1.0)
    got = preprocess_frame(Frame(img, 0, 0.0), input_hw=(112, 160))
    want = preprocess(img, input_hw=(112, 160))
    assert got.crop_xywh == want.crop_xywh == crop_rect((640, 360), input_hw=(112, 160))
    assert got.tensor.shape == (1, 3, 112, 160) and np.array_equal(got.tensor, want.tensor)
