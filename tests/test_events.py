"""Action events: rules, hysteresis / merging / minimum duration, exports with thumbnails, CLI, live player."""

from __future__ import annotations

import asyncio
import csv
import json
import random

import cv2
import numpy as np
import pytest

from actionrec.errors import HeadError
from actionrec.export import export_events, read_json, schema_text, write_json
from actionrec.heads import ActionEvent, EventRule, EventTracker, detect_events, load_rules, parse_rule
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import Recognizer, RecognizerOptions
from actionrec.results import Prediction, Timeline
from tests.support.cli import run_actionrec
from tests.support.fake_time import FakeTime
from tests.support.videos import read_stamp

pytestmark = pytest.mark.timeout(120)
LABELS = ("clap", "wave (not a hand)", "other")
RED, BLUE = (30, 30, 220), (220, 30, 30)


def scripted(scores, *, stride_s=0.5, window_s=1.0, label_scores=None, with_probs=True) -> Timeline:
    """A timeline whose "clap" score follows ``scores`` (windows ``stride_s`` apart, ``window_s`` long)."""
    preds = []
    for i, s in enumerate(scores):
        wave = (label_scores or {}).get(i, (1 - s) / 2)
        probs = np.array([s, wave, 1 - s - wave])
        p = Prediction.from_probs(
            probs, labels=LABELS, top_k=2, window_index=i, start_s=i * stride_s, end_s=i * stride_s + window_s
        )
        preds.append(p if with_probs else Prediction(**{**p.__dict__, "probs": None}))
    return Timeline("clip.mp4", LABELS, tuple(preds), window_s=window_s, stride_s=stride_s, step_s=1 / 16,
                    clip_len=16, top_k=2)  # fmt: skip


def spans(events):
    return [(e.start_s, e.end_s, e.windows) for e in events]


# -- scripted score sequences -------------------------------------------------------------------

SCORES = [0.1, 0.7, 0.5, 0.45, 0.3, 0.65, 0.1, 0.1]


def test_hysteresis_opens_at_enter_and_closes_below_exit():
    tl = scripted(SCORES)
    # Without hysteresis the event ends as soon as the score drops under 0.6.
    assert spans(detect_events(tl, "clap > 0.6")) == [(0.5, 1.0, 1), (2.5, 3.0, 1)]
    # With an exit threshold of 0.4 the first event holds through 0.5 and 0.45 and closes at 0.3.
    events = detect_events(tl, "clap > 0.6 until < 0.4")
    assert spans(events) == [(0.5, 2.0, 3), (2.5, 3.0, 1)]
    first = events[0]
    assert first.peak_score == pytest.approx(0.7) and first.peak_s == pytest.approx(1.0)  # centre of window 1
    assert first.mean_score == pytest.approx((0.7 + 0.5 + 0.45) / 3)
    assert first.rule == "clap > 0.6 until < 0.4" and first.label == "clap"
    assert first.duration_s == pytest.approx(1.5)


def test_a_score_exactly_at_the_threshold_opens_and_keeps_an_event():
    tl = scripted([0.1, 0.6, 0.4, 0.39])
    assert spans(detect_events(tl, "clap >= 0.6 until < 0.4")) == [(0.5, 1.5, 2)]


def test_minimum_duration_drops_short_events():
    tl = scripted(SCORES)
    assert spans(detect_events(tl, "clap > 0.6 until < 0.4 for 1s")) == [(0.5, 2.0, 3)]
    assert spans(detect_events(tl, "clap > 0.6 until < 0.4 for 1.5s")) == [(0.5, 2.0, 3)]  # exactly 1.5 s: kept
    assert detect_events(tl, "clap > 0.6 until < 0.4 for 1.6s") == ()


def test_events_closer_than_the_gap_merge_with_the_windows_between():
    tl = scripted(SCORES)
    merged = detect_events(tl, "clap > 0.6 until < 0.4 gap 1s")  # gap 2.0 -> 2.5 is 0.5 s < 1 s
    assert spans(merged) == [(0.5, 3.0, 5)]
    assert merged[0].mean_score == pytest.approx(np.mean([0.7, 0.5, 0.45, 0.3, 0.65]))
    assert merged[0].peak_score == pytest.approx(0.7)
    # A gap exactly min_gap_s long is not "closer than": two events.
    assert spans(detect_events(tl, "clap > 0.6 until < 0.4 gap 0.5s")) == [(0.5, 2.0, 3), (2.5, 3.0, 1)]


def test_merging_comes_before_the_minimum_duration():
    tl = scripted([0.1, 0.9, 0.1, 0.9, 0.1, 0.1])  # two 0.5 s bursts, 0.5 s apart
    assert detect_events(tl, "clap > 0.6 for 1s") == ()
    assert spans(detect_events(tl, "clap > 0.6 for 1s gap 1s")) == [(0.5, 2.0, 3)]


def test_an_event_still_open_at_the_end_ends_with_the_last_window():
    events = detect_events(scripted([0.1, 0.8, 0.9]), "clap > 0.6")
    assert spans(events) == [(0.5, 2.0, 2)]
    assert events[0].peak_score == pytest.approx(0.9) and events[0].peak_s == pytest.approx(1.5)


def test_the_peak_time_stays_inside_the_event_at_small_strides():
    tl = scripted([0.1, 0.7, 0.9, 0.1], stride_s=0.25)  # the peak window is the last: its centre is 1.0 s
    (event,) = detect_events(tl, "clap > 0.6")
    assert (event.start_s, event.end_s) == (0.25, 0.75)
    assert event.peak_s == 0.75  # moved inside the event; still a frame of the peak window (0.5..1.5 s)


def test_rules_are_independent_and_events_sorted_by_start():
    tl = scripted([0.1, 0.1, 0.8, 0.1], label_scores={0: 0.8, 1: 0.8, 2: 0.1, 3: 0.1})
    events = detect_events(tl, ["clap > 0.5", "wave (not a hand) > 0.5"])
    assert [(e.label, e.start_s, e.end_s) for e in events] == [("wave (not a hand)", 0.0, 1.0), ("clap", 1.0, 1.5)]


def test_without_full_probabilities_the_top_k_scores_are_used():
    # top_k=2: "other" is never in the top 2 of these windows, so it scores 0 there.
    tl = scripted(SCORES, with_probs=False)
    assert spans(detect_events(tl, "clap > 0.6 until < 0.4")) == [(0.5, 2.0, 3), (2.5, 3.0, 1)]


def reference_events(starts, ends, scores, *, enter, exit_, min_dur, gap):
    """An independent offline computation: runs by hysteresis, then merge, then minimum duration."""
    n, runs, i = len(scores), [], 0
    while i < n:
        if scores[i] >= enter:
            j = i
            while j + 1 < n and scores[j + 1] >= exit_:
                j += 1
            runs.append([i, j])
            i = j + 1
        else:
            i += 1

    def end_of(run):
        return starts[run[1] + 1] if run[1] + 1 < n else ends[run[1]]

    merged = []
    for run in runs:
        if merged and starts[run[0]] - end_of(merged[-1]) < gap:
            merged[-1][1] = run[1]
        else:
            merged.append(list(run))
    out = []
    for a, b in merged:
        if end_of([a, b]) - starts[a] >= min_dur - 1e-9:
            seg = scores[a : b + 1]
            out.append((starts[a], end_of([a, b]), b - a + 1, max(seg), float(np.mean(seg))))
    return out


def test_detect_events_agrees_with_an_independent_computation_on_random_sequences():
    rng = random.Random(13)
    for _ in range(300):
        n = rng.randint(1, 30)
        scores = [round(rng.random(), 2) for _ in range(n)]
        enter = rng.choice([0.3, 0.5, 0.7])
        exit_ = rng.choice([enter, enter - 0.2, 0.0])
        min_dur, gap = rng.choice([0, 0.5, 1.0, 2.0]), rng.choice([0, 0.5, 1.0, 1.5])
        tl = scripted(scores)
        rule = EventRule("clap", enter, exit_, min_duration_s=min_dur, min_gap_s=gap)
        got = [(e.start_s, e.end_s, e.windows, e.peak_score, e.mean_score) for e in detect_events(tl, rule)]
        starts = [p.start_s for p in tl.predictions]
        ends = [p.end_s for p in tl.predictions]
        want = reference_events(starts, ends, scores, enter=enter, exit_=exit_, min_dur=min_dur, gap=gap)
        assert len(got) == len(want), (scores, rule)
        for g, w in zip(got, want, strict=True):
            assert g == pytest.approx(w), (scores, rule)


# -- the tracker, one window at a time ----------------------------------------------------------


def test_the_tracker_fires_each_event_once_when_final_and_agrees_with_detect_events():
    tl = scripted([0.1, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9])
    fired: list[tuple[int, ActionEvent]] = []
    pushed = [0]
    tracker = EventTracker(["clap > 0.6 for 1s gap 1s"], labels=LABELS, on_event=lambda e: fired.append((pushed[0], e)))
    banner: list[bool] = []
    for i, p in enumerate(tl.predictions):
        pushed[0] = i
        tracker.push(p)
        banner.append(bool(tracker.open_events))
    assert [n for n, _ in fired] == [6]  # closed at window 4 (2.0 s); final once 1 s had passed (window 6)
    assert tracker.close() == (fired[-1][1],) and len(fired) == 2  # the open one, flushed at the end
    assert tracker.close() == () and len(fired) == 2  # once only
    assert tuple(e for _, e in fired) == detect_events(tl, "clap > 0.6 for 1s gap 1s")
    # The banner shows once an open event is certain to last 1 s (its latest window starts 1 s after it).
    assert banner == [False, False, False, True, False, False, False, False, False, True, True]
    assert tracker.open_events == ()


def test_open_events_stand_as_they_would_end_now():
    tracker = EventTracker("clap > 0.6", labels=LABELS)
    for p in scripted([0.2, 0.7, 0.9]).predictions:
        tracker.push(p)
    (now,) = tracker.open_events
    assert (now.start_s, now.end_s, now.peak_score, now.windows) == (0.5, 2.0, pytest.approx(0.9), 2)


def test_the_tracker_refuses_windows_out_of_order_and_after_close():
    tracker = EventTracker("clap > 0.6", labels=LABELS)
    a, b = scripted([0.1, 0.1]).predictions
    tracker.push(b)
    with pytest.raises(ValueError, match="time order"):
        tracker.push(a)
    tracker.close()
    with pytest.raises(ValueError, match="closed"):
        tracker.push(b)


# -- rule texts and files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("clapping>0.6", ("clapping", 0.6, 0.6, 0.0, 0.0)),
        ("clapping > 0.6 for 1.5s", ("clapping", 0.6, 0.6, 1.5, 0.0)),
        ("clapping > 0.6 until < 0.4 for 1.5s gap 1s", ("clapping", 0.6, 0.4, 1.5, 1.0)),
        ("clapping >= 60% gap 500ms until 40% FOR 2 seconds", ("clapping", 0.6, 0.4, 2.0, 0.5)),
        ("tying knot (not on a tie) > 0.5 for 2", ("tying knot (not on a tie)", 0.5, 0.5, 2.0, 0.0)),
        ('"a > b" > .5', ("a > b", 0.5, 0.5, 0.0, 0.0)),
        ("'say \"hi\"' > 1", ('say "hi"', 1.0, 1.0, 0.0, 0.0)),
    ],
)
def test_valid_rule_texts(text, want):
    rule = parse_rule(text)
    assert (rule.label, rule.enter, rule.exit, rule.min_duration_s, rule.min_gap_s) == want
    assert parse_rule(rule.text) == rule  # the canonical text reads back as the same rule


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("clapping", "no '>'"),
        ("> 0.5", "no label"),
        ("clapping > high", "expected a probability"),
        ("clapping > 0.6 for", "expected a duration"),
        ("clapping > 0.6 for 2 minutes", "unexpected 'minutes'"),
        ("clapping > 0.6 for 1s for 2s", "'for' is given twice"),
        ("clapping > 1.5", "not a probability"),
        ("clapping > 0.5 until < 0.7", "at most the enter threshold"),
        ('"clapping > 0.5', "never closed"),
        ("clapping > 0", "not a probability above 0"),
    ],
)
def test_invalid_rule_texts_say_what_was_received_and_show_a_valid_rule(text, match):
    with pytest.raises(HeadError, match=match) as info:
        parse_rule(text)
    assert repr(text) in str(info.value) and "clapping > 0.6 for 1.5s" in str(info.value)


def test_rules_files_json_and_text(tmp_path):
    text = tmp_path / "rules.txt"
    text.write_text("# my rules\n\nclap > 0.6 for 1s\n  # indented comment\nwave (not a hand) > 50%\n")
    js = tmp_path / "rules.json"
    js.write_text(json.dumps(["clap > 0.7", {"label": "other", "enter": 0.5, "exit": 0.2, "min_gap_s": 1}]))
    rules = load_rules([str(text), js, "clap > 0.9", EventRule("other", 0.3)])
    assert [r.text for r in rules] == [
        "clap > 0.6 for 1s",
        "wave (not a hand) > 0.5",
        "clap > 0.7",
        "other > 0.5 until < 0.2 gap 1s",
        "clap > 0.9",
        "other > 0.3",
    ]
    assert load_rules([EventRule(**rules[3].to_dict())]) == (rules[3],)


def test_malformed_rules_files_name_the_file_and_the_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("clap > 0.6\n\nclap above 0.6\n")
    with pytest.raises(HeadError, match=r"bad\.txt line 3: cannot read the event rule 'clap above 0\.6'"):
        load_rules(str(bad))
    js = tmp_path / "bad.json"
    js.write_text(json.dumps([{"label": "clap", "enter": 0.6, "min_duration": 1}]))
    with pytest.raises(HeadError, match=r"bad\.json item 1: unknown key\(s\) \['min_duration'\].*min_duration_s"):
        load_rules(js)
    js.write_text('{"clap": 0.6}')
    with pytest.raises(HeadError, match="a JSON rules file is a list"):
        load_rules(js)
    js.write_text("[oops")
    with pytest.raises(HeadError, match="not valid JSON"):
        load_rules(js)
    with pytest.raises(HeadError, match=r"neither an event rule .* nor an existing rules file"):
        load_rules("no-such-rules.txt")


def test_a_label_not_in_the_timeline_gets_the_closest_names():
    with pytest.raises(HeadError, match=r"names 'clapp'.*closest: 'clap'"):
        detect_events(scripted(SCORES), "clapp > 0.6")
    with pytest.raises(HeadError, match=r"closest: 'wave \(not a hand\)'"):
        EventTracker("Wave (not a hand) > 0.6", labels=LABELS)


# -- exports --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="LATENCY")


@pytest.fixture
def colour_clip(video_factory):
    """4 s at 30 fps: blue, red from 1.0 s to 3.0 s, then blue again (frame index stamped on top)."""

    def paint(i, t, img):
        img[:] = RED if 1.0 <= t < 3.0 else BLUE

    return video_factory("blue_red_blue.mp4", fps=30, duration_s=4.0, size_wh=(320, 240), paint=paint)


def colour_of(image_bgr):
    b, _g, r = image_bgr[40:].reshape(-1, 3).mean(axis=0)  # below the index stamp
    return "red" if r > 150 and b < 80 else "blue" if b > 150 and r < 80 else "other"


def test_events_table_thumbnails_show_the_frame_at_the_peak(models, colour_clip, tmp_path):
    timeline = Recognizer(models, options=RecognizerOptions(stride_s=0.5)).analyze(colour_clip, progress=False)
    events = detect_events(timeline, ["red > 0.6", "blue > 0.6"])
    assert [e.label for e in events] == ["blue", "red", "blue"]
    red = events[1]
    assert 0.5 <= red.start_s <= 1.0 and 2.5 <= red.end_s <= 3.0
    written = export_events(events, tmp_path / "out", stem="clip", source=colour_clip)
    assert sorted(written) == ["events thumbnails", "events.csv", "events.json"]
    rows = list(csv.DictReader((tmp_path / "out" / "clip.events.csv").open()))
    assert [r["label"] for r in rows] == ["blue", "red", "blue"] and [r["event"] for r in rows] == ["1", "2", "3"]
    assert rows[1]["thumbnail"] == "clip.events/2.jpg" and rows[1]["thumbnail_note"] == ""
    assert float(rows[1]["peak_s"]) == pytest.approx(red.peak_s, abs=1e-6)
    for row, event in zip(rows, events, strict=True):
        image = cv2.imread(str(tmp_path / "out" / row["thumbnail"]))
        assert image.shape == (240, 320, 3)
        assert colour_of(image) == event.label  # the peak frame has the event's colour
        # It is the first frame at or after the peak time (the index stamp says which frame it is).
        assert read_stamp(image) == int(np.ceil(event.peak_s * 30 - 1e-6))
    doc = json.loads((tmp_path / "out" / "clip.events.json").read_text())
    assert doc["schema"] == "actionrec.events/1" and doc["thumbnail_note"] == ""
    assert doc["events"][1] == {"event": 2, **red.to_dict(), "thumbnail": "clip.events/2.jpg", "thumbnail_note": ""}
    # A re-export with fewer events leaves no stale thumbnail behind.
    export_events(events[:1], tmp_path / "out", stem="clip", source=colour_clip)
    assert sorted(p.name for p in (tmp_path / "out" / "clip.events").iterdir()) == ["1.jpg"]
    # Without a stem, the files are named after the source, like the other exports.
    assert (
        export_events(events, tmp_path / "named", source=colour_clip)["events.csv"].name == "blue_red_blue.events.csv"
    )


def test_a_source_that_cannot_be_read_again_gets_no_thumbnails_and_says_so(tmp_path):
    events = detect_events(scripted(SCORES), "clap > 0.6")
    export_events(events, tmp_path, stem="cam", source=0)
    rows = list(csv.DictReader((tmp_path / "cam.events.csv").open()))
    assert all(r["thumbnail"] == "" and "camera 0 (camera) cannot be read again" in r["thumbnail_note"] for r in rows)
    doc = json.loads((tmp_path / "cam.events.json").read_text())
    assert "cannot be read again" in doc["thumbnail_note"] and doc["events"][0]["thumbnail"] is None
    assert not (tmp_path / "cam.events").exists()


def test_csv_cells_of_events_never_start_a_formula(tmp_path):
    tl = Timeline("x.mp4", ("=cmd", "b"), scripted(SCORES).predictions[:0], window_s=1, stride_s=0.5,
                  step_s=1 / 16, clip_len=16, top_k=1)  # fmt: skip
    event = ActionEvent("=cmd", 0.0, 1.0, 0.9, 0.5, 0.8, 2, "=cmd > 0.5")
    assert detect_events(tl, "=cmd > 0.5") == ()
    export_events([event], tmp_path, stem="f", source=None)
    row = next(csv.DictReader((tmp_path / "f.events.csv").open()))
    assert row["label"] == "'=cmd" and row["rule"] == "'=cmd > 0.5" and row["thumbnail_note"].startswith("no source")


def test_the_timeline_json_holds_the_events_only_when_given(tmp_path):
    import jsonschema

    tl = scripted(SCORES)
    events = detect_events(tl, "clap > 0.6 until < 0.4")
    path = write_json(tl, tmp_path / "t.json", events=events)
    doc = read_json(path)
    jsonschema.validate(doc, json.loads(schema_text()))
    assert doc["events"] == [e.to_dict() for e in events]
    assert "events" not in read_json(write_json(tl, tmp_path / "plain.json"))
    broken = {**doc, "events": [{"label": "clap"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(schema_text()))


# -- the CLI ----------------------------------------------------------------------------------------


def test_cli_events_end_to_end(tiny_model_dir, tiny_labels_file, colour_clip, tmp_path):
    rules = tmp_path / "rules.txt"
    rules.write_text("# the blue parts\nblue > 0.6\n")
    out = tmp_path / "out"
    r = run_actionrec(
        "analyze", str(colour_clip), "--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file),
        "--out", str(out), "--no-progress", "--formats", "json", "--events", "red > 0.6 for 1s", "--events", str(rules),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "3 event(s):" in r.stdout
    lines = [line.strip() for line in r.stdout.splitlines() if "peak" in line]
    assert [line.split()[0] for line in lines] == ["blue", "red", "blue"]
    assert "(red > 0.6 for 1s)" in lines[1]
    assert "wrote events.csv" in r.stdout and "wrote events thumbnails" in r.stdout
    doc = json.loads((out / "blue_red_blue.json").read_text())
    assert [e["label"] for e in doc["events"]] == ["blue", "red", "blue"]
    assert len(list(csv.DictReader((out / "blue_red_blue.events.csv").open()))) == 3
    assert sorted(p.name for p in (out / "blue_red_blue.events").iterdir()) == ["1.jpg", "2.jpg", "3.jpg"]


def test_cli_bad_rules_are_one_clear_line_before_any_work(tiny_model_dir, tiny_labels_file, colour_clip, tmp_path):
    args = ["analyze", str(colour_clip), "--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file),
            "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    r = run_actionrec(*args, "--events", "red above 0.6")
    assert r.returncode == 1 and "error: 'red above 0.6' is neither an event rule" in r.stderr
    r = run_actionrec(*args, "--events", "redd > 0.6")
    assert r.returncode == 1 and "closest: 'red'" in r.stderr
    assert not list(tmp_path.glob("*.json"))


# -- the live player ---------------------------------------------------------------------------------


def banner_share(jpeg: bytes) -> float:
    """The share of the frame's bottom-right quarter painted in the banner colour."""
    from actionrec.render import BANNER_BGR

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    h, w = image.shape[:2]
    corner = image[h // 2 :, w // 2 :].astype(int)
    return float((np.abs(corner - np.array(BANNER_BGR)).max(axis=2) < 40).mean())


def test_live_player_fires_on_event_once_per_event_and_shows_a_banner_while_open(models, colour_clip):
    from actionrec.notebook.player import LivePlayer

    fake = FakeTime(real_sleep_ratio=1.0)  # the encoder gets real time: labels do not depend on load
    fired: list[ActionEvent] = []
    player = LivePlayer(models, clock=fake, sleep=fake.sleep, events=["red > 0.6 for 1s"], on_event=fired.append)
    frames: list[bytes] = []
    player.view.send = lambda content, buffers=None: frames.append(bytes(buffers[0]))
    report = asyncio.run(player.play(colour_clip))
    assert report.stopped_by == "end"
    assert len(fired) == 1 and fired[0].label == "red" and tuple(fired) == report.events
    assert 0.5 <= fired[0].start_s <= 1.5 and 2.0 <= fired[0].end_s <= 3.5 and fired[0].duration_s >= 1.0
    # Every frame shown (headless: paced by source time), frame i at i / 30 s; then, when windows
    # resolved after the last frame, one repaint of it with their labels (not a frame of the source).
    assert report.frames_shown == 120 and len(frames) == 120 + bool(report.windows_after_end)
    frames = frames[:120]
    event = fired[0]
    with_banner = [i for i, f in enumerate(frames) if banner_share(f) > 0.02]
    assert with_banner, "no frame showed the event banner"
    assert with_banner == list(range(with_banner[0], with_banner[-1] + 1))  # one stretch, while it was open
    # A window is known once the frame nearest its last grid sample arrives (15/16 s after its start,
    # less half a frame), and the banner waits until the open event is certain to last 1 s: not before
    # its start + 1 s + that; gone once the window that closed it is known.
    assert with_banner[0] / 30 >= event.start_s + 1.0 + 15 / 16 - 1 / 60 - 1e-6
    assert with_banner[-1] / 30 < event.end_s + 1.0 + 1e-6


def test_live_player_refuses_a_rule_for_a_class_it_does_not_have(models, colour_clip):
    from actionrec.notebook.player import LivePlayer

    with pytest.raises(HeadError, match="neither an event rule"):
        LivePlayer(models, events=["red above 0.6"])
    player = LivePlayer(models, events=["purple > 0.6"], max_seconds=0.2)
    with pytest.raises(HeadError, match="names 'purple'"):
        asyncio.run(player.play(colour_clip))


# -- notebook views --------------------------------------------------------------------------------


def test_events_table_embeds_the_thumbnails_and_escapes_labels(tmp_path):
    folder = tmp_path / "clip.events"
    folder.mkdir()
    ok, jpeg = cv2.imencode(".jpg", np.full((24, 32, 3), 200, np.uint8))
    assert ok
    (folder / "1.jpg").write_bytes(jpeg.tobytes())
    events = [
        ActionEvent("<b>clap</b>", 0.5, 2.0, 0.9, 1.0, 0.7, 3, "clap > 0.6"),
        ActionEvent("wave", 3.0, 4.0, 0.8, 3.5, 0.75, 2, "wave > 0.6"),
    ]
    from actionrec.notebook.events_view import events_table

    page = events_table(events, thumbnails_dir=folder).data
    assert page.count("<img ") == 1 and "data:image/jpeg;base64," in page  # event 2 has no JPEG
    assert "no thumbnail" in page and "&lt;b&gt;clap&lt;/b&gt;" in page and "<b>clap</b>" not in page
    assert "00:00.500 – 00:02.000" in page and "90% at 00:01.000" in page
    assert "No event" in events_table([]).data


def test_the_timeline_plot_marks_each_event_at_its_peak():
    from actionrec.notebook.display import plot_timeline
    from actionrec.notebook.events_view import EVENT_COLOR

    tl = scripted(SCORES)
    events = detect_events(tl, "clap > 0.6 until < 0.4")
    top = plot_timeline(tl, events=events).axes[0]
    markers = [line for line in top.get_lines() if line.get_marker() == "v"]
    assert [(float(m.get_xdata()[0]), float(m.get_ydata()[0])) for m in markers] == [
        (e.peak_s, pytest.approx(e.peak_score)) for e in events
    ]
    assert all(m.get_color() == EVENT_COLOR for m in markers)
    assert not [line for line in plot_timeline(tl).axes[0].get_lines() if line.get_marker() == "v"]
