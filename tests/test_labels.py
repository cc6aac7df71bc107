"""Labels from the user (--labels / AR_LABELS): what is accepted, and the errors for what is not."""

import json

import pytest

from actionrec import models
from actionrec.errors import LabelsError
from actionrec.models import compile_models, load_labels, resolve_model
from tests.support.tiny_models import tiny_labels


def write(tmp_path, name, content):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        # a newline would split a WebVTT cue and a CSV row
        ("l.json", {"0": "walk", "1": "walk\nrun"}, r"key \"1\": received 'walk\\nrun', which holds a line break"),
        ("l.json", ["ok", "tab\there"], r"labels\[1\]: received 'tab\\there', .* the control character U\+0009"),
        ("l.txt", "walk\nesc\x1b[31mred\n", r"line 2: received 'esc\\x1b\[31mred'.*control character U\+001B"),
        ("l.txt", "walk\nform\x0cfeed\n", r"line 2: received 'form\\x0cfeed', which holds a line break \(U\+000C\)"),
        ("l.txt", "walk\npara\u2029graph\n", r"line 2: .*a line break \(U\+2029\)"),
        ("l.txt", "walk\nab\u202edc\n", r"line 2: .*text direction control U\+202E"),
        ("l.json", {"0": "walk", "1": "  "}, r"key \"1\": received '  ', an empty label"),
        ("l.txt", "walk\n\nrun\n", r"line 2: received an empty line.*no blank line before the last label"),
        ("l.json", {"0": "walk", "1": None}, r"key \"1\": received None \(a NoneType\), not a text label"),
        ("l.json", ["walk", ["run"]], r"labels\[1\]: received \['run'\] \(a list\), not a text label"),
        ("l.json", {"0": "walk", "1": "run", "2": "walk"}, r"key \"2\": received 'walk', the same name as key \"0\""),
        ("l.txt", "walk\nrun\nwalk\n", r"line 3: received 'walk', the same name as line 1.*Rename one"),
    ],
)
def test_bad_labels_are_rejected_naming_where_what_and_the_rule(tmp_path, name, content, match):
    with pytest.raises(LabelsError, match=match) as info:
        load_labels(write(tmp_path, name, content))
    assert str(info.value).startswith(f"labels file {tmp_path / name}")
    assert "a label is one line of printable text" in str(info.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"0": "walk", "01": "run"}', r'key "01" is not a class index; keys must be "0", "1"'),
        ('{"0": "walk", " 1": "run"}', r'key " 1" is not a class index'),
        ('{"0": "walk", "\u0661": "run"}', r'key "\u0661" is not a class index'),
        ('{"0": "walk", "1" : "run", "1": "jump"}', r'key "1" appears twice'),
        ('{"0": "a", "' + "9" * 5000 + '": "b"}', r"is not a class index"),
        ("[" * 100_000 + "]" * 100_000, r"is not valid JSON \(nested too deeply\)"),
        ("1" * 5000, r"is not valid JSON"),
        ('"walk"', r"expected a JSON object .* got a string"),
        ('{"0": "a", "2": "c"}', r'keys must be 0..1 without gaps; "1" is missing'),
    ],
)
def test_malformed_json_is_a_labels_error_not_a_crash(tmp_path, content, match):
    with pytest.raises(LabelsError, match=match):
        load_labels(write(tmp_path, "l.json", content))


def test_byte_order_marks_and_utf16_are_read_and_other_bytes_are_named(tmp_path):
    assert load_labels(write(tmp_path, "a.json", b'\xef\xbb\xbf{"0": "walk", "1": "run"}')) == ("walk", "run")
    assert load_labels(write(tmp_path, "a.txt", b"\xef\xbb\xbfwalk\r\nrun\r\n")) == ("walk", "run")
    assert load_labels(write(tmp_path, "b.txt", "\ufeffwalk\nrun\n".encode("utf-16-le"))) == ("walk", "run")
    with pytest.raises(LabelsError, match=r"is not UTF-8 text \(byte b'\\xff' at offset 4\); save it as UTF-8"):
        load_labels(write(tmp_path, "c.txt", b"walk\xff\n"))


def test_good_labels_keep_their_text(tmp_path):
    text = "dancing, ballet\n  =SUM(A1)  \nuncertain\n<b>tag</b> & co\n\u00e9t\u00e9 \U0001f600\n\n\n"
    assert load_labels(write(tmp_path, "l.txt", text), num_classes=5) == (
        "dancing, ballet",
        "=SUM(A1)",  # accepted: the CSV export neutralises it, the others escape it
        "uncertain",  # a real class may be called that: the uncertain state is a flag, not a label
        "<b>tag</b> & co",
        "\u00e9t\u00e9 \U0001f600",
    )


def test_labels_given_to_compile_models_are_checked(tiny_model_dir, tmp_path):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=write(tmp_path, "x.txt", "a\n"))
    labels = list(tiny_labels(400))
    labels[7] = "two\nlines"
    with pytest.raises(LabelsError, match=r"^labels, labels\[7\]: received 'two\\nlines', which holds a line break"):
        compile_models(files, labels=tuple(labels), cache_dir=tmp_path)
    assert models.check_labels(["a", "b"], origin="labels") == ("a", "b")


def test_cli_names_the_bad_line_in_one_clear_line(tiny_model_dir, tmp_path):
    from tests.test_cli_analyze import run_cli

    labels = write(tmp_path, "labels.txt", "".join(f"class {i}\n" for i in range(399)) + "bad\x07bell\n")
    r = run_cli("analyze", str(tmp_path / "none.mp4"), "--model-dir", str(tiny_model_dir), "--labels", str(labels))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (
        f"error: labels file {labels}, line 400: received 'bad\\x07bell', which holds the control character "
        "U+0007; a label is one line of printable text: not empty, no control characters (tab, escape, NUL...), "
        "no line breaks and no two classes with the same name. Remove that character from the label"
    )


KINETICS_LIKE = (
    "playing tennis",
    "playing squash or racquetball",
    "Playing Tennis",
    "juggling balls",
    "dribbling basketball",
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("playing tenis", ["playing tennis", "Playing Tennis"]),  # a typo: its closest spellings
        ("PLAYING  TENNIS", ["playing tennis", "Playing Tennis"]),  # case and spacing: both equal ones first
        ("PLAYING TENIS", ["playing tennis", "Playing Tennis"]),  # both: found by the insensitive form
        ("skydiving", []),  # too far from every label: nothing rather than a guess
    ],
)
def test_closest_labels_is_one_rule_for_every_unknown_label_message(typed, expected):
    from actionrec.heads.event_rules import check_rule_labels, parse_rule
    from actionrec.heads.groups import unknown_label_message

    assert models.labels.closest_labels(typed, KINETICS_LIKE) == expected
    # groups and event rules suggest the same names for the same typo
    shown = f"closest: {', '.join(map(repr, expected))}" if expected else None
    group_msg = unknown_label_message(typed, KINETICS_LIKE)
    with pytest.raises(Exception) as rule_err:
        check_rule_labels([parse_rule(f"{typed} > 0.5")], KINETICS_LIKE)
    for msg in (group_msg, str(rule_err.value)):
        assert (shown in msg) if shown else ("closest" not in msg), msg
