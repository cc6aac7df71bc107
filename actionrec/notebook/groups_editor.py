"""The notebook's label-group editor: search the model's labels, tick them into groups, see the timeline.

Every change rebuilds a :class:`~actionrec.heads.LabelGroups` from the draft and recomputes the
timeline with :meth:`Recognizer.timeline <actionrec.pipeline.Recognizer.timeline>` from decoder
outputs already computed (:meth:`~actionrec.pipeline.Recognizer.analyze_windows`): no inference,
so the result is there at once. The editing rules are plain functions over a draft
``{"group": ["label", ...]}`` (:func:`search_labels`, :func:`tick`, :func:`add_group`,
:func:`remove_group`, :func:`draft_groups`), tested without a browser; :class:`GroupEditor` only
wires widgets to them.

Example (a notebook cell)::

    decoded = recognizer.analyze_windows(clip)
    editor = GroupEditor(recognizer, decoded, groups=load_groups("sports", labels=models.labels))
    editor              # search box, group list, label ticks, Save / Load, the recomputed timeline
    editor.groups       # the LabelGroups now shown (None while every group is empty)
"""

from __future__ import annotations

import difflib
import html
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ActionRecError, HeadError
from ..heads.groups import OTHER, LabelGroups, load_groups
from .outputs import output_items

if TYPE_CHECKING:
    from ..pipeline.decoded import DecodedWindows
    from ..pipeline.files import Recognizer
    from ..results import Timeline

Draft = dict[str, list[str]]
EDITED = " (edited)"  # appended to a loaded file's name once the editor changed its groups


# -- the editing rules (plain functions) -------------------------------------------------------------


def search_labels(labels: Sequence[str], query: str, *, limit: int = 40) -> tuple[str, ...]:
    """Labels containing ``query`` (case-insensitive, in model order), then close spellings; at most ``limit``.

    An empty query gives the first ``limit`` labels.

    Example:
        >>> search_labels(["playing tennis", "playing piano", "bowling"], "PLAY")
        ('playing tennis', 'playing piano')
        >>> search_labels(["playing tennis", "bowling"], "bowlng")
        ('bowling',)
    """
    q = " ".join(query.split()).casefold()
    if not q:
        return tuple(labels[:limit])
    found = [label for label in labels if q in label.casefold()]
    if len(found) < limit:
        keyed = {label.casefold(): label for label in labels}
        close = difflib.get_close_matches(q, list(keyed), n=limit, cutoff=0.75)
        found += [keyed[k] for k in close if keyed[k] not in found]
    return tuple(found[:limit])


def add_group(draft: Mapping[str, Sequence[str]], name: str) -> Draft:
    """A copy of ``draft`` with an empty group ``name`` added last.

    Raises:
        HeadError: ``name`` is empty, named like ``other``, or already a group.
    """
    name = " ".join(name.split())
    if not name:
        raise HeadError("a group needs a name: type one, then Add")
    if name.casefold() == OTHER:
        raise HeadError(f"{OTHER!r} is added automatically and holds every label in no group: pick another name")
    same = [g for g in draft if g.casefold() == name.casefold()]
    if same:
        raise HeadError(f"group {same[0]!r} already exists: pick another name than {name!r}")
    return {**{g: list(m) for g, m in draft.items()}, name: []}


def remove_group(draft: Mapping[str, Sequence[str]], name: str) -> Draft:
    """A copy of ``draft`` without group ``name`` (its labels go back to ``other``).

    Raises:
        HeadError: no group of that name.
    """
    if name not in draft:
        raise HeadError(f"no group {name!r}; groups: {', '.join(map(repr, draft)) or '(none)'}")
    return {g: list(m) for g, m in draft.items() if g != name}


def tick(draft: Mapping[str, Sequence[str]], group: str, label: str, *, on: bool = True) -> Draft:
    """A copy of ``draft`` with ``label`` in ``group`` (``on``) or out of it.

    A label belongs to at most one group: ticking it into ``group`` takes it out of any other.

    Raises:
        HeadError: no group of that name.

    Example:
        >>> tick({"a": ["x"], "b": []}, "b", "x")
        {'a': [], 'b': ['x']}
    """
    if group not in draft:
        raise HeadError(f"no group {group!r}: add it first")
    out = {g: [m for m in members if m != label] for g, members in draft.items()}
    if on:
        out[group].append(label)
    return out


def draft_groups(
    draft: Mapping[str, Sequence[str]], *, labels: Sequence[str], name: str = "groups"
) -> LabelGroups | None:
    """The :class:`LabelGroups` of ``draft``, leaving out empty groups; ``None`` if every group is empty.

    Raises:
        HeadError: a rule of :meth:`LabelGroups.from_mapping` is broken (e.g. an unknown label).
    """
    kept = {g: list(m) for g, m in draft.items() if m}
    return LabelGroups.from_mapping(kept, labels=labels, name=name) if kept else None


def segments_html(timeline: Timeline, *, threshold: float = 0.0, limit: int = 12) -> str:
    """The timeline's segments as a small HTML table (class, span, mean score), at most ``limit`` rows."""
    rows = []
    for s in timeline.segments(threshold=threshold)[:limit]:
        label = html.escape(s.label) + (" <i>(uncertain)</i>" if s.uncertain else "")
        rows.append(f"<tr><td>{label}</td><td>{s.start_s:.1f}–{s.end_s:.1f} s</td><td>{s.mean_score:.0%}</td></tr>")
    title = html.escape(timeline.head or "model classes")
    return (
        f"<b>{title}</b>: {len(timeline)} windows"
        "<table><tr><th>class</th><th>span</th><th>mean</th></tr>" + "".join(rows) + "</table>"
    )


# -- the widget --------------------------------------------------------------------------------------


class GroupEditor:
    """Edit label groups and see the timeline recomputed at once (see the module docstring).

    Args:
        recognizer: the :class:`~actionrec.pipeline.Recognizer` that analysed ``decoded``.
        decoded: its :meth:`~actionrec.pipeline.Recognizer.analyze_windows` result.
        groups: the groups to start from (e.g. :func:`~actionrec.heads.load_groups`), or a draft
            mapping; default none (the model's classes).
        threshold: top-1 probability below which a segment is uncertain.
        on_timeline: called with each recomputed :class:`~actionrec.results.Timeline`.
        plot: draw :func:`~actionrec.notebook.plot_timeline` under the table.
        max_shown: label tick boxes shown per search.

    Attributes:
        widget: what to display.
        draft: the groups being edited, ``{"group": ["label", ...]}`` (empty groups included).
        groups: the :class:`LabelGroups` shown (``None`` while every group is empty).
        timeline: the timeline shown.
    """

    def __init__(
        self,
        recognizer: Recognizer,
        decoded: DecodedWindows,
        *,
        groups: LabelGroups | Mapping[str, Sequence[str]] | None = None,
        threshold: float = 0.0,
        on_timeline: Callable[[Timeline], object] | None = None,
        plot: bool = True,
        max_shown: int = 40,
    ) -> None:
        import ipywidgets as widgets

        self.recognizer, self.decoded = recognizer, decoded
        self.labels: tuple[str, ...] = tuple(recognizer.models.labels)
        self.threshold, self.on_timeline, self.plot, self.max_shown = threshold, on_timeline, plot, max_shown
        self.draft: Draft = groups.to_mapping() if isinstance(groups, LabelGroups) else dict(groups or {})
        self.name = groups.name if isinstance(groups, LabelGroups) else "groups"
        self.groups = draft_groups(self.draft, labels=self.labels, name=self.name)
        self.timeline: Timeline | None = None

        layout = widgets.Layout
        self._group = widgets.Dropdown(description="group", options=list(self.draft), layout=layout(width="280px"))
        self._new_name = widgets.Text(placeholder="new group name", layout=layout(width="180px"))
        self._add = widgets.Button(description="Add group", icon="plus")
        self._remove = widgets.Button(description="Remove group", icon="trash")
        self._search = widgets.Text(placeholder="search labels, e.g. 'playing'", description="labels")
        self._ticks = widgets.VBox(layout=layout(max_height="260px", overflow="auto"))
        self._members = widgets.HTML()
        self._path = widgets.Text(
            placeholder="groups file (.json) or shipped example name", layout=layout(width="320px")
        )
        self._save = widgets.Button(description="Save", icon="save")
        self._load = widgets.Button(description="Load", icon="folder-open")
        self._status = widgets.HTML()
        self._result = widgets.HTML()
        self._plot = widgets.Output()

        self._add.on_click(lambda _b: self._guarded(lambda: self.add_group(self._new_name.value)))
        self._remove.on_click(lambda _b: self._guarded(lambda: self.remove_group(self._group.value)))
        self._save.on_click(lambda _b: self._guarded(lambda: self.save(self._path.value)))
        self._load.on_click(lambda _b: self._guarded(lambda: self.load(self._path.value)))
        self._search.observe(lambda _c: self._render_ticks(), names="value")
        self._group.observe(lambda _c: self._render_ticks(), names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self._group, self._new_name, self._add, self._remove]),
                self._search,
                self._ticks,
                self._members,
                widgets.HBox([self._path, self._save, self._load]),
                self._status,
                self._result,
                self._plot,
            ]
        )
        self._refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- verbs (what the buttons call; they raise, the buttons show the message) ---------------------

    def add_group(self, name: str) -> None:
        """Add an empty group and select it. Raises ``HeadError`` (see :func:`add_group`)."""
        draft = add_group(self.draft, name)
        self._new_name.value = ""
        self._apply(draft, select=list(draft)[-1])

    def remove_group(self, name: str | None) -> None:
        """Remove a group; its labels go back to ``other``. Raises ``HeadError`` (no such group)."""
        self._apply(remove_group(self.draft, name or ""))

    def tick(self, label: str, *, on: bool = True, group: str | None = None) -> None:
        """Put ``label`` into ``group`` (default: the selected one), or take it out with ``on=False``."""
        group = group if group is not None else self._group.value
        if group is None:
            raise HeadError("add a group first, then tick labels into it")
        self._apply(tick(self.draft, group, label, on=on), select=group)

    def search(self, query: str) -> tuple[str, ...]:
        """Show tick boxes for the labels matching ``query``; returns those labels."""
        self._search.value = query  # its observer re-renders
        return tuple(box.description for box in self._ticks.children)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the non-empty groups to a JSON groups file (atomically); returns its path.

        Raises:
            HeadError: no path, a path not ending in ``.json``, or every group is empty.
        """
        if not str(path).strip():
            raise HeadError("type a file name ending in .json, then Save")
        groups = draft_groups(self.draft, labels=self.labels, name=f"groups: {Path(path).name}")
        if groups is None:
            raise HeadError("every group is empty: tick labels into a group before saving")
        written = groups.to_file(path)
        self._status.value = f"saved {html.escape(str(written))}"
        return written

    def load(self, path_or_name: str | os.PathLike[str]) -> LabelGroups:
        """Replace the draft with a groups file or a shipped example (see :func:`~actionrec.heads.load_groups`)."""
        groups = load_groups(path_or_name, labels=self.labels)
        self.name = groups.name
        self._apply(groups.to_mapping(), edited=False)
        self._status.value = f"loaded {html.escape(groups.name)}"
        return groups

    # -- internals --------------------------------------------------------------------------------------

    def _guarded(self, action: Callable[[], object]) -> None:
        """Run a button's action; a bad input is shown on the status line (a click has no caller to raise to)."""
        try:
            action()
        except ActionRecError as exc:
            self._status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"

    def _apply(self, draft: Draft, *, select: str | None = None, edited: bool = True) -> None:
        """Make ``draft`` the current one once its groups are valid (else raise and keep the old one)."""
        name = self.name if not edited or self.name.endswith(EDITED) else self.name + EDITED
        groups = draft_groups(draft, labels=self.labels, name=name)
        self.draft, self.name, self.groups = draft, name, groups
        self._refresh(select=select)

    def _refresh(self, *, select: str | None = None) -> None:
        """Recompute the timeline from the current groups, and redraw everything."""
        current = select if select is not None else self._group.value
        self._group.options = list(self.draft)
        self._group.value = current if current in self.draft else (next(iter(self.draft), None))
        self.timeline = self.recognizer.timeline(self.decoded, head=self.groups)
        self._status.value = ""
        self._render_ticks()
        self._members.value = (
            "<br>".join(
                f"<b>{html.escape(g)}</b> ({len(m)}): {html.escape(', '.join(m)) or '<i>empty: ignored</i>'}"
                for g, m in self.draft.items()
            )
            or "<i>no groups: the model's classes are shown</i>"
        )
        self._result.value = segments_html(self.timeline, threshold=self.threshold)
        if self.plot and self.timeline.predictions:
            from .display import plot_timeline

            _set_outputs(self._plot, plot_timeline(self.timeline, threshold=self.threshold))
        if self.on_timeline is not None:
            self.on_timeline(self.timeline)

    def _render_ticks(self) -> None:
        import ipywidgets as widgets

        group = self._group.value
        owner = {label: g for g, members in self.draft.items() for label in members}
        boxes = []
        for label in search_labels(self.labels, self._search.value, limit=self.max_shown):
            elsewhere = owner.get(label) not in (None, group)
            box = widgets.Checkbox(
                value=owner.get(label) == group and group is not None,
                description=label,
                disabled=group is None,
                indent=False,
                tooltip=f"in group {owner[label]!r}: ticking moves it" if elsewhere else label,
            )
            box.observe(lambda change, label=label: self._guarded(lambda: self.tick(label, on=change["new"])), "value")
            boxes.append(box)
        self._ticks.children = boxes


def _set_outputs(output: Any, *objects: Any) -> None:
    """Replace an ``Output`` widget's content (set directly: safe from any thread or comm handler)."""
    output.outputs = output_items(*objects)
