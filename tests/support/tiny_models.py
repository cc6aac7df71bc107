"""Tiny OpenVINO models with the real action-recognition contract and colour-dependent outputs.

Encoder: input ``"0"`` ``[1,3,224,224]`` (BGR, 0..255) -> output ``[1,512,1,1]``. The embedding
holds the mean of each channel over the four quadrants of the crop, divided by 255, in
``emb[c*4 + q]`` (c: 0=B, 1=G, 2=R; q: 0=top-left, 1=top-right, 2=bottom-left, 3=bottom-right);
the other 500 features are zero.

Decoder: input ``"0"`` ``[1,16,512]`` -> output ``[1,N]`` logits (through the real decoder's tail,
a per-time hidden state feeding the last ``MatMul``: see :func:`build_decoder`):
- class 0 ("blue"), 1 ("green"), 2 ("red"): 10 x the mean of that channel over the whole crop and
  all 16 embeddings, minus 5 x the mean of the other two channels;
- class 3 ("brightening"): 40 x (mean brightness of the last 8 embeddings - of the first 8), so a
  shuffled or reversed window changes the logits;
- class 4 ("top-heavy"): 10 x (top half - bottom half brightness), so a flipped or rotated frame
  changes the logits;
- every other class: -5.

So a BGR/RGB swap, a wrong crop, a shuffled window or a sideways frame all fail a test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LABELS_HEAD = ("blue", "green", "red", "brightening", "top-heavy")
DRIVER_MODEL = "driver-action-recognition-adas-0002"
DRIVER_NUM_CLASSES = 9  # the real decoder's [1, 9]: ../shared/README.md


def tiny_labels(num_classes: int) -> list[str]:
    return [*LABELS_HEAD, *(f"class {i}" for i in range(len(LABELS_HEAD), num_classes))][:num_classes]


def build_encoder(
    *,
    size_hw: tuple[int, int] = (224, 224),
    embedding_dim: int = 512,
    fixed_batch: bool = False,
    output_rows: int = 1,
):
    """The tiny encoder. Its Reshapes keep the batch dimension (``0`` with ``special_zero``), so it
    runs batched like the real one; ``fixed_batch`` writes ``1`` instead, as some exported IRs do.

    ``output_rows`` > 1 splits one sample's embedding over that many output rows
    (``[rows, D / rows, 1, 1]``): the size of the whole output still equals the decoder's input, so
    it passes the checks at compile time, but each row has ``D / rows`` values (a broken IR).
    """
    import openvino as ov
    import openvino.opset13 as ops

    h, w = size_hw
    b = 1 if fixed_batch else 0
    x = ops.parameter([1, 3, h, w], ov.Type.f32, name="0")
    pooled = ops.avg_pool(x, [h // 2, w // 2], [0, 0], [0, 0], [h // 2, w // 2], exclude_pad=True)
    flat = ops.reshape(pooled, ops.constant(np.array([b, 12], np.int64)), True)  # [N, 3*4]
    proj = np.zeros((12, embedding_dim), np.float32)
    proj[np.arange(12), np.arange(12)] = 1.0 / 255.0
    emb = ops.matmul(flat, ops.constant(proj), False, False)
    shape = [b, embedding_dim, 1, 1] if output_rows == 1 else [output_rows, embedding_dim // output_rows, 1, 1]
    out = ops.reshape(emb, ops.constant(np.array(shape, np.int64)), True)
    model = ov.Model([out], [x], "tiny-encoder")
    model.outputs[0].get_tensor().set_names({"output"})
    return model


def build_decoder(*, clip_len: int = 16, embedding_dim: int = 512, num_classes: int = 400, output_rows: int = 1):
    """The tiny decoder, with the real decoder's tail: a per-time hidden state ``Add`` (named
    ``"670"``, ``[1, T, 2D]``) -> ``MatMul`` -> bias ``Add`` -> ``ReduceMean`` over time -> ``[1, C]``.

    The hidden state is ``[x_t, s_t * x_t]`` with ``s_t = -1`` over the first half of the window
    and ``+1`` over the second, so its mean over time (the pooled feature the custom-action heads
    read) holds each window's colours and their change over time.

    ``output_rows`` > 1 gives ``[rows, num_classes / rows]`` (a broken IR whose last dimension,
    read as the class count, is not the number of values it outputs per window).
    """
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, clip_len, embedding_dim], ov.Type.f32, name="0")
    half = clip_len // 2
    sign = np.where(np.arange(clip_len) < half, -1.0, 1.0).astype(np.float32).reshape(1, clip_len, 1)
    signed = ops.multiply(x, ops.constant(sign))
    hidden = ops.add(ops.concat([x, signed], 2), ops.constant(np.zeros((1, 1, 2 * embedding_dim), np.float32)))
    hidden.set_friendly_name("670")
    # logits = mean over t of (hidden_t @ w + bias): per-time weights shared over t, as in the real graph.
    w = np.zeros((2 * embedding_dim, num_classes), np.float32)
    for c in range(3):
        for q in range(4):
            f = c * 4 + q
            w[f, c] += 10.0 / 4
            for other in range(3):
                if other != c:
                    w[f, other] -= 5.0 / 4
            # class 3: 40 x (mean brightness of the second half - of the first); mean_t(s_t * b_t) is half that
            w[embedding_dim + f, 3] += 80.0 / 12
            w[f, 4] += (10.0 if q < 2 else -10.0) / 6
    bias = np.full((1, 1, num_classes), -5.0, np.float32)
    bias[..., :5] = 0.0
    per_t = ops.add(ops.matmul(hidden, ops.constant(w), False, False), ops.constant(bias))
    logits = ops.reduce_mean(per_t, ops.constant(np.array([1], np.int64)), False)
    if output_rows > 1:
        logits = ops.reshape(logits, ops.constant(np.array([output_rows, num_classes // output_rows], np.int64)), False)
    model = ov.Model([logits], [x], "tiny-decoder")
    model.outputs[0].get_tensor().set_names({"logits"})
    return model


def write_model_dir(
    root: Path,
    *,
    model: str = "action-recognition-0001",
    precisions: tuple[str, ...] = ("FP16",),
    num_classes: int = 400,
    fixed_batch: bool = False,
    encoder_output_rows: int = 1,
    decoder_output_rows: int = 1,
) -> Path:
    """Write tiny IRs in the OMZ layout under ``root`` and return ``root``.

    ``encoder_output_rows`` / ``decoder_output_rows`` > 1 write the broken IRs described in
    :func:`build_encoder` / :func:`build_decoder`.
    """
    import openvino as ov

    for precision in precisions:
        for part in ("encoder", "decoder"):
            if part == "encoder":
                m = build_encoder(fixed_batch=fixed_batch, output_rows=encoder_output_rows)
            else:
                m = build_decoder(num_classes=num_classes, output_rows=decoder_output_rows)
            out = root / f"{model}-{part}" / precision / f"{model}-{part}.xml"
            out.parent.mkdir(parents=True, exist_ok=True)
            ov.save_model(m, str(out), compress_to_fp16=(precision != "FP32"))
    return root


def write_labels(path: Path, num_classes: int = 400) -> Path:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({str(i): name for i, name in enumerate(tiny_labels(num_classes))}, indent=1))
    return path


def tiny_driver_labels() -> list[str]:
    """Nine names for the tiny driver decoder's classes, in a form no Kinetics or tiny label has."""
    return [f"driver {name}" for name in tiny_labels(DRIVER_NUM_CLASSES)]


def write_driver_labels(path: Path) -> Path:
    """:func:`tiny_driver_labels` one per line, as the real ``driver_actions.txt`` is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}\n" for name in tiny_driver_labels()))
    return path
