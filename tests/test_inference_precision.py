"""``AR_INFERENCE_PRECISION``: the suite computes in f32 everywhere; unset, the device chooses.

The rest of the suite runs with ``AR_INFERENCE_PRECISION=f32`` (tests/conftest.py), so a CPU with
AVX-512 BF16 gives the same numbers as an AVX2 one. These tests unset it: what a user gets.
"""

from __future__ import annotations

import pytest

from actionrec import settings
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import Recognizer


def _files(tiny_model_dir, tiny_labels_file):
    return resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)


def test_unset_the_device_picks_its_own_precision_and_the_labels_hold(
    monkeypatch, tiny_model_dir, tiny_labels_file, red_clip, tmp_path
):
    import openvino as ov

    monkeypatch.delenv(settings.ENV_INFERENCE_PRECISION)
    models = compile_models(_files(tiny_model_dir, tiny_labels_file), cache_dir=tmp_path)
    default = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")
    # bf16 on a CPU with AVX-512 BF16 or AMX, f32 elsewhere: whichever this CPU's plugin says.
    assert models.inference_precision == default.get_type_name()
    timeline = Recognizer(models).analyze(red_clip, progress=False, cache=False)
    assert {p.labels[0] for p in timeline.predictions} == {"red"}


def test_f32_is_what_the_compiled_encoder_computes_in(tiny_model_dir, tiny_labels_file, tmp_path):
    assert settings.inference_precision() == "f32"  # the suite's setting (tests/conftest.py)
    models = compile_models(_files(tiny_model_dir, tiny_labels_file), cache_dir=tmp_path)
    assert models.inference_precision == "f32"
    assert models.encoder.get_property("INFERENCE_PRECISION_HINT").get_type_name() == "f32"


def test_an_argument_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv(settings.ENV_INFERENCE_PRECISION, "bf16")
    assert settings.inference_precision("F32") == "f32"
    assert settings.inference_precision() == "bf16"


def test_a_precision_openvino_has_no_hint_for_is_refused_before_compiling(
    monkeypatch, tiny_model_dir, tiny_labels_file, tmp_path
):
    monkeypatch.setenv(settings.ENV_INFERENCE_PRECISION, "fp64")
    with pytest.raises(ValueError, match=r"'fp64' is not one of f32, bf16, f16; set AR_INFERENCE_PRECISION=f32"):
        compile_models(_files(tiny_model_dir, tiny_labels_file), cache_dir=tmp_path / "cc")
    assert not (tmp_path / "cc").exists()  # refused before the compile cache was made
