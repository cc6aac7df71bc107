"""The second model family, driver-action-recognition-adas-0002 (9 driver actions), end to end.

Its real graphs are not available here (only its ``model.yml`` and labels), so tiny IRs with its
contract (encoder ``[1,3,224,224]`` -> ``[1,512,1,1]``, decoder ``[1,16,512]`` -> ``[1,9]``) stand in.
Through the local mirror they are served under the registry's pinned paths, with the registry's
facts substituted by the tiny files' sizes and SHA-384 (in-process with ``monkeypatch``, in a
``python -m actionrec`` subprocess through ``tests/support/registry_hook``); the labels are the real
pinned ``driver_actions.txt`` from ``../shared``, checked against the real pinned SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os

import pytest

from actionrec.errors import ChecksumMismatchError, LabelsError
from actionrec.models import compile_models, get_model, registry, resolve_model
from actionrec.pipeline import Recognizer
from tests.conftest import shared_path
from tests.support.cli import REPO, run_actionrec
from tests.support.manifests import serve_spec, substituted_spec, write_registry_override
from tests.support.tiny_models import DRIVER_MODEL, tiny_driver_labels
from tests.support.videos import make_video

HOOK = REPO / "tests" / "support" / "registry_hook"


def blue_then_red(index: int, t: float, img) -> None:
    img[:] = (200, 60, 40) if t < 2.0 else (40, 60, 200)  # BGR: the tiny decoder's class 0, then class 2


@pytest.fixture(scope="module")
def clip(video_factory):
    return video_factory("driver_blue_then_red.mp4", fps=25, duration_s=4.0, paint=blue_then_red)


@pytest.fixture
def real_labels() -> bytes:
    """The pinned driver labels, byte for byte (``../shared``): the download checks the real SHA-256."""
    return shared_path("omz", DRIVER_MODEL, "driver_actions.txt").read_bytes()


@pytest.fixture
def mirror(tiny_model_dir, real_labels, http_server, monkeypatch):
    """The registry's driver entry with the tiny IRs' facts, served with the real labels."""
    spec = substituted_spec(tiny_model_dir, DRIVER_MODEL)
    monkeypatch.setitem(registry.MODELS, DRIVER_MODEL, spec)
    return serve_spec(http_server, spec, tiny_model_dir, labels_data=real_labels)


def test_registry_pins_the_driver_model_as_its_model_yml_says():
    spec = get_model(DRIVER_MODEL)
    assert spec.num_classes == 9 and spec.precisions == ("FP32", "FP16", "FP16-INT8")
    release = {f.name: f.url.split("/open_model_zoo/", 1)[1].split("/", 1)[0] for f in spec.model_files}
    for precision, expected in (("FP32", "2023.0"), ("FP16", "2023.0"), ("FP16-INT8", "2022.3")):
        assert {release[f.name] for f in spec.files(precision)} == {expected}, precision  # all four files
    assert spec.labels.name == "labels/driver_actions.txt" and spec.labels.algorithm == "sha256"
    assert spec.labels.url.endswith("/demos/action_recognition_demo/python/driver_actions.txt")


def test_shared_driver_labels_match_the_pin(real_labels):
    assert hashlib.sha256(real_labels).hexdigest() == get_model(DRIVER_MODEL).labels.digest
    names = real_labels.decode().splitlines()
    assert len(names) == 9 and names[0] == "Safe driving" and names[-1] == "Hair and makeup"


def test_mirror_download_compile_analyze_and_export(mirror, http_server, clip, tmp_path):
    from actionrec.export import export_timeline

    cache = tmp_path / "cache"
    files = resolve_model(DRIVER_MODEL, precision="FP16-INT8", cache_dir=cache, progress=False, **mirror)
    assert files.verified and files.labels_path.name == "driver_actions.txt"
    assert files.encoder_xml == cache / f"{DRIVER_MODEL}-encoder/FP16-INT8/{DRIVER_MODEL}-encoder.xml"
    served = {path for path, _ in http_server.requests}
    assert f"/omz/{DRIVER_MODEL}/{DRIVER_MODEL}-decoder/FP16-INT8/{DRIVER_MODEL}-decoder.bin" in served
    assert any(p.endswith("/demos/action_recognition_demo/python/driver_actions.txt") for p in served)

    models = compile_models(files, cache_dir=cache)
    names = tuple(shared_path("omz", DRIVER_MODEL, "driver_actions.txt").read_text().splitlines())
    assert (models.model, models.num_classes, models.labels) == (DRIVER_MODEL, 9, names)
    timeline = Recognizer(models).analyze(clip, progress=False, cache=False)
    assert [s.label for s in timeline.segments(threshold=0.3) if not s.uncertain] == ["Safe driving", "Texting right"]

    out = export_timeline(timeline, tmp_path / "out", formats=("json", "csv", "vtt"), stem="drive")
    doc = json.loads(out["json"].read_text())
    assert (doc["model"], doc["num_classes"], doc["head"]["labels"]) == (DRIVER_MODEL, 9, list(names))
    rows = list(csv.DictReader(out["csv"].open()))
    assert rows[0]["label_1"] == "Safe driving" and rows[-1]["label_1"] == "Texting right"
    assert "Texting right" in out["vtt"].read_text()


def test_mirror_serving_other_label_bytes_is_refused(tiny_model_dir, real_labels, http_server, monkeypatch, tmp_path):
    spec = substituted_spec(tiny_model_dir, DRIVER_MODEL)
    monkeypatch.setitem(registry.MODELS, DRIVER_MODEL, spec)
    urls = serve_spec(http_server, spec, tiny_model_dir, labels_data=real_labels.replace(b"Safe", b"Safer"))
    with pytest.raises(ChecksumMismatchError, match=r"labels/driver_actions\.txt"):
        resolve_model(DRIVER_MODEL, precision="FP16", cache_dir=tmp_path / "cache", progress=False, **urls)
    assert not (tmp_path / "repo" / "data" / "labels" / "driver_actions.txt").exists()


def test_kinetics_labels_on_the_driver_decoder_say_what_to_do(tiny_model_dir, tiny_labels_file, tmp_path):
    files = resolve_model(DRIVER_MODEL, precision="FP16", model_dir=tiny_model_dir, labels=tiny_labels_file)
    with pytest.raises(
        LabelsError,
        match=r"holds 400 labels but the decoder outputs 9 classes \(model driver-action-recognition-adas-0002\); "
        r"pass that model's 9 labels \(--labels / AR_LABELS\)",
    ):
        compile_models(files, cache_dir=tmp_path)
    with pytest.raises(LabelsError, match=r"^400 labels but the decoder outputs 9 classes \(model driver-action"):
        compile_models(files, labels=[f"l{i}" for i in range(400)], cache_dir=tmp_path)


def test_groups_and_custom_actions_with_nine_classes(tiny_model_dir, tiny_driver_labels_file, clip, tmp_path):
    from actionrec.heads import ActionExample, LabelGroups, train_actions

    files = resolve_model(DRIVER_MODEL, precision="FP16", model_dir=tiny_model_dir, labels=tiny_driver_labels_file)
    recognizer = Recognizer(compile_models(files, cache_dir=tmp_path))
    decoded = recognizer.analyze_windows(clip)
    groups = LabelGroups.from_mapping(
        {"hands busy": ["driver blue", "driver green"], "eyes off": ["driver red"]}, labels=recognizer.models.labels
    )
    grouped = recognizer.timeline(decoded, head=groups)
    assert [s.label for s in grouped.segments(threshold=0.3) if not s.uncertain] == ["hands busy", "eyes off"]
    ranges = (("calm", 0.0), ("calm", 1.0), ("busy", 2.0), ("busy", 3.0))
    examples = [ActionExample(action, str(clip), start_s=t, end_s=t + 1.0) for action, t in ranges]
    actions = train_actions(recognizer, examples)
    custom = recognizer.timeline(decoded, head=actions)
    assert [s.label for s in custom.segments(threshold=0.3) if not s.uncertain] == ["calm", "busy"]
    assert "driver-action-recognition-adas-0002 FP16" in actions.trained_on.describe()


# -- python -m actionrec, as a user runs it ---------------------------------------------------------------


def test_cli_analyze_with_the_model_dir(tiny_model_dir, tiny_driver_labels_file, tmp_path):
    video = make_video(tmp_path / "cabin.mp4", fps=25, duration_s=4.0, paint=blue_then_red)
    out = tmp_path / "out"
    r = run_actionrec(
        "analyze", str(video), "--model", DRIVER_MODEL, "--model-dir", str(tiny_model_dir),
        "--labels", str(tiny_driver_labels_file), "--out", str(out), "--formats", "json,csv,html",
        "--top-k", "9", "--no-progress", "--no-cache",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "cabin.mp4: 7 windows over 4.0 s" in r.stdout
    assert "driver blue " in r.stdout and "driver red " in r.stdout
    doc = json.loads((out / "cabin.json").read_text())
    assert (doc["model"], doc["head"]["labels"]) == (DRIVER_MODEL, tiny_driver_labels())
    assert len(doc["windows"][0]["top_k"]) == 9
    header = next(csv.reader((out / "cabin.csv").open()))
    assert "label_9" in header and "label_10" not in header
    assert DRIVER_MODEL in (out / "cabin.html").read_text()


def test_cli_analyze_through_the_mirror_then_offline(tiny_model_dir, real_labels, http_server, tmp_path):
    spec = substituted_spec(tiny_model_dir, DRIVER_MODEL)
    urls = serve_spec(http_server, spec, tiny_model_dir, labels_data=real_labels)
    env = {
        "ACTIONREC_TEST_REGISTRY": str(write_registry_override(tmp_path / "registry.json", spec)),
        "PYTHONPATH": os.pathsep.join([str(HOOK), str(REPO)]),
    }
    video = make_video(tmp_path / "cabin.mp4", fps=25, duration_s=4.0, paint=blue_then_red)
    cache = tmp_path / "cache"
    args = ["analyze", str(video), "--model", DRIVER_MODEL, "--precision", "FP16-INT8", "--cache-dir", str(cache)]
    args += ["--out", str(tmp_path / "out"), "--formats", "json", "--no-progress"]
    r = run_actionrec(*args, "--base-url", urls["base_url"], "--data-base-url", urls["data_base_url"], env=env)
    assert r.returncode == 0, r.stderr
    assert "Safe driving " in r.stdout and "Texting right " in r.stdout
    assert (cache / f"{DRIVER_MODEL}-encoder/FP16-INT8/{DRIVER_MODEL}-encoder.bin").is_file()
    doc = json.loads((tmp_path / "out" / "cabin.json").read_text())
    assert doc["model"] == DRIVER_MODEL and doc["head"]["labels"][:2] == ["Safe driving", "Texting left"]

    http_server.close()  # everything is cached and verified: no network needed again
    again = run_actionrec(*args, "--offline", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[:3] == r.stdout.splitlines()[:3]


def test_cli_kinetics_labels_for_the_driver_model_one_clear_line(tiny_model_dir, tiny_labels_file, tmp_path):
    video = make_video(tmp_path / "cabin.mp4", fps=25, duration_s=2.0, paint=blue_then_red)
    r = run_actionrec(
        "analyze", str(video), "--model", DRIVER_MODEL, "--model-dir", str(tiny_model_dir),
        "--labels", str(tiny_labels_file), "--out", str(tmp_path / "out"), "--no-progress",
    )  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert f"labels file {tiny_labels_file} holds 400 labels but the decoder outputs 9 classes" in line
    assert "(model driver-action-recognition-adas-0002); pass that model's 9 labels (--labels / AR_LABELS)" in line
    assert not (tmp_path / "out").exists()


def test_cli_offline_without_driver_labels_says_to_pass_them(tiny_model_dir, tmp_path):
    video = make_video(tmp_path / "cabin.mp4", fps=25, duration_s=2.0, paint=blue_then_red)
    r = run_actionrec(
        "analyze", str(video), "--model", DRIVER_MODEL, "--model-dir", str(tiny_model_dir), "--offline", "--no-progress"
    )
    assert r.returncode == 1
    assert "labels/driver_actions.txt is not in the cache" in r.stderr
    assert "or pass a local labels file (--labels / AR_LABELS)" in r.stderr and "--model-dir" not in r.stderr
