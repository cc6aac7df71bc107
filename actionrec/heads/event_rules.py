"""Event rules: "``clapping`` above 0.6 for at least 1.5 s", as text, JSON or a rules file.

A rule (:class:`EventRule`) names one class of a timeline (a Kinetics label, a label group or a
custom action) and when its score makes an event: it **opens** when the score reaches ``enter``,
**closes** at the first window below ``exit`` (hysteresis: ``exit <= enter``, default ``enter``),
events of the rule closer than ``min_gap_s`` are **merged**, and events shorter than
``min_duration_s`` are then **dropped**. :mod:`actionrec.heads.events` finds the events.

Rule text (:func:`parse_rule`)::

    LABEL > ENTER [until [<] EXIT] [for DURATION] [gap DURATION]

- ``LABEL``: the class name as the timeline spells it; spaces and parentheses are fine
  (``tying knot (not on a tie) > 0.5``). Quote it with ``"..."`` or ``'...'`` when it holds a
  ``>`` or starts with a quote.
- ``>`` or ``>=``: the same test, the score **reaches** the threshold (``score >= ENTER``).
- ``ENTER``, ``EXIT``: probabilities ``0.6`` or percentages ``60%``.
- ``DURATION``: seconds, ``1.5s``, ``1.5 s``, ``1500ms`` or a bare ``1.5``.
- The clauses after ``ENTER`` come in any order, each at most once; words are case-insensitive.

A rules file (:func:`load_rules`) is either JSON, a list whose items are rule texts or rule objects
``{"label": "clapping", "enter": 0.6, "exit": 0.4, "min_duration_s": 1.5, "min_gap_s": 1.0}``
(only ``label`` and ``enter`` are required), or text with one rule per line (blank lines and lines
starting with ``#`` are skipped). A file whose name ends in ``.json`` or whose text starts with ``[``
is read as JSON.

Example:
    >>> rule = parse_rule("clapping > 0.6 until < 0.4 for 1.5s gap 1s")
    >>> rule.label, rule.enter, rule.exit, rule.min_duration_s, rule.min_gap_s
    ('clapping', 0.6, 0.4, 1.5, 1.0)
    >>> rule.text
    'clapping > 0.6 until < 0.4 for 1.5s gap 1s'
    >>> parse_rule('"tying knot (not on a tie)" >= 50% for 2 s').text
    'tying knot (not on a tie) > 0.5 for 2s'
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HeadError
from ..models.labels import closest_labels

RULE_EXAMPLE = "'clapping > 0.6 for 1.5s' or '\"tying knot (not on a tie)\" > 0.5 until < 0.3 for 2s gap 1s'"
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PROB = re.compile(rf"\s*(?P<value>{_NUMBER})(?:\s*(?P<pct>%))?", re.ASCII)
_DURATION = re.compile(rf"\s*(?P<value>{_NUMBER})(?:\s*(?P<unit>ms|s|sec|secs|seconds?))?(?![A-Za-z])", re.ASCII | re.I)
_CLAUSE = re.compile(r"\s+(?P<word>until|for|gap)(?![A-Za-z])", re.I)
_JSON_KEYS = ("label", "enter", "exit", "min_duration_s", "min_gap_s")


@dataclass(frozen=True)
class EventRule:
    """When a class's score makes an event (see the module docstring for the rule text).

    Attributes:
        label: the class, as the timeline names it (Kinetics label, group name or custom action).
        enter: the event opens at a window whose score is at least this (0 < enter <= 1).
        exit: it closes at the first window whose score is below this (0 <= exit <= enter);
            ``None`` when constructed means ``enter`` (no hysteresis).
        min_duration_s: events shorter than this are dropped (after merging).
        min_gap_s: events of this rule whose gap (the next one's start minus this one's end) is
            shorter than this are merged into one.

    Raises:
        HeadError: a value out of range (the message says the valid range).
    """

    label: str
    enter: float
    exit: float | None = None
    min_duration_s: float = 0.0
    min_gap_s: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise HeadError(f"an event rule needs a class name as its label, got {self.label!r}; e.g. {RULE_EXAMPLE}")
        if self.exit is None:
            object.__setattr__(self, "exit", self.enter)
        for name in ("enter", "exit", "min_duration_s", "min_gap_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise HeadError(f"event rule for {self.label!r}: {name} must be a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not 0.0 < self.enter <= 1.0:
            raise HeadError(
                f"event rule for {self.label!r}: enter threshold {self.enter:g} is not a probability above 0; "
                "use a value in (0, 1], e.g. 0.6 or 60%"
            )
        if not 0.0 <= self.exit <= self.enter:
            raise HeadError(
                f"event rule for {self.label!r}: exit threshold {self.exit:g} must be in 0..{self.enter:g} "
                "(at most the enter threshold: an event closes below it)"
            )
        for name in ("min_duration_s", "min_gap_s"):
            if getattr(self, name) < 0:
                raise HeadError(
                    f"event rule for {self.label!r}: {name} must be >= 0 seconds, got {getattr(self, name)}"
                )

    @property
    def text(self) -> str:
        """The rule as :func:`parse_rule` reads it back, e.g. ``"clapping > 0.6 for 1.5s"``."""
        label = self.label
        if ">" in label or label[0] in "\"'" or label != label.strip():
            label = f"'{label}'" if '"' in label else f'"{label}"'
        parts = [f"{label} > {self.enter:g}"]
        if self.exit != self.enter:
            parts.append(f"until < {self.exit:g}")
        if self.min_duration_s:
            parts.append(f"for {self.min_duration_s:g}s")
        if self.min_gap_s:
            parts.append(f"gap {self.min_gap_s:g}s")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The rule as a JSON rule object (every field; ``load_rules`` reads it back)."""
        return {name: getattr(self, name) for name in _JSON_KEYS}


def _bad(text: str, why: str) -> HeadError:
    return HeadError(f"cannot read the event rule {text!r}: {why}; valid rules look like {RULE_EXAMPLE}")


def parse_rule(text: str) -> EventRule:
    """Read one rule from its text (syntax in the module docstring).

    Args:
        text: e.g. ``"clapping > 0.6 until < 0.4 for 1.5s gap 1s"``.

    Returns:
        The :class:`EventRule`.

    Raises:
        HeadError: the text is not a rule; the message quotes it, says what is wrong and shows
            valid rules.
    """
    if not isinstance(text, str):
        raise HeadError(f"an event rule is text such as {RULE_EXAMPLE}, got a {type(text).__name__}: {text!r}")
    s = text.strip()
    if s[:1] in ("'", '"'):
        end = s.find(s[0], 1)
        if end < 0:
            raise _bad(text, f"the label's opening {s[0]} is never closed")
        label, rest = s[1:end], s[end + 1 :]
        if not rest.lstrip().startswith(">"):
            raise _bad(text, "a '>' must follow the quoted label")
        rest = rest.lstrip()[1:]
    else:
        label, sep, rest = s.partition(">")
        if not sep:
            raise _bad(text, "no '>': say which score opens the event, e.g. 'clapping > 0.6'")
        label = label.strip()
    if not label.strip():
        raise _bad(text, "no label before '>'")
    rest = rest.removeprefix("=")
    enter, rest = _take(_PROB, rest, text, "a probability after '>' (e.g. 0.6 or 60%)")
    fields: dict[str, float] = {}
    while rest.strip():
        m = _CLAUSE.match(rest)
        if not m:
            raise _bad(text, f"unexpected {rest.strip()!r} (after the threshold: 'until < X', 'for Ns', 'gap Ns')")
        word = m.group("word").lower()
        if word in fields:
            raise _bad(text, f"'{word}' is given twice")
        rest = rest[m.end() :]
        if word == "until":
            rest = rest.lstrip().removeprefix("<").removeprefix("=")
            fields[word], rest = _take(_PROB, rest, text, "a probability after 'until' (e.g. 'until < 0.4')")
        else:
            fields[word], rest = _take(_DURATION, rest, text, f"a duration after '{word}' (e.g. '{word} 1.5s')")
    try:
        return EventRule(
            label=label,
            enter=enter,
            exit=fields.get("until"),
            min_duration_s=fields.get("for", 0.0),
            min_gap_s=fields.get("gap", 0.0),
        )
    except HeadError as exc:
        raise _bad(text, str(exc).removeprefix(f"event rule for {label!r}: ")) from None


def _take(pattern: re.Pattern[str], rest: str, text: str, what: str) -> tuple[float, str]:
    """The number ``pattern`` reads at the start of ``rest`` (a probability or a duration), and what follows."""
    m = pattern.match(rest)
    if not m:
        raise _bad(text, f"expected {what}, got {rest.strip()[:20]!r}" if rest.strip() else f"expected {what}")
    value = float(m.group("value"))
    groups = m.groupdict()
    if groups.get("pct"):
        value /= 100.0
    if (groups.get("unit") or "").lower() == "ms":
        value /= 1000.0
    return value, rest[m.end() :]


def rule_from_dict(obj: Any, *, where: str = "") -> EventRule:
    """A rule object (``{"label": ..., "enter": ...}``, optional ``exit``, ``min_duration_s``, ``min_gap_s``).

    Args:
        obj: the decoded JSON object.
        where: where it came from, for the error message (e.g. ``"rules.json item 2"``).

    Raises:
        HeadError: not an object, an unknown or missing key, or a value out of range.
    """
    at = f"{where}: " if where else ""
    if not isinstance(obj, dict):
        raise HeadError(f"{at}an event rule object is a JSON object, got {type(obj).__name__} {obj!r}")
    unknown = sorted(set(obj) - set(_JSON_KEYS))
    missing = [k for k in ("label", "enter") if k not in obj]
    if unknown or missing:
        what = f"unknown key(s) {unknown}" if unknown else f"missing key(s) {missing}"
        raise HeadError(
            f"{at}{what} in the event rule object {obj!r}; keys: {', '.join(_JSON_KEYS)} (label and enter required), "
            'e.g. {"label": "clapping", "enter": 0.6, "min_duration_s": 1.5}'
        )
    try:
        return EventRule(**obj)
    except HeadError as exc:
        raise HeadError(f"{at}{exc}") from None


def read_rules_file(path: str | os.PathLike[str]) -> tuple[EventRule, ...]:
    """The rules of a rules file: JSON (a list of rule texts and rule objects) or one rule per line.

    Raises:
        HeadError: the file cannot be read, is not valid JSON, or holds a malformed rule (the
            message names the file and the line or item).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HeadError(f"cannot read the event rules file {p}: {exc}") from exc
    if p.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HeadError(f"{p} is not valid JSON ({exc}); a JSON rules file is a list of rules") from exc
        if not isinstance(items, list):
            raise HeadError(
                f"{p} holds a JSON {type(items).__name__}; a JSON rules file is a list of rule texts and "
                'rule objects, e.g. ["clapping > 0.6 for 1.5s", {"label": "waving", "enter": 0.5}]'
            )
        rules = []
        for i, item in enumerate(items, 1):
            if isinstance(item, str):
                try:
                    rules.append(parse_rule(item))
                except HeadError as exc:
                    raise HeadError(f"{p} item {i}: {exc}") from None
            else:
                rules.append(rule_from_dict(item, where=f"{p} item {i}"))
        return tuple(rules)
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            rules.append(parse_rule(line))
        except HeadError as exc:
            raise HeadError(f"{p} line {n}: {exc}") from None
    return tuple(rules)


def load_rules(
    values: str | os.PathLike[str] | EventRule | Iterable[str | os.PathLike[str] | EventRule],
) -> tuple[EventRule, ...]:
    """Rules from rule texts, rules files and :class:`EventRule` objects, in the order given.

    Args:
        values: one value or several; each is an :class:`EventRule`, the path of a rules file (an
            existing file) or a rule text (anything else holding a ``>``).

    Returns:
        Every rule, files expanded in place.

    Raises:
        HeadError: a value is neither an existing file nor a rule, or a rule is malformed.

    Example:
        >>> [r.text for r in load_rules(["clapping > 0.6 for 1.5s", EventRule("waving", 0.5)])]
        ['clapping > 0.6 for 1.5s', 'waving > 0.5']
    """
    if isinstance(values, (str, os.PathLike, EventRule)):
        values = [values]
    rules: list[EventRule] = []
    for value in values:
        if isinstance(value, EventRule):
            rules.append(value)
        elif isinstance(value, os.PathLike) or (isinstance(value, str) and ">" not in value):
            if not Path(value).is_file():
                raise HeadError(
                    f"{os.fspath(value)!r} is neither an event rule (it has no '>') nor an existing rules file; "
                    f"give a rule such as {RULE_EXAMPLE}, or the path of a rules file"
                )
            rules.extend(read_rules_file(value))
        elif isinstance(value, str) and Path(value).is_file():
            rules.extend(read_rules_file(value))
        else:
            rules.append(parse_rule(value))
    return tuple(rules)


def check_rule_labels(rules: Sequence[EventRule], labels: Sequence[str]) -> None:
    """Make sure every rule names one of ``labels`` (the timeline's classes).

    Raises:
        HeadError: a rule names an unknown class; the message gives the closest valid names.
    """
    known = set(labels)
    for rule in rules:
        if rule.label not in known:
            close = closest_labels(rule.label, labels)
            hint = f"closest: {', '.join(map(repr, close))}" if close else f"e.g. {', '.join(map(repr, labels[:3]))}"
            raise HeadError(
                f"event rule {rule.text!r} names {rule.label!r}, which is not one of the {len(labels)} classes of "
                f"this timeline ({hint}); use a class name exactly as the timeline spells it"
            )
