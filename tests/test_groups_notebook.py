"""Label groups in the notebook: the live player shows groups, the group editor (no browser)."""

from __future__ import annotations

import asyncio
import json

import pytest

from actionrec.errors import HeadError, HeadMismatchError
from actionrec.heads import OTHER, LabelGroups
from actionrec.models import compile_models, resolve_model
from actionrec.notebook.groups_editor import GroupEditor, add_group, draft_groups, remove_group, search_labels, tick
from actionrec.notebook.player import LivePlayer
from actionrec.pipeline import Recognizer, RecognizerOptions
from tests.support.fake_time import FakeTime
from tests.support.videos import solid

pytestmark = pytest.mark.timeout(120)
LABELS = ("blue", "green", "red", "brightening", "top-heavy")


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="LATENCY")


# -- live player ---------------------------------------------------------------------------------------


def test_the_live_player_shows_group_names(models, video_factory):
    red = video_factory("groups_red_30fps.mp4", fps=30, duration_s=1.6, size_wh=(320, 240), paint=solid((30, 30, 220)))
    groups = LabelGroups.from_mapping({"warm": ["red"], "cool": ["blue", "green"]}, labels=models.labels)
    fake = FakeTime(real_sleep_ratio=1.0)
    player = LivePlayer(models, options=RecognizerOptions.live(top_k=2), head=groups, clock=fake, sleep=fake.sleep)
    report = asyncio.run(player.play(red))
    assert report.predictions, report.summary()
    assert all(p.label == "warm" for p in report.predictions)
    assert all(set(p.labels) <= {"warm", "cool", OTHER} and len(p.labels) == 2 for p in report.predictions)


def test_the_live_player_refuses_groups_of_other_labels(models):
    groups = LabelGroups.from_mapping({"warm": ["red"]}, labels=("red", "blue"))
    with pytest.raises(HeadMismatchError, match="read against 2 labels"):
        LivePlayer(models, head=groups)


# -- the editing rules ----------------------------------------------------------------------------------


def test_search_finds_substrings_in_model_order_then_close_spellings():
    assert search_labels(LABELS, "re") == ("green", "red")
    assert search_labels(LABELS, "  TOP ") == ("top-heavy",)
    assert search_labels(LABELS, "briteninG") == ("brightening",)  # codespell:ignore
    assert search_labels(LABELS, "") == LABELS and search_labels(LABELS, "", limit=2) == LABELS[:2]
    assert search_labels(LABELS, "zzz") == ()


def test_ticking_moves_a_label_between_groups_and_the_draft_is_never_changed_in_place():
    draft = add_group(add_group({}, "warm"), "cool")
    assert draft == {"warm": [], "cool": []}
    one = tick(draft, "warm", "red")
    two = tick(one, "cool", "red")  # a label belongs to at most one group: it moves
    assert draft == {"warm": [], "cool": []} and one == {"warm": ["red"], "cool": []}
    assert two == {"warm": [], "cool": ["red"]}
    assert tick(two, "cool", "red", on=False) == {"warm": [], "cool": []}
    assert remove_group(two, "cool") == {"warm": []}
    with pytest.raises(HeadError, match="no group 'hot': add it first"):
        tick(draft, "hot", "red")
    with pytest.raises(HeadError, match="group 'warm' already exists"):
        add_group(draft, " Warm ")
    with pytest.raises(HeadError, match="'other' is added automatically"):
        add_group(draft, "OTHER")
    with pytest.raises(HeadError, match="a group needs a name"):
        add_group(draft, "  ")
    with pytest.raises(HeadError, match=r"no group 'hot'; groups: 'warm', 'cool'"):
        remove_group(draft, "hot")


def test_a_draft_leaves_out_empty_groups():
    assert draft_groups({"warm": [], "cool": []}, labels=LABELS) is None
    groups = draft_groups({"warm": ["red"], "cool": []}, labels=LABELS, name="mine")
    assert groups.labels == ("warm", OTHER) and groups.name == "mine"


# -- the widget -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def analysed(models, video_factory):
    def red_then_blue(index, t, img):
        img[:] = (30, 30, 220) if t < 1.5 else (220, 30, 30)

    clip = video_factory("editor_red_then_blue.mp4", fps=25, duration_s=3.0, paint=red_then_blue, stamp_index=False)
    recognizer = Recognizer(models, options=RecognizerOptions(stride_s=0.5, top_k=2))
    return recognizer, recognizer.analyze_windows(clip, progress=False, cache=False)


def test_the_editor_recomputes_the_timeline_at_each_change(analysed):
    recognizer, decoded = analysed
    seen = []
    editor = GroupEditor(recognizer, decoded, on_timeline=seen.append, plot=False)
    assert editor.groups is None and editor.timeline.labels == recognizer.models.labels  # no groups yet
    assert [s.label for s in editor.timeline.segments()] == ["red", "blue"]
    editor.add_group("warm")
    assert editor.search("re")[:2] == ("green", "red")
    editor.tick("red")
    assert editor.timeline.labels == ("warm", OTHER) and editor.timeline.head == "groups (edited)"
    assert [s.label for s in editor.timeline.segments()] == ["warm", OTHER]
    editor.add_group("cool")
    editor.tick("blue")
    editor.tick("green")
    assert editor.draft == {"warm": ["red"], "cool": ["blue", "green"]}
    assert [s.label for s in editor.timeline.segments()] == ["warm", "cool"]
    assert "cool" in editor._result.value and "warm" in editor._result.value
    assert seen[-1] is editor.timeline and len(seen) == 6
    editor.remove_group("cool")
    assert editor.timeline.labels == ("warm", OTHER)


def test_the_tick_boxes_drive_the_draft(analysed):
    recognizer, decoded = analysed
    editor = GroupEditor(recognizer, decoded, groups={"warm": ["red"], "cool": []}, plot=False)
    editor._group.value = "cool"
    editor.search("blue")
    (box,) = [b for b in editor._ticks.children if b.description == "blue"]
    box.value = True  # what a click does
    assert editor.draft == {"warm": ["red"], "cool": ["blue"]}
    editor.search("red")
    red = next(b for b in editor._ticks.children if b.description == "red")
    assert red.value is False and "in group 'warm'" in red.tooltip  # ticking it would move it
    red.value = True
    assert editor.draft == {"warm": [], "cool": ["blue", "red"]}
    assert editor.timeline.labels == ("cool", OTHER)


def test_save_and_load_and_errors_on_the_status_line(analysed, tmp_path):
    recognizer, decoded = analysed
    editor = GroupEditor(recognizer, decoded, groups={"warm": ["red"], "cool": ["blue"]}, plot=True)
    assert editor._plot.outputs and "image/png" in editor._plot.outputs[0]["data"]
    path = editor.save(tmp_path / "mine.json")
    assert json.loads(path.read_text()) == {"warm": ["red"], "cool": ["blue"]}
    editor.remove_group("cool")
    editor.load(str(path))
    assert editor.draft == {"warm": ["red"], "cool": ["blue"]} and editor.timeline.head == "groups: mine.json"
    editor._path.value = str(tmp_path / "mine.txt")
    editor._save.click()
    assert "name the file *.json" in editor._status.value
    editor._path.value = "sports"  # a shipped example of Kinetics labels: the tiny model has none of them
    editor._load.click()
    assert "unknown label &#x27;dribbling basketball&#x27;" in editor._status.value
    assert editor.draft == {"warm": ["red"], "cool": ["blue"]}, "a failed load keeps the draft"
    editor._new_name.value = "other"
    editor._add.click()
    assert "added automatically" in editor._status.value and list(editor.draft) == ["warm", "cool"]
