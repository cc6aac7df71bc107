"""``ActionModels`` that hold facts only (no compiled models): what cache keys and reports read."""

from __future__ import annotations

from actionrec.models.runtime import ActionModels


def fake_models(**changes) -> ActionModels:
    """Fixed facts of a compiled pair (device AUTO over a CPU, FP16, batch 8), with ``changes`` applied."""
    facts = {
        "encoder": None,
        "decoder": None,
        "labels": ("a", "b"),
        "clip_len": 16,
        "input_size_hw": (224, 224),
        "embedding_dim": 512,
        "device": "AUTO",
        "hint": "THROUGHPUT",
        "precision": "FP16",
        "model": "action-recognition-0001",
        "encoder_id": "/m/enc.xml:1:2|/m/enc.bin:3:4",
        "encoder_batch": 8,
        "inference_precision": "f32",
        "execution_devices": ("CPU",),
        "openvino_version": "2026.4.1-22982",
    }
    return ActionModels(**(facts | changes))
