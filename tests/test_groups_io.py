"""Label groups through the exports (JSON head, CSV, WebVTT, annotated video) and ``analyze --groups``."""

from __future__ import annotations

import csv
import json
from importlib import resources

import numpy as np
import pytest

from actionrec.export import export_source, head_to_dict, read_json
from actionrec.heads import OTHER, LabelGroups
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import Recognizer, RecognizerOptions
from actionrec.render import annotate, prediction_at
from actionrec.results import Timeline
from actionrec.video import open_video
from tests.support.cli import run_actionrec

COLOURS = {"warm": ["red"], "cool": ["blue", "green"]}


def red_then_blue(index, t, img):
    img[:] = (30, 30, 220) if t < 1.5 else (220, 30, 30)


@pytest.fixture(scope="module")
def clip(video_factory):
    return video_factory("groups_red_then_blue.mp4", fps=25, duration_s=3.0, paint=red_then_blue, stamp_index=False)


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


@pytest.fixture(scope="module")
def groups_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("groups") / "colours.json"
    path.write_text(json.dumps(COLOURS))
    return path


def test_every_export_shows_the_groups(models, clip, groups_file, tmp_path):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in requirements-dev.txt")
    groups = LabelGroups.from_file(groups_file, labels=models.labels)
    options = RecognizerOptions(stride_s=0.5, top_k=2)
    timeline = Recognizer(models, options=options, head=groups).analyze(clip, progress=False, cache=False)
    paths = export_source(
        timeline, clip, tmp_path, formats=("json", "csv", "vtt", "mp4"), input_hw=models.input_size_hw
    )

    doc = read_json(paths["json"])
    schema = json.loads(resources.files("actionrec").joinpath("schemas/timeline-v2.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc["head"] == {"kind": "groups", "name": "groups: colours.json", "labels": ["warm", "cool", OTHER]}
    assert doc["num_classes"] == 3
    for w in doc["windows"]:
        assert all(doc["head"]["labels"][c["class_id"]] == c["label"] for c in w["top_k"])
    assert [s["label"] for s in doc["segments"]] == ["warm", "cool"]

    rows = list(csv.DictReader(paths["csv"].open()))
    assert rows[0]["label_1"] == "warm" and rows[-1]["label_1"] == "cool"
    assert {r["label_2"] for r in rows} <= {"warm", "cool", OTHER}

    vtt = paths["vtt"].read_text()
    assert "warm" in vtt and "cool" in vtt and "red" not in vtt and "blue" not in vtt

    # The annotated video draws the group names: each frame is far closer to the frame drawn with
    # the groups timeline than to the one drawn with the model's own classes.
    model_timeline = Recognizer(models, options=options).analyze(clip, progress=False, cache=False)
    import av

    with av.open(str(paths["mp4"])) as container:
        exported = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    with open_video(clip, progress=False) as video:
        frames = list(video)
    assert len(exported) == len(frames) == 75
    for i in (30, 70):  # 1.2 s (red: "warm" vs "red"), 2.8 s (blue: "cool" vs "blue")
        t = frames[i].timestamp_s
        as_groups = annotate(frames[i].image_bgr, prediction=prediction_at(timeline, t), timestamp_s=t)
        as_model = annotate(frames[i].image_bgr, prediction=prediction_at(model_timeline, t), timestamp_s=t)
        differs = np.abs(as_groups.astype(int) - as_model).max(axis=2) > 60  # where the two texts differ
        assert differs.sum() > 50
        to_groups = np.abs(exported[i].astype(int) - as_groups)[differs].mean()
        to_model = np.abs(exported[i].astype(int) - as_model)[differs].mean()
        assert to_groups < to_model / 3, (i, to_groups, to_model)


def tiny_args(tiny_model_dir, tiny_labels_file, out):
    return ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--out", str(out), "--no-progress"]


def test_analyze_groups_end_to_end(tiny_model_dir, tiny_labels_file, clip, groups_file, tmp_path):
    out = tmp_path / "out"
    r = run_actionrec(
        "analyze", str(clip), *tiny_args(tiny_model_dir, tiny_labels_file, out), "--groups", str(groups_file),
        "--formats", "json,csv", "--top-k", "2", "--no-cache",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "classes: groups: colours.json (3)" in r.stdout
    summary_labels = [
        line.split()[0] for line in r.stdout.splitlines() if line.startswith("  ") and " s  mean " in line
    ]
    assert sorted(summary_labels) == ["cool", "warm"], r.stdout
    doc = json.loads((out / "groups_red_then_blue.json").read_text())
    assert doc["head"]["kind"] == "groups" and doc["head"]["labels"] == ["warm", "cool", OTHER]
    rows = list(csv.DictReader((out / "groups_red_then_blue.csv").open()))
    assert rows[0]["label_1"] == "warm" and rows[-1]["label_1"] == "cool"


def test_analyze_groups_errors_are_one_line(tiny_model_dir, tiny_labels_file, clip, tmp_path):
    r = run_actionrec(
        "analyze", str(clip), *tiny_args(tiny_model_dir, tiny_labels_file, tmp_path), "--groups", "sports"
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "error: groups: sports.json: group 'ball sports': unknown label 'dribbling basketball'" in r.stderr
    r = run_actionrec(
        "analyze", str(clip), *tiny_args(tiny_model_dir, tiny_labels_file, tmp_path), "--groups", "x.json"
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "'x.json': no such file and no shipped example of that name" in r.stderr and "household-chores" in r.stderr
    assert not list(tmp_path.glob("*.json")), "nothing exported"
    r = run_actionrec("analyze", "--help")
    assert "--groups FILE" in r.stdout and "sports" in r.stdout


@pytest.mark.parametrize(
    ("head", "kind", "name"),
    [
        ("", "model", "m"),
        ("groups: colours.json", "groups", "groups: colours.json"),
        ("actions: mine.json", "actions", "actions: mine.json"),
        ("my head", "custom", "my head"),
        (": x", "custom", ": x"),
    ],
)
def test_the_json_head_kind_comes_from_the_head_name(head, kind, name):
    timeline = Timeline(
        source="v.mp4", labels=("a", "b"), predictions=(), window_s=1.0, stride_s=0.5, step_s=0.0625,
        clip_len=16, top_k=1, model="m", head=head,
    )  # fmt: skip
    assert head_to_dict(timeline) == {"kind": kind, "name": name, "labels": ["a", "b"]}
