"""Label groups and allow-lists: scores against a hand computation, file rules, shipped files, the engine path."""

from __future__ import annotations

import itertools
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from actionrec.errors import HeadError, HeadMismatchError
from actionrec.export import timeline_to_dict
from actionrec.heads import OTHER, LabelGroups, example_groups, load_groups
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import Recognizer, RecognizerOptions
from actionrec.pipeline.decoded import Head
from tests.conftest import shared_path
from tests.support.tiny_models import tiny_labels

LABELS = ("blue", "green", "red", "brightening", "top-heavy", "class 5", "class 6", "class 7")
SHIPPED = ("eating-and-drinking", "exercise", "household-chores", "music", "sports")


def hand_group_scores(logits_row, labels, mapping):
    """The oracle: softmax with math.exp, then per-group sums with plain loops, 'other' last, renormalised."""
    top = max(logits_row)
    exps = [math.exp(v - top) for v in logits_row]
    total = sum(exps)
    probs = {label: e / total for label, e in zip(labels, exps, strict=True)}
    grouped = [sum(probs[m] for m in members) for members in mapping.values()]
    members_all = {m for members in mapping.values() for m in members}
    grouped.append(sum(p for label, p in probs.items() if label not in members_all))
    s = sum(grouped)
    return [g / s for g in grouped]


# -- scores -------------------------------------------------------------------------------------------


def test_group_scores_are_member_sums_renormalised_with_other_like_a_hand_computation():
    rng = np.random.default_rng(13)
    logits = rng.normal(0, 3, size=(6, len(LABELS))).astype(np.float32)
    mapping = {"cool": ["blue", "green"], "warm": ["red"], "change": ["brightening", "class 6"]}
    groups = LabelGroups.from_mapping(mapping, labels=LABELS, name="test")
    assert isinstance(groups, Head)
    assert groups.labels == ("cool", "warm", "change", OTHER)
    got = groups.probabilities(logits, np.zeros((6, 0), np.float32))
    assert got.shape == (6, 4)
    for w in range(6):
        expected = hand_group_scores([float(v) for v in logits[w]], LABELS, mapping)
        assert got[w].tolist() == pytest.approx(expected, abs=1e-6)
        assert float(got[w].sum()) == pytest.approx(1.0, abs=1e-6)


def test_other_holds_every_label_in_no_group_and_is_zero_when_groups_cover_all():
    logits = np.log(np.array([[0.05, 0.05, 0.5, 0.1, 0.1, 0.1, 0.05, 0.05]], np.float32))
    allow = LabelGroups.allow_list(["red"], labels=LABELS)
    assert allow.labels == ("red", OTHER)
    assert allow.probabilities(logits, np.zeros((1, 0))).tolist()[0] == pytest.approx([0.5, 0.5], abs=1e-6)
    everything = LabelGroups.from_mapping({"a": list(LABELS[:4]), "b": list(LABELS[4:])}, labels=LABELS)
    assert everything.probabilities(logits, np.zeros((1, 0))).tolist()[0] == pytest.approx([0.7, 0.3, 0.0], abs=1e-6)


def test_logits_of_another_width_are_refused():
    groups = LabelGroups.allow_list(["red"], labels=LABELS)
    with pytest.raises(HeadMismatchError, match=r"logits of shape \[2, 5\], expected \[W, 8\]"):
        groups.probabilities(np.zeros((2, 5)), np.zeros((2, 0)))


# -- rules --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"cool": ["blue", "red"], "warm": ["red"]}, r"label 'red' is in group 'warm' and in group 'cool' too"),
        ({"warm": ["red", "red"]}, r"label 'red' is in group 'warm' and twice in that group"),
        ({"warm": ["redd"]}, r"group 'warm': unknown label 'redd'; closest: 'red'"),
        ({"warm": ["purple"]}, r"unknown label 'purple'; none is close; the model has 8 labels"),
        ({"warm": []}, r"group 'warm' is empty"),
        ({"warm": ["red", 3]}, r"group 'warm', entry 1: 3 is a int, not a label"),
        ({"warm": "red"}, r"group 'warm' must be a list of labels, got a str .*\{\"warm\": \[\"red\"\]\}"),
        ({" Other ": ["red"]}, r"'other' is added automatically"),
        ({"Warm": ["red"], "warm ": ["blue"]}, r"groups 'Warm' and 'warm ' have the same name"),
        ({"  ": ["red"]}, r"group name '  ' is empty"),
        ({}, r"holds no group"),
        (["red"], r"expected groups as an object .* got a list"),
    ],
)
def test_malformed_groups_are_refused_with_what_to_do(mapping, match):
    with pytest.raises(HeadError, match=match):
        LabelGroups.from_mapping(mapping, labels=LABELS)


def test_case_and_spacing_resolve_only_to_one_label():
    groups = LabelGroups.from_mapping({"warm": ["  RED "], "change": ["Top-Heavy"]}, labels=LABELS)
    assert groups.groups == (("warm", ("red",)), ("change", ("top-heavy",)))
    with pytest.raises(HeadError, match=r"'RED' matches \['Red', 'red'\] ignoring case and spacing; write one exactly"):
        LabelGroups.from_mapping({"warm": ["RED"]}, labels=("Red", "red", "blue"))
    with pytest.raises(HeadError, match=r"label 'red' is in group 'b' and in group 'a' too"):
        LabelGroups.from_mapping({"a": ["red"], "b": ["Red"]}, labels=LABELS)


def test_allow_list_rules():
    with pytest.raises(HeadError, match="keeps no label"):
        LabelGroups.allow_list([], labels=LABELS)
    with pytest.raises(HeadError, match="label 'red' is listed twice"):
        LabelGroups.allow_list(["red", "RED"], labels=LABELS)


# -- files --------------------------------------------------------------------------------------------


def test_json_and_toml_files_read_the_same_and_round_trip(tmp_path):
    (tmp_path / "colours.json").write_text(json.dumps({"cool": ["blue", "green"], "warm": ["red"]}))
    (tmp_path / "colours.toml").write_text('cool = ["blue", "green"]\n"warm" = ["red"]\n')
    from_json = LabelGroups.from_file(tmp_path / "colours.json", labels=LABELS)
    from_toml = LabelGroups.from_file(tmp_path / "colours.toml", labels=LABELS)
    assert from_json.name == "groups: colours.json" and from_toml.name == "groups: colours.toml"
    assert from_json.groups == from_toml.groups == (("cool", ("blue", "green")), ("warm", ("red",)))
    written = from_json.to_file(tmp_path / "out" / "again.json")
    assert LabelGroups.from_file(written, labels=LABELS).groups == from_json.groups
    (tmp_path / "allow.json").write_text('["red", "blue"]')
    assert LabelGroups.from_file(tmp_path / "allow.json", labels=LABELS).labels == ("red", "blue", OTHER)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("dup.json", '{"warm": ["red"], "warm": ["blue"]}', r"group 'warm' appears twice; merge them"),
        ("bad.json", '{"warm": ["red",]}', r"bad.json is not valid JSON: .*line 1 column"),
        ("bad.toml", "warm = [red]\n", r"bad.toml is not valid TOML: .*line 1"),
        ("dup.toml", 'warm = ["red"]\nwarm = ["blue"]\n', r"dup.toml is not valid TOML"),
        ("table.toml", "[warm]\nred = 1\n", r"group 'warm' must be a list of labels, got a dict"),
        ("empty.json", "  \n", r"empty.json is empty"),
        ("groups.yaml", "warm: [red]", r"unknown suffix '.yaml'; write it as .json or .toml"),
        ("number.json", "3", r"expected groups as an object .* got a int"),
    ],
)
def test_malformed_files_are_refused(tmp_path, name, content, match):
    (tmp_path / name).write_text(content)
    with pytest.raises(HeadError, match=match):
        LabelGroups.from_file(tmp_path / name, labels=LABELS)


def test_unreadable_or_missing_files(tmp_path):
    (tmp_path / "latin1.json").write_bytes('{"caf\xe9": ["red"]}'.encode("latin-1"))  # codespell:ignore
    with pytest.raises(HeadError, match="save it as UTF-8 text"):
        LabelGroups.from_file(tmp_path / "latin1.json", labels=LABELS)
    with pytest.raises(HeadError, match=r"does not exist; give a .json/.toml groups file or a shipped example: eating"):
        LabelGroups.from_file(tmp_path / "nope.json", labels=LABELS)
    with pytest.raises(HeadError, match=r"'nope': no such file and no shipped example of that name; .* sports"):
        load_groups("nope", labels=LABELS)


def test_a_file_wins_over_a_shipped_example_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sports.json").write_text('{"warm": ["red"]}')
    assert load_groups("sports.json", labels=LABELS).labels == ("warm", OTHER)


# -- shipped examples ---------------------------------------------------------------------------------


def kinetics_labels() -> tuple[str, ...]:
    path = shared_path("omz", "action-recognition-0001", "kinetics400-id2label.json")
    doc = json.loads(path.read_text())
    return tuple(doc[str(i)] for i in range(len(doc)))


def test_the_shipped_examples_are_listed():
    assert example_groups() == SHIPPED


@pytest.mark.shared
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_label_is_a_kinetics_label_in_one_group(name):
    labels = kinetics_labels()
    groups = load_groups(name, labels=labels)  # exact names: the lenient match must not be needed
    raw = json.loads((example_file(name)).read_text())
    assert [(g, tuple(m)) for g, m in raw.items()] == list(groups.groups)
    assert all(m in labels for _, members in groups.groups for m in members)
    assert groups.name == f"groups: {name}.json" and len(groups.labels) >= 4
    assert load_groups(f"{name}.json", labels=labels) == groups


def example_file(name):
    from importlib import resources

    return resources.files("actionrec.heads").joinpath("examples", f"{name}.json")


def test_a_shipped_example_against_other_labels_names_the_label():
    with pytest.raises(
        HeadError, match=r"groups: sports.json: group 'ball sports': unknown label 'dribbling basketball'"
    ):
        load_groups("sports", labels=tiny_labels(400))


# -- check_models and the recognizer ------------------------------------------------------------------


def test_check_models_refuses_other_labels():
    groups = LabelGroups.from_mapping({"warm": ["red"]}, labels=LABELS)
    groups.check_models(SimpleNamespace(labels=LABELS))
    with pytest.raises(HeadMismatchError, match=r"does not fit these models: unknown label 'red'; closest: 'Red'"):
        groups.check_models(SimpleNamespace(labels=("blue", "Red")))
    with pytest.raises(HeadMismatchError, match=r"read against 8 labels in another order .* labels=models.labels"):
        groups.check_models(SimpleNamespace(labels=tuple(reversed(LABELS))))


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


def red_then_blue(index, t, img):
    img[:] = (30, 30, 220) if t < 1.5 else (220, 30, 30)


@pytest.fixture(scope="module")
def analysed(models, video_factory):
    clip = video_factory("red_then_blue.mp4", fps=25, duration_s=3.0, paint=red_then_blue, stamp_index=False)
    recognizer = Recognizer(models, options=RecognizerOptions(stride_s=0.5, top_k=2))
    return recognizer, recognizer.analyze_windows(clip, progress=False, cache=False)


def test_the_recognizer_timeline_shows_groups_summed_from_the_model_probabilities(analysed):
    recognizer, decoded = analysed
    groups = LabelGroups.from_mapping({"warm": ["red"], "cool": ["blue", "green"]}, labels=recognizer.models.labels)
    model = recognizer.timeline(decoded, head=None, top_k=400)
    grouped = recognizer.timeline(decoded, head=groups)
    assert grouped.labels == ("warm", "cool", OTHER) and grouped.head == "groups"
    assert [s.label for s in grouped.segments()] == ["warm", "cool"]
    best_group = []
    for mp, gp in zip(model.predictions, grouped.predictions, strict=True):
        p = dict(zip(mp.labels, mp.scores, strict=True))
        warm, cool = p["red"], p["blue"] + p["green"]
        assert gp.probs.tolist() == pytest.approx([warm, cool, 1 - warm - cool], abs=1e-5)
        best_group.append(max(warm, cool, 1 - warm - cool))
    # The uncertain threshold applies to the group scores: a window is uncertain when its best group is below it.
    ranked = sorted(best_group)
    gaps = [(b - a, (a + b) / 2) for a, b in itertools.pairwise(ranked)]
    threshold = max(gaps)[1]  # midway across the widest gap: no window sits near it
    doc = timeline_to_dict(grouped, threshold=threshold)
    assert [w["uncertain"] for w in doc["windows"]] == [b < threshold for b in best_group]
    assert any(b < threshold for b in best_group) and any(s["uncertain"] for s in doc["segments"])


def test_a_recognizer_refuses_groups_of_other_labels(models):
    groups = LabelGroups.from_mapping({"warm": ["red"]}, labels=LABELS)
    with pytest.raises(HeadMismatchError, match=r"read against 8 labels in another order than these models' 400"):
        Recognizer(models, head=groups)
