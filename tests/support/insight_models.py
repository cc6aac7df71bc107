"""Tiny decoders for the insight tests, where what the answer depends on is known by construction.

- :func:`build_step_decoder`: reads only window position ``step`` (default 5) of its 16 embeddings;
  its logits are the tiny encoder's colour classes (``tests/support/tiny_models.py``): 10 x the
  mean of the blue, green or red features of that one sample. Occluding any other position cannot
  change its output.
- :func:`build_permuted_decoder`: the tiny decoder with two classes' outputs swapped (so its top-1
  differs from the tiny decoder's exactly on the windows where one of them wins).
- :func:`write_model_dir`: the tiny encoder with a chosen decoder per precision, in the OMZ layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.support.tiny_models import build_decoder, build_encoder

STEP = 5


def build_step_decoder(*, step: int = STEP, clip_len: int = 16, embedding_dim: int = 512, num_classes: int = 400):
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, clip_len, embedding_dim], ov.Type.f32, name="0")
    one = ops.gather(x, ops.constant(np.array([step], np.int64)), ops.constant(np.array(1, np.int64)))  # [1,1,D]
    flat = ops.reshape(one, ops.constant(np.array([1, embedding_dim], np.int64)), False)
    w = np.zeros((embedding_dim, num_classes), np.float32)
    for c in range(3):
        w[c * 4 : c * 4 + 4, c] = 10.0 / 4
    bias = np.full((1, num_classes), -5.0, np.float32)
    bias[0, :3] = 0.0
    logits = ops.add(ops.matmul(flat, ops.constant(w), False, False), ops.constant(bias))
    model = ov.Model([logits], [x], "step-decoder")
    model.outputs[0].get_tensor().set_names({"logits"})
    return model


def build_permuted_decoder(swap: tuple[int, int], *, num_classes: int = 400):
    import openvino as ov
    import openvino.opset13 as ops

    base = build_decoder(num_classes=num_classes)
    perm = np.arange(num_classes)
    perm[list(swap)] = perm[list(swap[::-1])]
    logits = base.get_results()[0].input_value(0)
    swapped = ops.gather(logits, ops.constant(perm.astype(np.int64)), ops.constant(np.array(1, np.int64)))
    model = ov.Model([swapped], base.get_parameters(), "permuted-decoder")
    model.outputs[0].get_tensor().set_names({"logits"})
    return model


def write_model_dir(
    root: Path, decoders: dict[str, Callable[[], object]], *, model: str = "action-recognition-0001"
) -> Path:
    """The tiny encoder and ``decoders[precision]()`` for each precision, in the OMZ layout under ``root``."""
    import openvino as ov

    for precision, make_decoder in decoders.items():
        for part, m in (("encoder", build_encoder()), ("decoder", make_decoder())):
            out = root / f"{model}-{part}" / precision / f"{model}-{part}.xml"
            out.parent.mkdir(parents=True, exist_ok=True)
            ov.save_model(m, str(out), compress_to_fp16=False)
    return root
