"""Label groups and allow-lists: the model's classes summed into a few named groups, plus "other".

A groups file maps a group name to model labels (Kinetics-400 for action-recognition-0001)::

    {"ball sports": ["playing basketball", "kicking soccer ball"], "racket sports": ["playing tennis"]}

A window's group score is the sum of its members' softmax probabilities; every label in no group
goes to the explicit :data:`OTHER` group, and the row is renormalised over the groups plus
``other`` (it sums to 1). The timeline's classes are then the group names and ``other``, so top-k,
smoothing, the uncertain threshold, segments, the exports and the player read them like the
model's own. An allow-list is groups of one label each (:meth:`LabelGroups.allow_list`, or a JSON
array of labels).

Label names are matched exactly first; a name that differs from one label only in case or spacing
(``"Playing  Tennis"``) resolves to that label when exactly one label matches so; anything else is
a :class:`~actionrec.errors.HeadError` naming the closest valid labels.

Example:
    >>> groups = LabelGroups.from_mapping({"warm": ["red"], "cold": ["blue", "green"]},
    ...                                   labels=("blue", "green", "red", "grey"))
    >>> groups.labels
    ('warm', 'cold', 'other')
    >>> probs = groups.probabilities(np.log([[0.1, 0.2, 0.6, 0.1]]), np.zeros((1, 0)))
    >>> [f"{p:.2f}" for p in probs[0]]
    ['0.60', '0.30', '0.10']
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import HeadError, HeadMismatchError
from ..models.labels import closest_labels, label_key
from ..results import softmax

OTHER = "other"
"""The group every label outside the chosen groups goes to (always the last class)."""

SUFFIXES = (".json", ".toml")
MAX_GROUPS_FILE_BYTES = 1024 * 1024  # a groups file names at most a few hundred labels: a few KB


@dataclass(frozen=True)
class LabelGroups:
    """A head summing the model's class probabilities into named groups plus :data:`OTHER`.

    Build one with :meth:`from_mapping`, :meth:`from_file`, :meth:`allow_list` or
    :func:`load_groups`; they resolve loosely written label names first. Constructed directly,
    every member must already be an exact label.

    Attributes:
        groups: ``(group name, member labels)`` pairs, in file order.
        model_labels: the model's labels in output order (what member names index into).
        name: what the classes are, for displays and exports (``"groups: sports.json"``).
        labels: the group names in order, then ``"other"``: the columns of :meth:`probabilities`.

    Raises:
        HeadError: no group, an empty group or group name, a group named like ``other``, a
            member that is not one of ``model_labels``, or a label in two groups (names both).
    """

    groups: tuple[tuple[str, tuple[str, ...]], ...]
    model_labels: tuple[str, ...] = field(repr=False)
    name: str = "groups"
    labels: tuple[str, ...] = field(init=False)
    _columns: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.groups:
            raise HeadError(f'{self.name}: no group given; name at least one, e.g. {{"sports": ["bowling"]}}')
        index = {label: i for i, label in enumerate(self.model_labels)}
        columns = np.full(len(self.model_labels), len(self.groups), dtype=np.intp)  # default: other
        owner: dict[str, str] = {}
        seen_names: dict[str, str] = {}
        for g, (group, members) in enumerate(self.groups):
            if not isinstance(group, str) or not group.strip():
                raise HeadError(f"{self.name}: group name {group!r} is empty; give every group a name")
            if label_key(group) == OTHER:
                raise HeadError(
                    f"{self.name}: a group is named {group!r}; {OTHER!r} is added automatically and holds "
                    "every label in no group: rename the group"
                )
            key = label_key(group)
            if key in seen_names:
                raise HeadError(f"{self.name}: groups {seen_names[key]!r} and {group!r} have the same name")
            seen_names[key] = group
            if not members:
                raise HeadError(f"{self.name}: group {group!r} is empty; list at least one label or remove it")
            for label in members:
                if label not in index:
                    raise HeadError(f"{self.name}: group {group!r}: {unknown_label_message(label, self.model_labels)}")
                if label in owner:
                    where = "twice in that group" if owner[label] == group else f"in group {owner[label]!r} too"
                    raise HeadError(
                        f"{self.name}: label {label!r} is in group {group!r} and {where}; "
                        "a label belongs to at most one group"
                    )
                owner[label] = group
                columns[index[label]] = g
        object.__setattr__(self, "labels", (*(group for group, _ in self.groups), OTHER))
        object.__setattr__(self, "_columns", columns)

    # -- constructors -----------------------------------------------------------------------------

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Sequence[str]], *, labels: Sequence[str], name: str = "groups"
    ) -> LabelGroups:
        """Groups from ``{"group name": ["label", ...], ...}``, checked against the model's labels.

        Args:
            mapping: group name -> member labels, in display order.
            labels: the model's labels in output order (``models.labels``).
            name: shown in displays and exports.

        Raises:
            HeadError: not a mapping of names to lists of strings, an empty group, a group named
                like ``other``, an unknown label (the message names the closest valid ones), or a
                label in two groups.
        """
        labels = tuple(labels)
        if not isinstance(mapping, Mapping):
            raise HeadError(
                f"{name}: expected groups as an object of group name -> list of labels, got a "
                f'{type(mapping).__name__}; e.g. {{"racket sports": ["playing tennis"]}}'
            )
        if not mapping:
            raise HeadError(f'{name}: holds no group; name at least one, e.g. {{"racket sports": ["playing tennis"]}}')
        resolve = _resolver(labels)
        groups = []
        for group, members in mapping.items():
            if not isinstance(group, str):
                raise HeadError(f"{name}: group name {group!r} is a {type(group).__name__}, not text")
            if isinstance(members, str) or not isinstance(members, Sequence):
                raise HeadError(
                    f"{name}: group {group!r} must be a list of labels, got a {type(members).__name__} "
                    f"({members!r}); write e.g. {{{json.dumps(group)}: [{json.dumps(str(members))}]}}"
                )
            resolved = []
            for i, member in enumerate(members):
                if not isinstance(member, str):
                    raise HeadError(
                        f"{name}: group {group!r}, entry {i}: {member!r} is a {type(member).__name__}, "
                        "not a label; write each label as a string"
                    )
                resolved.append(resolve(member, f"{name}: group {group!r}"))
            groups.append((group, tuple(resolved)))
        return cls(groups=tuple(groups), model_labels=labels, name=name)

    @classmethod
    def allow_list(cls, keep: Iterable[str], *, labels: Sequence[str], name: str = "allow-list") -> LabelGroups:
        """Only the labels in ``keep`` (each its own group, named as the label), the rest as ``other``.

        Raises:
            HeadError: ``keep`` is empty, names an unknown label or one label twice.
        """
        keep = list(keep)
        if any(not isinstance(k, str) for k in keep):
            bad = next(k for k in keep if not isinstance(k, str))
            raise HeadError(f"{name}: {bad!r} is a {type(bad).__name__}, not a label; write each label as a string")
        resolve = _resolver(tuple(labels))
        resolved = [resolve(k, name) for k in keep]
        if not resolved:
            raise HeadError(f"{name}: keeps no label; list at least one")
        if len(set(resolved)) != len(resolved):
            twice = next(r for r in resolved if resolved.count(r) > 1)
            raise HeadError(f"{name}: label {twice!r} is listed twice; list each label once")
        return cls(groups=tuple((r, (r,)) for r in resolved), model_labels=tuple(labels), name=name)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, labels: Sequence[str]) -> LabelGroups:
        """Read a groups file: JSON (``.json``) or TOML (``.toml``) with the same shape.

        JSON: an object ``{"group": ["label", ...]}``, or an array of labels (an allow-list).
        TOML: top-level keys, e.g. ``"racket sports" = ["playing tennis"]``. Its name is
        ``"groups: <file name>"``.

        Raises:
            HeadError: the file is missing, too large, not UTF-8, not valid JSON/TOML (the parser's
                message, with the line), repeats a group name, or breaks a rule of
                :meth:`from_mapping`.
        """
        p = Path(path)
        name = f"groups: {p.name}"
        suffix = p.suffix.lower()
        if suffix not in SUFFIXES:
            raise HeadError(f"groups file {p}: unknown suffix {p.suffix!r}; write it as .json or .toml")
        try:
            size = p.stat().st_size
            if size > MAX_GROUPS_FILE_BYTES:
                raise HeadError(f"groups file {p} is {size} bytes; a groups file is at most {MAX_GROUPS_FILE_BYTES}")
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise HeadError(f"groups file {p} does not exist; {_examples_hint()}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise HeadError(f"cannot read groups file {p}: {exc}; save it as UTF-8 text") from None
        if not text.strip():
            raise HeadError(f'groups file {p} is empty; write e.g. {{"racket sports": ["playing tennis"]}}')
        data = _parse_toml(text, p) if suffix == ".toml" else _parse_json(text, p)
        if isinstance(data, list):
            return cls.allow_list(data, labels=labels, name=name)
        return cls.from_mapping(data, labels=labels, name=name)

    # -- the Head protocol ------------------------------------------------------------------------

    def check_models(self, models: Any) -> None:
        """Refuse models whose labels are not the ones these groups were resolved against.

        Raises:
            HeadMismatchError: a member label is not one of ``models.labels`` (named, with the
                closest), or the labels are the same names in another order or count.
        """
        theirs = tuple(models.labels)
        if theirs == self.model_labels:
            return
        for _, members in self.groups:
            for label in members:
                if label not in theirs:
                    raise HeadMismatchError(
                        f"{self.name} does not fit these models: {unknown_label_message(label, theirs)}; "
                        "use groups of this model's labels"
                    )
        raise HeadMismatchError(
            f"{self.name} was read against {len(self.model_labels)} labels in another order than these "
            f"models' {len(theirs)}; load it again with labels=models.labels"
        )

    def probabilities(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        """``[W, groups + 1]`` group scores: sums of the members' softmax probabilities, renormalised.

        Raises:
            HeadMismatchError: ``logits`` do not have one column per model label.
        """
        logits = np.asarray(logits)
        if logits.ndim != 2 or logits.shape[1] != len(self.model_labels):
            raise HeadMismatchError(
                f"{self.name}: logits of shape {list(logits.shape)}, expected [W, {len(self.model_labels)}] "
                "(one column per label the groups were read against)"
            )
        probs = softmax(logits.astype(np.float64))
        out = np.zeros((len(probs), len(self.labels)), dtype=np.float64)
        np.add.at(out.T, self._columns, probs.T)  # out[:, column[c]] += probs[:, c] for every class c
        out /= out.sum(axis=1, keepdims=True)
        return out.astype(np.float32)

    # -- writing ----------------------------------------------------------------------------------

    def to_mapping(self) -> dict[str, list[str]]:
        """``{"group name": ["label", ...]}``: what :meth:`from_mapping` reads back."""
        return {group: list(members) for group, members in self.groups}

    def to_file(self, path: str | os.PathLike[str]) -> Path:
        """Write as a JSON groups file, atomically (:meth:`from_file` reads it back).

        Raises:
            HeadError: ``path`` does not end in ``.json``.
            ExportError: the folder cannot be written; nothing is left under ``path``.
        """
        p = Path(path)
        if p.suffix.lower() != ".json":
            raise HeadError(f"groups are written as JSON: name the file *.json, got {p.name!r}")
        with atomic_write(p, "w") as f:
            f.write(json.dumps(self.to_mapping(), indent=1, ensure_ascii=False) + "\n")
        return p


# -- loading by path or shipped name ---------------------------------------------------------------


def example_groups() -> tuple[str, ...]:
    """Names of the groups files shipped in the package (``actionrec/heads/examples/``), sorted."""
    folder = resources.files(__package__).joinpath("examples")
    return tuple(sorted(Path(e.name).stem for e in folder.iterdir() if e.name.endswith(SUFFIXES)))


def load_groups(path_or_name: str | os.PathLike[str], *, labels: Sequence[str]) -> LabelGroups:
    """A groups file by path, or a shipped example by name (``"sports"``; see :func:`example_groups`).

    A path that exists wins over an example of the same name.

    Raises:
        HeadError: neither a file nor a shipped example (the message lists the examples), or the
            file breaks a rule of :meth:`LabelGroups.from_file`.

    Example:
        >>> "sports" in example_groups()
        True
    """
    p = Path(path_or_name)
    if p.exists() or (p.suffix.lower() in SUFFIXES and p.parent != Path(".")):
        return LabelGroups.from_file(p, labels=labels)
    stem = p.stem if p.suffix.lower() in SUFFIXES else p.name
    if stem in example_groups():
        with resources.as_file(resources.files(__package__).joinpath("examples", f"{stem}.json")) as shipped:
            return LabelGroups.from_file(shipped, labels=labels)
    raise HeadError(
        f"groups {str(path_or_name)!r}: no such file and no shipped example of that name; {_examples_hint()}"
    )


def unknown_label_message(label: str, labels: Sequence[str]) -> str:
    """``"unknown label 'x'; closest: 'a', 'b'"``: what to tell a user about a misspelt label."""
    close = closest_labels(label, labels)
    hint = f"closest: {', '.join(map(repr, close))}" if close else f"none is close; the model has {len(labels)} labels"
    return f"unknown label {label!r}; {hint}"


def _resolver(labels: tuple[str, ...]):
    """``resolve(name, where) -> label``: exact, else the one label equal ignoring case and spacing."""
    exact = set(labels)
    loose: dict[str, list[str]] = {}
    for label in labels:
        loose.setdefault(label_key(label), []).append(label)

    def resolve(name: str, where: str) -> str:
        if name in exact:
            return name
        candidates = loose.get(label_key(name), [])
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise HeadError(f"{where}: {name!r} matches {candidates} ignoring case and spacing; write one exactly")
        raise HeadError(f"{where}: {unknown_label_message(name, labels)}")

    return resolve


def _parse_json(text: str, path: Path) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise HeadError(f"groups file {path}: group {key!r} appears twice; merge them into one list")
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise HeadError(f"groups file {path} is not valid JSON: {exc}") from None


def _parse_toml(text: str, path: Path) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HeadError(f"groups file {path} is not valid TOML: {exc}") from None


def _examples_hint() -> str:
    return f"give a .json/.toml groups file or a shipped example: {', '.join(example_groups())}"
