"""Fuzz the labels loader: any bytes as a labels file end in labels or a LabelsError, nothing else.

Seeded in the suite (seconds); a campaign with ``FUZZ_SECONDS=600`` (see tests/support/fuzz.py).
"""

import json
import unicodedata

from hypothesis import strategies as st

from actionrec.errors import LabelsError
from actionrec.models import load_labels
from tests.support.fuzz import fuzz, timeout_mark

pytestmark = timeout_mark()  # a campaign runs past the suite's per-test timeout
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252")
# Text rich in what breaks exports and parsers: controls, line breaks, bidi marks, BOMs, surrogates.
NASTY = st.sampled_from(
    list("\n\r\t\x00\x07\x0b\x0c\x1b\x1c\x7f\x85\u2028\u2029\u202e\u2066\ufeff\ud800=+-@\"',;<>&{}[]:0 ")
)
TEXT = st.lists(st.one_of(st.characters(), NASTY), max_size=30).map("".join)
KEYS = st.one_of(
    st.integers(min_value=-3, max_value=12).map(str),
    st.integers(min_value=10**15, max_value=10**30).map(str),
    st.sampled_from(["01", " 1", "1 ", "+1", "1.0", "1e2", "\u0661", "\uff11", "1_0", "9" * 5000, "", "-0"]),
    TEXT,
)
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=12,
)


@st.composite
def labels_json(draw) -> str:
    """JSON documents: mostly nearly valid label maps and lists, sometimes anything."""
    kind = draw(st.sampled_from(["map", "list", "any", "deep"]))
    if kind == "map":
        n = draw(st.integers(0, 8))
        keys = [str(i) for i in range(n)]
        if draw(st.booleans()):
            keys = draw(st.lists(KEYS, max_size=8))
        values = draw(st.lists(st.one_of(TEXT, JSON_VALUE), min_size=len(keys), max_size=len(keys)))
        body = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in zip(keys, values, strict=True))  # repeats kept
        return "{" + body + "}"
    if kind == "list":
        return json.dumps(draw(st.lists(st.one_of(TEXT, JSON_VALUE), max_size=8)))
    if kind == "deep":
        depth = draw(st.integers(1, 200_000))
        return draw(st.sampled_from(["[", '{"0":'])) * depth
    return json.dumps(draw(JSON_VALUE), allow_nan=True)


@st.composite
def labels_file(draw) -> tuple[str, bytes]:
    """(suffix, bytes) of a labels file: JSON or one label per line, in some encoding, or raw bytes."""
    suffix = draw(st.sampled_from([".json", ".txt", ".JSON", ""]))
    form = draw(st.sampled_from(["json", "lines", "bytes"]))
    if form == "bytes":
        return suffix, draw(st.binary(max_size=300))
    if form == "json":
        text = draw(labels_json())
    else:
        labels = draw(st.lists(TEXT, max_size=10))
        sep = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
        text = sep.join(labels) + draw(st.sampled_from(["", "\n", "\n\n \n"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace")
    if draw(st.integers(0, 9)) == 0 and data:  # a flipped byte
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    return suffix, data


def test_fuzz_labels_loader(tmp_path):
    def check(case: tuple[str, bytes], num_classes: int | None) -> None:
        suffix, data = case
        path = tmp_path / f"labels{suffix}"
        path.write_bytes(data)
        try:
            try:
                labels = load_labels(path, num_classes=num_classes)
            except LabelsError as exc:
                assert str(exc).startswith(f"labels file {path}"), str(exc)
            else:
                assert isinstance(labels, tuple) and labels and all(isinstance(x, str) for x in labels)
                assert num_classes is None or len(labels) == num_classes
                assert len(set(labels)) == len(labels), labels
                for label in labels:
                    assert label.strip(), labels
                    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in label), labels
                    label.encode("utf-8")  # every export writes UTF-8
            assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "the loader wrote a file"
        finally:
            for p in tmp_path.iterdir():
                p.unlink()

    fuzz(check, labels_file(), st.one_of(st.none(), st.integers(1, 8)), name="labels loader")
