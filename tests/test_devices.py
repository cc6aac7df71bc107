"""Devices: NPU and GPU accepted when present and refused clearly when not; encoder and decoder apart.

No GPU or NPU is present where these tests run: a fake ``Core`` lists them (``fake_devices``) and
records what each model is compiled with, then compiles on the real CPU. So the names, the
per-device settings and the routing of ``--encoder-device`` / ``--decoder-device`` are tested;
whether a real GPU or NPU accepts those settings is not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from actionrec import settings
from actionrec.cli.common import add_device_args, devices_from_args
from actionrec.cli.main import main
from actionrec.doctor import check_accelerator
from actionrec.errors import DeviceNotAvailableError
from actionrec.models import devices, resolve_model
from actionrec.models.devices import DRIVER_HINTS, check_device, device_config
from actionrec.models.runtime import compile_models
from actionrec.pipeline import FileEncoder, Recognizer
from actionrec.pipeline.cache import cache_key, decoded_key
from actionrec.pipeline.sampling import SamplingGrid
from tests.support.model_facts import fake_models

ALL = ["CPU", "GPU.0", "NPU"]


class FakeCore:
    """A ``Core`` that lists ``names`` and records each compile, then compiles on the real CPU."""

    def __init__(self, real, names):
        self.real, self.available_devices, self.compiled = real, list(names), []

    def read_model(self, *args):
        return self.real.read_model(*args)

    def compile_model(self, model, device, config=None):
        encoder = "encoder" in model if isinstance(model, str) else len(model.input(0).get_partial_shape()) == 4
        self.compiled.append(("encoder" if encoder else "decoder", device, dict(config or {})))
        return self.real.compile_model(model, "CPU", config or {})

    def get_property(self, device, name):
        if name == "FULL_DEVICE_NAME" and device != "CPU":
            return f"Fake {device}"
        return self.real.get_property("CPU", name)


@pytest.fixture
def fake_devices(monkeypatch):
    """``fake_devices(["CPU", "NPU"])`` -> the FakeCore every check and compile then uses."""
    real = devices.get_core()

    def use(names):
        core = FakeCore(real, names)
        monkeypatch.setattr(devices, "get_core", lambda: core)
        return core

    return use


@pytest.fixture
def files(tiny_model_dir, tiny_labels_file):
    return resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)


def compiled(core, part):
    """``(device, config)`` of the one compile of ``part`` ("encoder"/"decoder")."""
    (found,) = [(d, c) for p, d, c in core.compiled if p == part]
    return found


@pytest.mark.parametrize("name", ["NPU", "npu", "GPU", "GPU.0", "AUTO:NPU,CPU", "AUTO"])
def test_present_devices_are_accepted(fake_devices, name):
    fake_devices(ALL)
    assert check_device(name) == name.upper()


@pytest.mark.parametrize(
    ("name", "driver"), [("NPU", "NPU"), ("GPU", "GPU"), ("GPU.1", "GPU"), ("AUTO:NPU", "NPU"), ("TPU", None)]
)
def test_an_absent_device_is_refused_naming_what_exists_and_what_to_do(fake_devices, name, driver):
    fake_devices(["CPU", "GPU.0"] if name == "GPU.1" else ["CPU"])
    with pytest.raises(DeviceNotAvailableError) as err:
        check_device(name)
    text = str(err.value)
    available = "CPU, GPU.0, AUTO" if name == "GPU.1" else "CPU, AUTO"
    assert text.startswith(f"device {name!r} is not available here; available: {available}. Use CPU (always present)")
    assert "python -m actionrec doctor" in text
    for kind, hint in DRIVER_HINTS.items():
        assert (hint in text) == (kind == driver), kind


def test_device_configs_follow_each_device():
    cache = "/c"
    cpu = device_config("CPU", hint="THROUGHPUT", cache_dir=cache, inference_precision="bf16", unpinned=True)
    assert cpu == {
        "PERFORMANCE_HINT": "THROUGHPUT",
        "CACHE_DIR": cache,
        "ENABLE_CPU_PINNING": False,
        "INFERENCE_PRECISION_HINT": "bf16",
    }
    npu = device_config("NPU", hint="THROUGHPUT", cache_dir=cache, inference_precision="f32", unpinned=True)
    assert npu == {"PERFORMANCE_HINT": "THROUGHPUT", "CACHE_DIR": cache}  # no pinning, its own precision
    gpu = device_config("GPU.1", hint="LATENCY", cache_dir=cache, inference_precision="f16", unpinned=True)
    assert gpu == {"PERFORMANCE_HINT": "LATENCY", "CACHE_DIR": cache, "INFERENCE_PRECISION_HINT": "f16"}
    assert "INFERENCE_PRECISION_HINT" not in device_config(
        "GPU", hint="LATENCY", cache_dir=cache, inference_precision="bf16"
    )
    assert device_config("CPU", hint="LATENCY", cache_dir=cache) == {"PERFORMANCE_HINT": "LATENCY", "CACHE_DIR": cache}


def test_the_live_hint_is_the_throughput_streams_on_a_cpu_and_latency_elsewhere(fake_devices, files, tmp_path):
    cache = "/c"
    assert device_config("CPU", hint="LIVE", cache_dir=cache, unpinned=True) == {
        "PERFORMANCE_HINT": "THROUGHPUT",
        "CACHE_DIR": cache,
        "ENABLE_CPU_PINNING": False,
    }
    for device in ("GPU", "GPU.1", "NPU", "AUTO", "AUTO:GPU,CPU"):  # a GPU's throughput hint batches requests
        assert device_config(device, hint="LIVE", cache_dir=cache)["PERFORMANCE_HINT"] == "LATENCY", device
    core = fake_devices(ALL)
    models = compile_models(files, encoder_device="CPU", decoder_device="GPU", hint="LIVE", cache_dir=tmp_path)
    enc_device, enc = compiled(core, "encoder")
    assert enc_device == "CPU" and enc["PERFORMANCE_HINT"] == "THROUGHPUT" and enc["ENABLE_CPU_PINNING"] is False
    assert models.encoder_batch == 1 and models.encoder.input(0).get_partial_shape().is_static  # one frame each
    dec_device, dec = compiled(core, "decoder")
    assert dec_device == "GPU" and dec["PERFORMANCE_HINT"] == "LATENCY" and "ENABLE_CPU_PINNING" not in dec
    assert models.hint == "LIVE"


def test_npu_encoder_gets_hint_and_cache_but_no_cpu_pinning_nor_batch(fake_devices, files, tmp_path):
    core = fake_devices(ALL)
    models = compile_models(
        files, encoder_device="NPU", decoder_device="CPU", hint="THROUGHPUT", cache_dir=tmp_path, encoder_batch=8
    )
    enc_device, enc = compiled(core, "encoder")
    cache = str(tmp_path / "compile_cache")
    assert enc_device == "NPU" and enc == {"PERFORMANCE_HINT": "THROUGHPUT", "CACHE_DIR": cache}
    assert models.encoder_batch == 1 and models.encoder.input(0).get_partial_shape().is_static
    dec_device, dec = compiled(core, "decoder")
    assert dec_device == "CPU" and dec == {
        "PERFORMANCE_HINT": "THROUGHPUT",
        "CACHE_DIR": cache,
        "INFERENCE_PRECISION_HINT": "f32",
    }
    assert (models.device, models.encoder_device, models.decoder_device) == ("NPU", "NPU", "CPU")
    assert models.devices_text == "NPU encoder, CPU decoder"


def test_cpu_encoder_keeps_its_file_settings_beside_a_gpu_decoder(fake_devices, files, tmp_path):
    core = fake_devices(ALL)
    models = compile_models(files, encoder_device="cpu", decoder_device="GPU", cache_dir=tmp_path, encoder_batch=8)
    assert compiled(core, "encoder")[1]["ENABLE_CPU_PINNING"] is False and models.encoder_batch == 8
    dec_device, dec = compiled(core, "decoder")
    assert dec_device == "GPU" and "ENABLE_CPU_PINNING" not in dec and dec["INFERENCE_PRECISION_HINT"] == "f32"


def test_split_devices_reach_compile_and_default_to_device(fake_devices, files, tmp_path):
    core = fake_devices(ALL)
    compile_models(files, device="NPU", decoder_device="CPU", hint="LATENCY", cache_dir=tmp_path)
    assert [(p, d) for p, d, _ in core.compiled] == [("encoder", "NPU"), ("decoder", "CPU")]
    core.compiled.clear()
    both = compile_models(files, device="GPU", hint="LATENCY", cache_dir=tmp_path)
    assert [(p, d) for p, d, _ in core.compiled] == [("encoder", "GPU"), ("decoder", "GPU")]
    assert both.devices_text == "GPU"


def test_a_missing_decoder_device_is_refused_before_anything_compiles(fake_devices, files, tmp_path):
    core = fake_devices(["CPU", "GPU.0"])
    with pytest.raises(DeviceNotAvailableError, match="'NPU' is not available here"):
        compile_models(files, encoder_device="GPU", decoder_device="NPU", cache_dir=tmp_path)
    assert core.compiled == []


def test_real_cpu_compile_of_both_and_the_export_names_both_devices(files, red_clip, tmp_path):
    models = compile_models(files, encoder_device="CPU", decoder_device="cpu", cache_dir=tmp_path)
    assert (models.device, models.decoder_device, models.devices_text) == ("CPU", "CPU", "CPU")
    live = compile_models(files, device="CPU", hint="LIVE", cache_dir=tmp_path)
    assert str(live.encoder.get_property("PERFORMANCE_HINT")).endswith("THROUGHPUT")  # what OpenVINO was told
    assert live.encoder_batch == 1 and live.encoder.input(0).get_partial_shape().is_static
    timeline = Recognizer(models).analyze(red_clip, progress=False, cache=False)
    assert timeline.predictions[0].labels[0] == "red"
    assert (timeline.device, timeline.decoder_device) == ("CPU", "CPU")


def parse(*argv):
    p = argparse.ArgumentParser()
    add_device_args(p)
    return devices_from_args(p.parse_args(argv))


def test_device_flags_win_over_env_and_env_over_default(monkeypatch):
    assert parse() == {"device": "CPU", "encoder_device": "CPU", "decoder_device": "CPU"}
    monkeypatch.setenv("AR_DEVICE", "GPU")
    assert parse() == {"device": "GPU", "encoder_device": "GPU", "decoder_device": "GPU"}
    assert parse("--device", "NPU") == {"device": "NPU", "encoder_device": "NPU", "decoder_device": "NPU"}
    monkeypatch.setenv("AR_DECODER_DEVICE", "CPU")
    assert parse() == {"device": "GPU", "encoder_device": "GPU", "decoder_device": "CPU"}
    assert parse("--device", "NPU")["decoder_device"] == "CPU"  # the decoder's own variable is more specific
    assert parse("--decoder-device", "AUTO")["decoder_device"] == "AUTO"
    monkeypatch.setenv("AR_ENCODER_DEVICE", "NPU")
    assert parse("--encoder-device", "CPU")["encoder_device"] == "CPU"
    assert parse("--device", "CPU")["encoder_device"] == "NPU"
    assert parse()["encoder_device"] == "NPU"
    assert settings.encoder_device() == "NPU" and settings.decoder_device() == "CPU" and settings.device() == "GPU"


def test_analyze_runs_the_encoder_and_decoder_where_flags_and_env_say(
    fake_devices, tiny_model_dir, tiny_labels_file, red_clip, tmp_path, monkeypatch, capsys
):
    core = fake_devices(ALL)
    monkeypatch.setenv("AR_ENCODER_DEVICE", "GPU")
    out = tmp_path / "out"
    args = ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--out", str(out), "--no-progress"]
    assert main(["analyze", str(red_clip), *args, "--decoder-device", "cpu", "--formats", "json,html"]) == 0
    assert [(p, d) for p, d, _ in core.compiled] == [("encoder", "GPU"), ("decoder", "CPU")]
    doc = json.loads((out / f"{Path(red_clip).stem}.json").read_text())
    assert (doc["device"], doc["decoder_device"]) == ("GPU", "CPU")
    assert "<td>GPU encoder, CPU decoder</td>" in (out / f"{Path(red_clip).stem}.html").read_text()
    core.compiled.clear()
    assert main(["analyze", str(red_clip), *args, "--encoder-device", "NPU", "--formats", "json", "--no-cache"]) == 0
    assert [(p, d) for p, d, _ in core.compiled] == [("encoder", "NPU"), ("decoder", "CPU")]  # AR_DEVICE unset: CPU


def test_the_embedding_key_ignores_the_decoder_device_and_the_decoded_key_does_not():
    grid = SamplingGrid(window_s=1.0, clip_len=16, stride_steps=4)
    one = fake_models(device="CPU")
    assert one.decoder_device == "CPU"  # made without one: the encoder's
    meta = cache_key(one, grid, content="c0ffee")
    for split in (fake_models(device="CPU", decoder_device="GPU"), fake_models(device="CPU", decoder_precision="f16")):
        assert cache_key(split, grid, content="c0ffee") == meta
        assert decoded_key(meta, split, grid) != decoded_key(meta, one, grid)
    assert cache_key(fake_models(device="GPU"), grid, content="c0ffee") != cache_key(one, grid, content="c0ffee")


def test_a_decoder_on_another_device_reuses_the_cached_embeddings(fake_devices, files, red_clip, tmp_path, monkeypatch):
    fake_devices(ALL)
    runs = []
    real = FileEncoder.run
    monkeypatch.setattr(FileEncoder, "run", lambda *a, **k: runs.append(1) or real(*a, **k))
    both_cpu = compile_models(files, device="CPU", cache_dir=tmp_path)
    first = Recognizer(both_cpu).analyze(red_clip, progress=False)
    decoder_gpu = compile_models(files, device="CPU", decoder_device="GPU", cache_dir=tmp_path)
    again = Recognizer(decoder_gpu).analyze(red_clip, progress=False)
    assert runs == [1]  # the second analysis read the embeddings: no encoder ran
    assert again.decoder_device == "GPU" and [p.labels for p in again.predictions] == [
        p.labels for p in first.predictions
    ]
    encoder_gpu = compile_models(files, encoder_device="GPU", decoder_device="CPU", cache_dir=tmp_path)
    Recognizer(encoder_gpu).analyze(red_clip, progress=False)
    assert runs == [1, 1]  # another encoder device: other embeddings


class DoctorCore:
    def __init__(self, names):
        self.available_devices = names

    def get_property(self, device, name):
        return f"Intel {device}"


def test_doctor_rows_say_whether_a_gpu_and_an_npu_are_present():
    present = check_accelerator("NPU", core=DoctorCore(ALL), wanted={})
    assert (present.verdict, present.detail) == ("OK", "NPU (Intel NPU)")
    absent = check_accelerator("NPU", core=DoctorCore(["CPU", "GPU.0"]), wanted={"AR_DEVICE": "CPU"})
    assert absent.verdict == "OK" and absent.detail == "none here (optional: the CPU runs everything)"
    assert absent.fix == f"to use one: {DRIVER_HINTS['NPU']}"
    gpu = check_accelerator("GPU", core=DoctorCore(["CPU", "GPU.0"]), wanted={})
    assert (gpu.verdict, gpu.detail) == ("OK", "GPU.0 (Intel GPU.0)")
    auto = check_accelerator("NPU", core=DoctorCore(["CPU"]), wanted={"AR_DEVICE": "AUTO:NPU,CPU"})
    assert auto.verdict == "OK"  # AUTO falls back to the CPU


def test_doctor_fails_the_row_of_a_device_asked_for_but_absent(capsys, monkeypatch):
    # Real condition: no GPU and no NPU on this machine.
    monkeypatch.setenv("AR_ENCODER_DEVICE", "NPU")
    assert main(["doctor", "--no-cameras", "--codecs", "", "--json"]) == 1
    rows = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    if "NPU" in devices.get_core().available_devices:
        pytest.skip("this machine has an NPU")
    assert rows["NPU"] == {
        "name": "NPU",
        "verdict": "FAIL",
        "detail": "AR_ENCODER_DEVICE=NPU but OpenVINO sees no NPU here",
        "fix": f"{DRIVER_HINTS['NPU']}; or use CPU",
    }


def test_model_choice_offers_the_devices_present_and_splits_on_request(fake_devices):
    pytest.importorskip("ipywidgets")
    from actionrec.notebook.panels import ModelChoice

    fake_devices(ALL)
    choice = ModelChoice(device="CPU", precision="FP16", decoder_device="CPU")
    assert list(choice._device.options) == ["CPU", "GPU.0", "NPU", "AUTO"]
    assert choice.devices == {"device": "CPU", "encoder_device": "CPU", "decoder_device": "CPU"}
    choice._device.value = "NPU"  # the encoder follows the device; the decoder was set apart
    assert choice.devices == {"device": "NPU", "encoder_device": "NPU", "decoder_device": "CPU"}
    choice._encoder.value = "GPU.0"
    assert (choice.encoder_device, choice.decoder_device) == ("GPU.0", "CPU")
    assert "encoder_device='GPU.0'" in repr(choice)
    plain = ModelChoice(device="GPU.0", precision="FP16")
    assert (plain.encoder_device, plain.decoder_device) == ("GPU.0", "GPU.0")
    assert repr(plain) == "ModelChoice(device='GPU.0', precision='FP16')"


def test_a_compare_configuration_carries_the_decoder_device_apart_from_its_embeddings():
    from actionrec.insight import CompareConfig

    split = CompareConfig(precision="FP16", device="GPU", decoder_device="CPU")
    assert split.name == "FP16 GPU+CPU" and split.encoder_key() == CompareConfig(device="GPU").encoder_key()
    assert CompareConfig(device="CPU", decoder_device="CPU") == CompareConfig(device="CPU")
    assert CompareConfig(device="CPU", decoder_device="CPU").name == "FP16 CPU"
