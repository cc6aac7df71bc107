"""Few-shot custom actions: examples, training, the unknown state, the file, other models, the CLI.

The tiny models' pooled feature holds each window's per-quadrant colour means and their change over
the window (tests/support/tiny_models.py), so red, blue and brightening-grey clips are three
distinct kinds, and green is a fourth that no example looks like.
"""

import json
from argparse import Namespace

import numpy as np
import pytest

from actionrec.errors import HeadError, HeadMismatchError
from actionrec.heads import (
    ACTIONS_FORMAT,
    UNKNOWN,
    ActionExample,
    CustomActions,
    ExampleFeatures,
    TrainedOn,
    collect_features,
    examples_from_folder,
    fit_actions,
    parse_example,
    train_actions,
)
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import LiveRecognizer, Recognizer, RecognizerOptions
from tests.conftest import shared_path
from tests.support.cli import run_actionrec
from tests.support.tiny_models import write_model_dir


def solid(bgr):
    def paint(index, t, img):
        img[:] = bgr

    return paint


def brightening(start, per_s):
    """Grey getting brighter over the whole clip: every window's second half is brighter than its first."""

    def paint(index, t, img):
        img[:] = min(255, round(start + per_s * t))

    return paint


# kind -> painter of shade k (training uses shades 0, 3 and 6; held-out clips the shades between)
KINDS = {
    "red": lambda k: solid((20 + k, 10 + k, 170 + k)),
    "blue": lambda k: solid((170 + 2 * k, 20 + k, 10 + k)),
    "brightening": lambda k: brightening(40 + k, 30),
}


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


@pytest.fixture(scope="module")
def clip(video_factory):
    def make(kind, shade, duration_s=2.5):
        paint = KINDS[kind](shade) if kind in KINDS else solid((10 + 2 * shade, 170 + 4 * shade, 20))  # green
        name = f"act-{kind}-{shade}-{duration_s}.mp4"
        # no frame-index barcode: its black and white cells would be most of what changes
        return video_factory(name, fps=30, duration_s=duration_s, size_wh=(160, 120), paint=paint, stamp_index=False)

    return make


@pytest.fixture(scope="module")
def training(clip):
    """Three examples per kind; one of each is a time range of a longer clip."""
    examples = []
    for kind in KINDS:
        examples += [f"{kind}={clip(kind, 0)}", f"{kind}={clip(kind, 3)}", f"{kind}={clip(kind, 6, 4.0)}@0.5-3"]
    return examples


@pytest.fixture(scope="module")
def head(models, training):
    # module-scoped: set up before the suite's per-test isolated folders, so no cache is written
    return train_actions(Recognizer(models), training, cache=False)


def clip_label(head, decoded):
    """The clip's class: the most probable one over its windows' mean probabilities."""
    return head.labels[int(np.argmax(head.probabilities(decoded.logits, decoded.features).mean(axis=0)))]


# -- examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("waving=clip.mp4", ActionExample("waving", "clip.mp4")),
        ("clapping=long.mp4@12.5-18", ActionExample("clapping", "long.mp4", 12.5, 18.0)),
        ("jump rope = data/a@b.mp4", ActionExample("jump rope", "data/a@b.mp4")),
        ("x=data/a@b.mp4@0-1.5", ActionExample("x", "data/a@b.mp4", 0.0, 1.5)),
        ("x=a=b.mp4@ 2 - 3 ", ActionExample("x", "a=b.mp4", 2.0, 3.0)),
    ],
)
def test_examples_parse_as_written(text, expected):
    assert parse_example(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clip.mp4", "names no action; write ACTION=VIDEO or ACTION=VIDEO@START-END"),
        ("=clip.mp4", "action name '' must be non-empty"),
        ("waving=", "has no video"),
        ("waving=clip.mp4@12.5", r"'@12.5' is not a time range START-END in seconds"),
        ("waving=clip.mp4@1-2-3", "is not a time range"),
        ("waving=clip.mp4@5-2", r"the range ends \(2 s\) at or before it starts \(5 s\)"),
        ("waving=clip.mp4@3-3", "at or before it starts"),
        ("Unknown=clip.mp4", "is reserved for windows unlike every example"),
    ],
)
def test_malformed_examples_are_clear_errors(text, message):
    with pytest.raises(HeadError, match=message):
        parse_example(text)


def test_a_folder_per_action_gives_one_example_per_video(tmp_path):
    for action, names in {"waving": ["a.mp4", "b.MKV", ".hidden.mp4", "notes.txt"], "clapping": ["c.webm"]}.items():
        (tmp_path / action).mkdir()
        for name in names:
            (tmp_path / action / name).write_bytes(b"")
    got = examples_from_folder(tmp_path)
    assert [(e.action, e.source.rsplit("/", 1)[-1], e.is_range) for e in got] == [
        ("clapping", "c.webm", False),
        ("waving", "a.mp4", False),
        ("waving", "b.MKV", False),
    ]
    (tmp_path / "stray.mp4").write_bytes(b"")
    with pytest.raises(HeadError, match=r"stray.mp4 not in an action sub-folder; move each video into"):
        examples_from_folder(tmp_path)
    (tmp_path / "stray.mp4").unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(HeadError, match=r"empty holds no video"):
        examples_from_folder(tmp_path)
    with pytest.raises(HeadError, match="is not a folder"):
        examples_from_folder(tmp_path / "nowhere")


def test_an_examples_windows_are_those_whose_centre_lies_in_its_range(models, clip):
    """Stride 0.5 s, window 1 s: centres at 0.5, 1.0, ... ; @1-2 keeps the windows centred at 1.0, 1.5, 2.0."""
    path = clip("red", 2, 4.0)
    (got,) = collect_features(Recognizer(models), [ActionExample("red", str(path), 1.0, 2.0)])
    assert list((got.starts_s + got.ends_s) / 2) == pytest.approx([1.0, 1.5, 2.0])
    (whole,) = collect_features(Recognizer(models), [ActionExample("red", str(path))])
    assert len(whole.features) == Recognizer(models).analyze_windows(path, progress=False).num_windows


@pytest.mark.parametrize(
    ("rng", "message"),
    [
        ((4.5, 6.0), r"the range is outside the clip, which spans 0.00-4.\d\d s"),
        ((1.0, 9.0), "the range is outside the clip"),
        ((1.1, 1.4), r"holds no window centre \(windows are 1 s long, 0.5 s apart\); make the range at least 1 s long"),
    ],
)
def test_a_range_outside_its_clip_or_without_windows_is_refused(models, clip, rng, message):
    path = clip("red", 2, 4.0)
    with pytest.raises(HeadError, match=message):
        collect_features(Recognizer(models), [ActionExample("red", str(path), *rng)])


def test_a_range_may_end_just_past_the_last_frame(models, clip):
    path = clip("red", 2, 4.0)  # frames up to 3.97 s; windows end at 4.0 s at most
    (got,) = collect_features(Recognizer(models), [ActionExample("red", str(path), 3.0, 4.2)])
    assert len(got.features) >= 1


def test_too_few_examples_are_refused_before_any_analysis(models):
    rec = Recognizer(models)
    with pytest.raises(HeadError, match=r"at least two actions, got \['red'\]"):
        train_actions(rec, ["red=nowhere-a.mp4", "red=nowhere-b.mp4"])
    with pytest.raises(HeadError, match=r"each action needs at least two examples .*'blue' has 1; .*time ranges"):
        train_actions(rec, ["red=nowhere-a.mp4", "red=nowhere-b.mp4", "blue=nowhere-c.mp4"])


# -- the head ---------------------------------------------------------------------------------


def test_three_kinds_are_recognised_on_held_out_clips_and_a_fourth_is_unknown(models, head, clip):
    assert head.labels == ("red", "blue", "brightening", UNKNOWN)
    rec = Recognizer(models)
    held_out = [(kind, clip(kind, shade)) for kind in KINDS for shade in (1, 2, 4, 5)]
    got = [(kind, clip_label(head, rec.analyze_windows(path, progress=False))) for kind, path in held_out]
    right = sum(kind == label for kind, label in got)
    assert right / len(got) >= 0.9, got
    for shade in (0, 1, 2):
        decoded = rec.analyze_windows(clip("green", shade), progress=False)
        probs = head.probabilities(decoded.logits, decoded.features)
        assert clip_label(head, decoded) == UNKNOWN
        assert (probs.argmax(axis=1) == head.labels.index(UNKNOWN)).all()
        assert (head.radius_ratios(decoded.features) > 1).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_the_head_gives_the_timeline_its_classes(models, head, clip):
    timeline = Recognizer(models, head=head, options=RecognizerOptions(top_k=2, smoothing=3)).analyze(
        clip("blue", 4), progress=False
    )
    assert timeline.labels == head.labels and timeline.head == head.name
    assert {p.label for p in timeline.predictions} == {"blue"}
    assert all(len(p.labels) == 2 for p in timeline.predictions)
    assert [s.label for s in timeline.segments()] == ["blue"]


def test_the_evaluation_on_clean_examples_is_all_right(head):
    ev = head.evaluation
    assert ev.accuracy == 1.0 and not ev.missed
    np.testing.assert_array_equal(ev.confusion, [[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]])
    assert "9 of 9 examples right (accuracy 100%)" in str(ev)
    assert [r.windows for r in ev.results] == [n for _, n in head.examples]


def points(centre, windows=3, seed=0):
    rng = np.random.default_rng(seed)
    return (np.asarray(centre, np.float32) + rng.normal(0, 0.01, (windows, len(centre)))).astype(np.float32)


def test_leave_one_example_out_on_a_case_worked_by_hand():
    """Four 'a' examples at A, one mislabelled 'b' example also at A, three 'b' examples at B.

    Left out, the mislabelled one lies among the four 'a's: predicted 'a', a miss. Every other
    example still has its own action's examples nearby (the 'a's outnumber the mislabelled one),
    so it is right: 7 of 8, and the confusion matrix is [[4, 0, 0], [1, 3, 0]].
    """
    a, b = [10, 0, 0, 0, 0, 0], [0, 10, 0, 0, 0, 0]
    feats = [("a", a)] * 4 + [("b", a)] + [("b", b)] * 3
    examples = [
        ExampleFeatures(ActionExample(action, f"clip{i}.mp4"), points(at, seed=i), np.zeros(3), np.ones(3))
        for i, (action, at) in enumerate(feats)
    ]
    trained_on = TrainedOn("m", "FP32", "d", "670", 6, 1.0, 0.5)
    ev = fit_actions(examples, trained_on=trained_on).evaluation
    np.testing.assert_array_equal(ev.confusion, [[4, 0, 0], [1, 3, 0]])
    assert ev.accuracy == pytest.approx(7 / 8)
    assert [(r.example.source, r.predicted) for r in ev.missed] == [("clip4.mp4", "a")]
    assert "7 of 8 examples right (accuracy 88%)" in str(ev) and "missed: b=clip4.mp4 -> a" in str(ev)


def test_the_file_round_trips_with_the_same_probabilities(models, head, clip, tmp_path):
    path = head.save(tmp_path / "my-actions.json")
    assert [p.name for p in tmp_path.iterdir()] == ["my-actions.json"]  # no temporary file left
    doc = json.loads(path.read_text())
    assert doc["format"] == ACTIONS_FORMAT == "actionrec.actions/1"
    assert doc["labels"] == list(head.labels)
    assert doc["trained_on"] | {} == {
        "model": models.model,
        "precision": "FP32",
        "decoder_id": models.decoder_id,
        "feature_name": "670",
        "feature_dim": 1024,
        "window_s": 1.0,
        "stride_s": 0.5,
    }
    assert [e["windows"] for e in doc["examples"]] == [n for _, n in head.examples]
    assert doc["examples"][2]["start_s"] == 0.5 and doc["examples"][2]["end_s"] == 3.0
    loaded = CustomActions.load(path)
    assert loaded.name == "actions: my-actions.json" and loaded.labels == head.labels
    for kind in ("red", "green"):
        decoded = Recognizer(models).analyze_windows(clip(kind, 2), progress=False)
        np.testing.assert_array_equal(
            loaded.probabilities(decoded.logits, decoded.features), head.probabilities(decoded.logits, decoded.features)
        )
    np.testing.assert_array_equal(loaded.evaluation.confusion, head.evaluation.confusion)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="actionrec.actions/0"), r"format 'actionrec.actions/0', not 'actionrec.actions/1'"),
        (lambda d: d["scaler"].update(mean=[0.0] * 3), r"mean must be finite numbers of shape \[1024\]"),
        (lambda d: d["unknown"].update(radii=[1.0, -1.0, 1.0]), "radii must be positive"),
        (lambda d: d.pop("classifier"), "malformed custom-actions file"),
    ],
)
def test_a_damaged_file_is_refused_saying_why(head, tmp_path, change, message):
    doc = head.to_dict()
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(HeadError, match=message):
        CustomActions.load(path)


def test_a_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(HeadError, match="does not exist; train one with python -m actionrec learn"):
        CustomActions.load(tmp_path / "nope.json")


@pytest.fixture(scope="module")
def other_models(tmp_path_factory, tiny_labels_file, tiny_model_dir):
    """Another decoder (other weights: 401 classes), and the same tiny models at another precision."""
    root = write_model_dir(tmp_path_factory.mktemp("other"), precisions=("FP32",), num_classes=401)
    from tests.support.tiny_models import write_labels

    labels = write_labels(tmp_path_factory.mktemp("l401") / "labels.json", 401)
    cc = tmp_path_factory.mktemp("cc2")
    return {
        "decoder": compile_models(resolve_model(precision="FP32", model_dir=root, labels=labels), cache_dir=cc),
        "precision": compile_models(
            resolve_model(precision="FP16", model_dir=tiny_model_dir, labels=tiny_labels_file), cache_dir=cc
        ),
    }


@pytest.mark.parametrize("other", ["decoder", "precision"])
def test_a_head_trained_for_one_model_is_refused_on_another(head, other_models, other):
    models = other_models[other]
    message = (
        r"was trained on action-recognition-0001 FP32 \(decoder \w{12}, feature '670' of 1024 values\), but these "
        r"models are action-recognition-0001 FP(32|16) .*Analyse with the models it was trained on \(--model "
        r"action-recognition-0001 --precision FP32, and the same --model-dir\), or retrain it on these: "
        r"python -m actionrec learn --model action-recognition-0001 --precision FP(32|16)"
    )
    with pytest.raises(HeadMismatchError, match=message):
        Recognizer(models, head=head)
    with pytest.raises(HeadMismatchError, match="was trained on"):
        LiveRecognizer(models, head=head)


def test_the_live_recognizer_uses_the_head(tiny_model_dir, tiny_labels_file, tmp_path, head):
    from tests.test_live import PacedCamera, run_camera

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    live_models = compile_models(files, cache_dir=tmp_path / "cc", hint="LATENCY")
    times = [i / 30 for i in range(75)]
    for bgr, expected in (((160, 20, 20), "blue"), ((20, 180, 20), UNKNOWN)):
        with LiveRecognizer(live_models, head=head, options=RecognizerOptions(stride_s=0.5, top_k=2)) as live:
            got = run_camera(live, PacedCamera(live, times, bgr=lambda i, t, bgr=bgr: bgr))
        assert live.labels == head.labels
        assert len(got) >= 3 and {p.label for p in got} == {expected}, [p.labels for p in got]


# -- the command line -------------------------------------------------------------------------


def model_flags(tiny_model_dir, tiny_labels_file, precision="FP32"):
    return ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--precision", precision]


def test_learn_then_analyze_with_the_actions(tiny_model_dir, tiny_labels_file, clip, tmp_path):
    folder = tmp_path / "examples"
    for kind in ("red", "blue"):
        (folder / kind).mkdir(parents=True)
        for shade in (0, 6):
            (folder / kind / f"{shade}.mp4").write_bytes(clip(kind, shade).read_bytes())
    out = tmp_path / "my-actions.json"
    flags = model_flags(tiny_model_dir, tiny_labels_file)
    r = run_actionrec(
        "learn", "--examples", str(folder), "--example", f"brightening={clip('brightening', 0)}",
        "--example", f"brightening={clip('brightening', 3)}",
        "--example", f"brightening={clip('brightening', 6, 4.0)}@0.5-3", "--out", str(out), "--no-progress", *flags,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "trained 3 actions + unknown on 7 examples" in r.stdout
    assert "7 of 7 examples right (accuracy 100%)" in r.stdout
    assert "confusion (rows: the example's action; columns: predicted)" in r.stdout
    assert f"wrote {out}" in r.stdout and "analyze --actions" in r.stdout
    assert json.loads(out.read_text())["actions"] == ["brightening", "blue", "red"]  # --example first, then the folder

    exports = tmp_path / "out"
    inputs = [str(clip("red", 3)), str(clip("green", 0))]
    r = run_actionrec(
        "analyze", *inputs, "--actions", str(out), "--out", str(exports), "--top-k", "2", "--smooth", "3",
        "--threshold", "0.5", "--formats", "json,csv,vtt", "--no-progress", *flags,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    red, green = (json.loads((exports / f"{p.rsplit('/', 1)[-1][:-4]}.json").read_text()) for p in inputs)
    assert {w["top_k"][0]["label"] for w in red["windows"]} == {"red"} and len(red["windows"][0]["top_k"]) == 2
    assert {w["top_k"][0]["label"] for w in green["windows"]} == {UNKNOWN}
    assert "red " in r.stdout and "unknown " in r.stdout
    assert "unknown" in (exports / f"{inputs[1].rsplit('/', 1)[-1][:-4]}.vtt").read_text()


def test_learn_and_analyze_refuse_clearly(tiny_model_dir, tiny_labels_file, clip, head, tmp_path):
    path = head.save(tmp_path / "fp32.json")
    r = run_actionrec("analyze", str(clip("red", 4)), "--actions", str(path), "--no-progress",
                      *model_flags(tiny_model_dir, tiny_labels_file, "FP16"))  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "error: actions: fp32.json was trained on action-recognition-0001 FP32" in r.stderr
    r = run_actionrec("learn", "--example", "red=a.mp4@3", "--out", str(tmp_path / "x.json"),
                      *model_flags(tiny_model_dir, tiny_labels_file))  # fmt: skip
    assert r.returncode == 1 and "'@3' is not a time range START-END in seconds" in r.stderr
    r = run_actionrec("learn", "--out", str(tmp_path / "x.json"), *model_flags(tiny_model_dir, tiny_labels_file))
    assert r.returncode == 1 and "no examples: give --example" in r.stderr
    assert not (tmp_path / "x.json").exists()


def test_actions_and_groups_cannot_be_combined(head):
    from actionrec.cli.analyze import actions_head

    with pytest.raises(HeadError, match="--actions and --groups cannot be combined"):
        actions_head(Namespace(actions="a.json", groups="sports.json"), models=None)
    assert actions_head(Namespace(actions=None), models=None) is None


# -- real-size graphs -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy_models(proxy_model_dir, tmp_path_factory):
    """Full-size proxy models (the real decoder graph, random weights), compiled for files."""
    labels = shared_path("omz", "action-recognition-0001", "kinetics400-id2label.json")
    files = resolve_model(precision="FP16", model_dir=proxy_model_dir, labels=labels)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc-proxy"), hint="THROUGHPUT")


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.timeout(1200)
def test_few_shot_on_real_size_graphs(proxy_models, clip):
    assert (proxy_models.feature_name, proxy_models.feature_dim) == ("670", 512)  # found in the real decoder graph
    rec = Recognizer(proxy_models)
    examples = [f"{kind}={clip(kind, shade)}" for kind in KINDS for shade in (0, 3, 6)]
    head = train_actions(rec, examples)
    held_out = [(kind, clip(kind, shade)) for kind in KINDS for shade in (1, 2, 4, 5)]
    got = [(kind, clip_label(head, rec.analyze_windows(path, progress=False))) for kind, path in held_out]
    assert sum(kind == label for kind, label in got) / len(got) >= 0.9, (got, str(head.evaluation))
    assert clip_label(head, rec.analyze_windows(clip("green", 0), progress=False)) == UNKNOWN
