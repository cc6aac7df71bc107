"""Class labels from the user (``--labels`` ≡ ``AR_LABELS``): read, checked, in model output order.

Labels reach every export and display verbatim, so a label is one line of printable text: no
control characters (tabs, escapes, NUL), no line or paragraph breaks, no bidirectional overrides,
not empty, and no two classes share a name (segments and plots tell classes apart by name).

Example:
    >>> check_labels(["abseiling", "air drumming"], origin="labels")
    ('abseiling', 'air drumming')
"""

from __future__ import annotations

import difflib
import json
import os
import re
import reprlib
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from ..errors import LabelsError

MAX_LABELS_FILE_BYTES = 8 * 1024 * 1024  # a labels file holds class names: a few KB (Kinetics-400: 6 KB)
_RULE = (
    "a label is one line of printable text: not empty, no control characters (tab, escape, NUL...), "
    "no line breaks and no two classes with the same name"
)
# Reordering marks (embeddings, overrides, isolates) make a label display as other text.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 80, 40
_JSON_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")  # below 10**9: no file this size holds more classes


def check_labels(labels: Sequence[object], *, origin: str, where: Sequence[str] | None = None) -> tuple[str, ...]:
    """``labels`` as a tuple of strings, once every one is a valid, distinct label.

    Args:
        labels: the class names in model output order.
        origin: what they came from, for messages (``"labels file data/x.txt"``, ``"labels"``).
        where: per label, where it sits in ``origin`` (``"line 3"``, ``'key "2"'``); default
            ``"labels[i]"``.

    Returns:
        The labels, unchanged, as a tuple.

    Raises:
        LabelsError: a label is not a string, is empty, holds a control character or a line break,
            or repeats another; the message names it, shows what was received and the rule.
    """
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        at = where[i] if where is not None else f"labels[{i}]"
        if not isinstance(label, str):
            raise LabelsError(
                f"{origin}, {at}: received {_short(label)} (a {type(label).__name__}), not a text label; "
                f"{_RULE}. Write the class name as a string"
            )
        bad = _bad_char(label)
        if bad is not None:
            raise LabelsError(
                f"{origin}, {at}: received {_short(label)}, which holds {bad}; {_RULE}. "
                "Remove that character from the label"
            )
        if not label.strip():
            raise LabelsError(
                f"{origin}, {at}: received {label!r}, an empty label; {_RULE}. "
                "Give every class a name (class indices run 0..N-1 without gaps)"
            )
        if label in seen:
            first = where[seen[label]] if where is not None else f"labels[{seen[label]}]"
            raise LabelsError(
                f"{origin}, {at}: received {_short(label)}, the same name as {first}; {_RULE}. "
                "Rename one of the two classes"
            )
        seen[label] = i
    return tuple(labels)  # type: ignore[arg-type]  # every item was checked to be a str


def load_labels(
    path: str | os.PathLike[str], *, num_classes: int | None = None, model: str | None = None
) -> tuple[str, ...]:
    """Read labels in model output order.

    Accepts JSON ``{"0": "abseiling", "1": ...}`` (keys exactly ``"0"`` .. ``"N-1"``), a JSON list
    of strings, or plain text with one label per line (surrounding spaces are stripped; blank lines
    may only end the file). UTF-8 (with or without a BOM) or UTF-16 with a BOM. Every label is
    checked by :func:`check_labels`.

    Args:
        path: the labels file (a ``.json`` suffix means JSON, anything else one label per line).
        num_classes: when given, the decoder's output size; the label count must match.
        model: the model family the decoder belongs to, named in the count-mismatch message.

    Returns:
        The labels, class 0 first.

    Raises:
        LabelsError: unreadable, not text, malformed, an invalid label (see :func:`check_labels`),
            or the wrong number of labels.

    Example:
        >>> load_labels("data/labels/kinetics400-id2label.json", num_classes=400)[:2]  # doctest: +SKIP
        ('abseiling', 'air drumming')
    """
    p = Path(path)
    origin = f"labels file {p}"
    text = _read_text(p, origin)
    if p.suffix.lower() == ".json":
        labels, where = _parse_json(text, origin)
    else:
        labels, where = _parse_lines(text, origin)
    if not labels:
        raise LabelsError(f'{origin} holds no labels; write one label per line, or JSON {{"0": "name", ...}}')
    checked = check_labels(labels, origin=origin, where=where)
    if num_classes is not None and len(checked) != num_classes:
        raise LabelsError(f"{origin} holds {len(checked)} {count_mismatch(num_classes, model=model)}")
    return checked


def count_mismatch(num_classes: int, *, model: str | None = None) -> str:
    """The rest of a label-count error after "N labels": what the decoder outputs and what to do.

    Example:
        >>> count_mismatch(9, model="driver-action-recognition-adas-0002")[:42]
        'labels but the decoder outputs 9 classes ('
    """
    of = f" (model {model})" if model else ""
    return (
        f"labels but the decoder outputs {num_classes} classes{of}; pass that model's {num_classes} labels "
        "(--labels / AR_LABELS), leave them unset to download a registry model's own labels, or choose the "
        "model these labels belong to (--model)"
    )


def _read_text(p: Path, origin: str) -> str:
    """The file's text (UTF-8, UTF-8 with a BOM, or UTF-16 with a BOM), bounded in size."""
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_LABELS_FILE_BYTES + 1)
    except OSError as exc:
        raise LabelsError(f"cannot read {origin}: {exc}; check the path given to --labels / AR_LABELS") from None
    if len(data) > MAX_LABELS_FILE_BYTES:
        raise LabelsError(
            f"{origin} is larger than {MAX_LABELS_FILE_BYTES // 2**20} MB, too large for class names "
            "(a labels file has a few KB); check that --labels / AR_LABELS names the labels file"
        )
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise LabelsError(
            f"{origin} is not {name} text (byte {data[exc.start : exc.start + 1]!r} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None


def _parse_json(text: str, origin: str) -> tuple[list[object], list[str]]:
    """Labels and where each sits (``labels[i]`` or ``key "i"``) from a JSON list or object."""

    def no_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        repeated = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
        if repeated is not None:
            raise LabelsError(f'{origin}: key "{_clip(repeated)}" appears twice; give each class index once')
        return dict(pairs)

    try:
        data = json.loads(text, object_pairs_hook=no_repeats)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, numbers beyond int limits, deep nesting
        detail = "nested too deeply" if isinstance(exc, RecursionError) else _clip(str(exc))
        raise LabelsError(
            f'{origin} is not valid JSON ({detail}); write {{"0": "first class", "1": ...}} or a list of names'
        ) from None
    if isinstance(data, list):
        return data, [f"labels[{i}]" for i in range(len(data))]
    if not isinstance(data, dict):
        raise LabelsError(
            f'{origin}: expected a JSON object {{"0": "name", ...}} or a list of names, got a {_json_type(data)}'
        )
    bad = next((k for k in data if not _JSON_INDEX.fullmatch(k)), None)
    if bad is not None:
        raise LabelsError(
            f'{origin}: key "{_clip(bad)}" is not a class index; keys must be "0", "1", ... '
            "(whole numbers without leading zeros or spaces)"
        )
    indices = sorted(int(k) for k in data)  # short ASCII digit strings only, checked above
    if indices != list(range(len(indices))):
        gap = next(i for i in range(len(indices) + 1) if i >= len(indices) or indices[i] != i)
        raise LabelsError(
            f'{origin}: keys must be 0..{len(indices) - 1} without gaps; "{gap}" is missing. Number the classes '
            "in model output order from 0"
        )
    return [data[str(i)] for i in indices], [f'key "{i}"' for i in indices]


def _parse_lines(text: str, origin: str) -> tuple[list[object], list[str]]:
    """Labels and their line numbers from text with one label per line."""
    lines = text.split("\n")  # not splitlines(): a form feed or U+2028 inside a label is an error, not a split
    while lines and not lines[-1].strip():
        lines.pop()
    labels: list[object] = []
    where: list[str] = []
    for number, line in enumerate(lines, start=1):
        label = line.strip(" \t\r")
        if not label:
            raise LabelsError(
                f"{origin}, line {number}: received an empty line; {_RULE}. One label per line, class 0 on "
                "line 1, with no blank line before the last label"
            )
        labels.append(label)
        where.append(f"line {number}")
    return labels, where


def _bad_char(label: str) -> str | None:
    """What makes ``label`` unprintable (``"the control character U+001B"``), or ``None``."""
    for ch in label:
        category = unicodedata.category(ch)
        if ch in "\n\r\v\f\x85\u2028\u2029" or category in ("Zl", "Zp"):
            return f"a line break (U+{ord(ch):04X})"
        if category in ("Cc", "Cs"):
            return f"the control character U+{ord(ch):04X}"
        if ch in _BIDI_CONTROLS:
            return f"the text direction control U+{ord(ch):04X}"
    return None


def _short(value: object) -> str:
    """A bounded ``repr`` (long strings and deep JSON values are cut)."""
    return _clip(_REPR.repr(value))


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value: object) -> str:
    return {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


_SPACES = re.compile(r"\s+")


def label_key(text: str) -> str:
    """Case- and spacing-insensitive form of a label ("Playing  Tennis" -> "playing tennis")."""
    return _SPACES.sub(" ", text).strip().casefold()


def closest_labels(name: str, labels: Sequence[str], *, n: int = 3) -> list[str]:
    """Up to ``n`` of ``labels`` a user most likely meant by ``name``, best first (``[]``: none is close).

    One rule for every "unknown label" message: the labels equal to ``name`` ignoring case and
    spacing first, then the closest spellings (``difflib``, ratio >= 0.6) of the name as typed, then
    of its case- and spacing-insensitive form ("PLAYING TENIS" -> "playing tennis").
    """
    keyed: dict[str, list[str]] = {}
    for label in labels:
        keyed.setdefault(label_key(label), []).append(label)
    out = list(keyed.get(label_key(name), []))
    out += difflib.get_close_matches(name, list(labels), n=n, cutoff=0.6)
    for key in difflib.get_close_matches(label_key(name), list(keyed), n=n, cutoff=0.6):
        out += keyed[key]
    return list(dict.fromkeys(out))[:n]
