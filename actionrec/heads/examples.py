"""Examples of custom actions: a whole clip or a time range of one, named after its action.

An example is written ``ACTION=VIDEO`` (the whole clip) or ``ACTION=VIDEO@START-END`` (seconds
of the clip's timeline), as ``python -m actionrec learn --example`` takes it; or a folder holds one
sub-folder per action, and every video file in a sub-folder is one whole-clip example of it.

Example:
    >>> parse_example("clapping=long.mp4@12.5-18")
    ActionExample(action='clapping', source='long.mp4', start_s=12.5, end_s=18.0)
    >>> parse_example("waving=clip.mp4").describe()
    'waving=clip.mp4'
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import HeadError

UNKNOWN = "unknown"
"""The class a custom-action head gives windows unlike every example (a reserved action name)."""

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mov", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".gif")
"""File types an ``--examples`` folder's sub-folders are searched for (other files are ignored)."""

_RANGE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*-\s*(\d+(?:\.\d*)?|\.\d+)\s*$")
_RANGE_LIKE = re.compile(r"^[\d\s.:\-+s]*$")  # what the text after the last "@" looks like when a range was meant
_USAGE = "write ACTION=VIDEO or ACTION=VIDEO@START-END (seconds), e.g. waving=clip.mp4 or clapping=long.mp4@12.5-18"


@dataclass(frozen=True)
class ActionExample:
    """One example of a custom action: a clip, or the time range ``start_s``..``end_s`` of one.

    Attributes:
        action: the action's name (not ``"unknown"``, which is reserved).
        source: the video (a path, or anything :func:`~actionrec.video.open_video` opens).
        start_s, end_s: the range in seconds of the clip's timeline; both ``None`` for the whole clip.
            The example's windows are those whose centre lies inside the range.

    Raises:
        HeadError: an empty or reserved action name, an empty source, or a range that is not
            ``0 <= start_s < end_s``.
    """

    action: str
    source: str
    start_s: float | None = None
    end_s: float | None = None

    def __post_init__(self) -> None:
        check_action_name(self.action)
        if not str(self.source).strip():
            raise HeadError(f"example {self.action!r} has no video; {_USAGE}")
        if (self.start_s is None) != (self.end_s is None):
            raise HeadError(f"example {self.describe()}: give both ends of the range or neither")
        if self.start_s is not None and self.end_s is not None:
            if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)) or self.start_s < 0:
                raise HeadError(f"example {self.describe()}: the range must be finite seconds from 0")
            if self.end_s <= self.start_s:
                raise HeadError(
                    f"example {self.describe()}: the range ends ({self.end_s:g} s) at or before it starts "
                    f"({self.start_s:g} s); write START-END with START < END"
                )

    @property
    def is_range(self) -> bool:
        """A time range of its clip (not the whole clip)."""
        return self.start_s is not None

    def describe(self) -> str:
        """The example as ``--example`` takes it (``action=source`` or ``action=source@start-end``)."""
        rng = f"@{self.start_s:g}-{self.end_s:g}" if self.start_s is not None and self.end_s is not None else ""
        return f"{self.action}={self.source}{rng}"


def check_action_name(name: object) -> str:
    """``name`` when it can name a custom action (non-empty text, no control characters, not ``unknown``).

    Raises:
        HeadError: it cannot, saying why.
    """
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise HeadError(f"action name {name!r} must be non-empty text without surrounding spaces")
    if any(ord(c) < 32 for c in name):
        raise HeadError(f"action name {name!r} holds a control character (a newline or tab); use plain text")
    if name.casefold() == UNKNOWN:
        raise HeadError(f"{name!r} is reserved for windows unlike every example; name the action otherwise")
    return name


def parse_example(text: str) -> ActionExample:
    """``"waving=clip.mp4"`` or ``"clapping=long.mp4@12.5-18"`` -> :class:`ActionExample`.

    The action name ends at the first ``=``; a range follows the last ``@`` (an ``@`` inside a file
    name stays part of it when no range follows it).

    Raises:
        HeadError: no ``=``, an empty name or video, or a malformed or backwards range.
    """
    action, sep, rest = text.partition("=")
    if not sep:
        raise HeadError(f"--example {text!r} names no action; {_USAGE}")
    action = action.strip()
    source, at, tail = rest.rpartition("@")
    if not at or not _RANGE_LIKE.match(tail) or not source:
        return ActionExample(action=action, source=rest.strip())
    m = _RANGE.match(tail)
    if m is None:
        raise HeadError(f"--example {text!r}: {'@' + tail!r} is not a time range START-END in seconds; {_USAGE}")
    return ActionExample(action=action, source=source.strip(), start_s=float(m.group(1)), end_s=float(m.group(2)))


def _is_video(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in VIDEO_SUFFIXES


def examples_from_folder(folder: str | os.PathLike[str]) -> tuple[ActionExample, ...]:
    """One whole-clip example per video file in each sub-folder of ``folder`` (the action's name).

    ``folder/waving/a.mp4`` is an example of ``waving``. Hidden files and files that are not
    videos (:data:`VIDEO_SUFFIXES`) are ignored; sub-folders are not searched further.

    Raises:
        HeadError: ``folder`` is not a folder, holds a video outside any action sub-folder, has no
            sub-folder, or a sub-folder holds no video.
    """
    root = Path(folder)
    if not root.is_dir():
        raise HeadError(f"--examples {root} is not a folder; give a folder with one sub-folder per action")
    stray = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if stray:
        raise HeadError(
            f"--examples {root}: {', '.join(stray)} not in an action sub-folder; "
            f"move each video into {root}/<action name>/"
        )
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        raise HeadError(f"--examples {root} has no sub-folder; make one per action (e.g. {root}/waving/) with clips")
    examples: list[ActionExample] = []
    for sub in subfolders:
        videos = sorted(p for p in sub.iterdir() if _is_video(p))
        if not videos:
            raise HeadError(
                f"--examples {sub} holds no video ({', '.join(VIDEO_SUFFIXES)}); add clips of {sub.name!r} or remove it"
            )
        examples += [ActionExample(action=sub.name, source=str(v)) for v in videos]
    return tuple(examples)
