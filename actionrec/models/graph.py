"""What the IR graphs hold: the decoder's pooled feature, and whether the encoder takes any batch.

Graph surgery done before compiling (:func:`actionrec.models.runtime.compile_models`): finding the
tensor that feeds the decoder's classifier by structure (:func:`feature_output`), averaging it over
time inside the graph (:func:`pooled`), and letting the encoder take a dynamic batch
(:func:`any_batch`, checked by :func:`per_sample`).
"""

from __future__ import annotations

from typing import Any

_PASS_THROUGH = {"FakeQuantize", "Convert"}  # quantization wrappers around the real feature tensor


def _is_constant(node: Any, known: dict[str, bool]) -> bool:
    """``node`` computes from constants only.

    A ``Constant``, or e.g. ``Convert(Constant)`` as ``openvino.save_model`` writes FP16-compressed
    weights (``compress_to_fp16``, its default), or a dequantizing ``Multiply(Convert(Constant), Constant)``.
    """
    name = node.get_friendly_name()
    if name not in known:
        known[name] = False  # a cycle cannot be constant
        if node.get_type_name() == "Constant":
            known[name] = True
        elif node.get_type_name() != "Parameter" and node.get_input_size() > 0:
            known[name] = all(_is_constant(node.input_value(i).get_node(), known) for i in range(node.get_input_size()))
    return known[name]


def pooled(feature: Any) -> Any:
    """``feature`` (``[1, T, F]``) averaged over time by a ``ReduceMean`` added to the graph; ``[1, F]`` as is.

    Computed by OpenVINO with the rest of the decoder, so reading it costs a request's callback a
    copy of ``F`` values (averaging ``T x F`` values in Python there cost ~8 % of the decoder's
    throughput on 2 cores).
    """
    import numpy as np
    import openvino.opset13 as ops

    if len(feature.get_partial_shape()) == 2:
        return feature
    return ops.reduce_mean(feature, ops.constant(np.array([1], np.int64)), False).output(0)


def feature_output(model: Any) -> Any | None:
    """The decoder's pooled-feature tensor: the input of the last ``MatMul`` before its output.

    Found by graph structure, not by name, so any decoder of this shape works: from the output,
    walk back through non-constant inputs (a ``Convert`` of compressed weights counts as constant)
    to the nearest ``MatMul`` (in the OMZ decoders ``672``,
    before the bias ``Add`` and the ``ReduceMean`` over time), take its non-constant input, and
    step back over quantization wrappers (``FakeQuantize``, ``Convert`` in the INT8 IR) to the
    tensor they quantize (``Add`` ``670``, ``[1, 16, 512]``).

    Args:
        model: an ``openvino.Model`` (not compiled).

    Returns:
        That tensor (an ``openvino.Output``) when it is static and ``[1, F]`` or ``[1, T, F]``,
        else ``None``.
    """
    seen: set[str] = set()
    frontier = [model.output(0).get_node()]
    while frontier:
        node = frontier.pop(0)
        if node.get_friendly_name() in seen:
            continue
        seen.add(node.get_friendly_name())
        inputs = [node.input_value(i) for i in range(node.get_input_size())]
        live = [v for v in inputs if not _is_constant(v.get_node(), {})]
        if node.get_type_name() == "MatMul" and len(live) == 1:
            value = live[0]
            while value.get_node().get_type_name() in _PASS_THROUGH:
                value = value.get_node().input_value(0)
            shape = value.get_partial_shape()
            if shape.is_static and len(shape) in (2, 3) and shape[0].get_length() == 1:
                return value
            return None
        frontier.extend(v.get_node() for v in live)
    return None


def any_batch(model) -> bool:
    """Let ``model`` (``[1,C,H,W]`` input) take any batch size; False (model unchanged) when it cannot.

    An IR with the batch written into its graph (e.g. a Reshape to ``[1, ...]``) either refuses the
    new shape or keeps a fixed output batch: it stays at batch 1.
    """
    import openvino as ov

    static = model.input(0).get_partial_shape()
    try:
        model.reshape({model.input(0): ov.PartialShape([-1, *list(static)[1:]])})
        if model.output(0).get_partial_shape()[0].is_dynamic:
            return True
    except RuntimeError:
        pass
    model.reshape({model.input(0): static})
    return False


def per_sample(encoder, batch: int) -> bool:
    """Does a batch give what its samples give one at a time? Also warms both shapes up.

    A graph may mix samples (e.g. a softmax over everything); its shapes alone would not tell.
    """
    import numpy as np

    dims = [d.get_length() for d in list(encoder.input(0).get_partial_shape())[1:]]
    x = np.random.default_rng(0).uniform(0, 255, (batch, *dims)).astype(np.float32)
    # A request of its own, freed on return: ``encoder(...)`` would keep one inside the compiled
    # model for the rest of the process, with its buffers.
    request = encoder.create_infer_request()

    def run(inputs):
        return np.array(request.infer({0: inputs})[0])

    together = run(x).reshape(batch, -1)
    alone = np.stack([run(x[i : i + 1]).reshape(-1) for i in range(batch)])
    scale = float(np.abs(alone).max()) or 1.0
    return bool(np.abs(together - alone).max() <= 0.02 * scale)  # bf16 kernels differ a little by shape
