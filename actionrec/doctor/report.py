"""The doctor's types: :class:`Check` rows, the :class:`DoctorReport`, the :class:`BrowserStatus`.

One :class:`Check` row per check; the :class:`BrowserStatus` is what the browser-camera widget
reports about the page.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import asdict, dataclass
from typing import Any, Literal

Verdict = Literal["OK", "WARN", "FAIL", "SKIP"]


VERDICTS: tuple[str, ...] = ("OK", "WARN", "FAIL", "SKIP")


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table.

    Attributes:
        name: what was checked, e.g. ``"decode H.264"``.
        verdict: ``OK``; ``WARN`` (an optional path will not work); ``FAIL`` (a default path will
            not work); ``SKIP`` (not checked here).
        detail: what was found.
        fix: what to do; required for WARN and FAIL.
    """

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a check needs a name")
        if self.verdict not in VERDICTS:
            raise ValueError(f"check {self.name!r}: verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.verdict in ("WARN", "FAIL") and not self.fix:
            raise ValueError(f"check {self.name!r}: a {self.verdict} needs a fix telling the user what to do")


@dataclass(frozen=True)
class DoctorReport:
    """All checks of one doctor run; a table in the terminal (``to_text``) and the notebook (HTML)."""

    checks: tuple[Check, ...]

    def __post_init__(self) -> None:
        if not all(isinstance(c, Check) for c in self.checks):
            raise TypeError(f"DoctorReport.checks must hold Check objects, got {self.checks!r}")

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return all(c.verdict != "FAIL" for c in self.checks)

    def get(self, name: str) -> Check:
        """The check called ``name``.

        Raises:
            KeyError: no such check (the message lists the names).
        """
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r}; checks: {', '.join(c.name for c in self.checks)}")

    def summary(self) -> str:
        """Counts per verdict, e.g. ``"7 OK, 2 WARN, 0 FAIL, 3 SKIP"``."""
        return ", ".join(f"{sum(c.verdict == v for c in self.checks)} {v}" for v in VERDICTS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"ok": bool, "summary": str, "checks": [{name, verdict, detail, fix}, ...]}``."""
        return {"ok": self.ok, "summary": self.summary(), "checks": [asdict(c) for c in self.checks]}

    def to_text(self, *, detail_width: int = 46, fix_width: int = 56) -> str:
        """One aligned plain-text table (check | verdict | detail | fix); long cells wrap."""
        rows = [("check", "verdict", "detail", "fix"), *((c.name, c.verdict, c.detail, c.fix) for c in self.checks)]
        name_w = max(len(r[0]) for r in rows)
        lines = []
        for name, verdict, detail, fix in rows:
            left = textwrap.wrap(detail, detail_width, break_on_hyphens=False) or [""]
            right = textwrap.wrap(fix, fix_width, break_on_hyphens=False) or [""]
            for k in range(max(len(left), len(right))):
                d, f = (left[k] if k < len(left) else ""), (right[k] if k < len(right) else "")
                head = f"{name:<{name_w}}  {verdict:<7}" if k == 0 else " " * (name_w + 9)
                lines.append(f"{head}  {d:<{detail_width}}  {f}".rstrip())
            if name == "check" and verdict == "verdict":
                lines.append("-" * (name_w + detail_width + fix_width + 13))
        return "\n".join([*lines, "", f"{self.summary()}: {'no failures' if self.ok else 'fix the FAIL rows'}"])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.to_text())  # IPython's plain-text view (e.g. a console kernel)

    def _repr_html_(self) -> str:
        colours = {"OK": "#1a7f37", "WARN": "#9a6700", "FAIL": "#cf222e", "SKIP": "#6e7781"}
        td = "text-align:left;vertical-align:top;padding:2px 8px"
        rows = "".join(
            f"<tr><td style='{td};white-space:nowrap'>{html.escape(c.name)}</td>"
            f"<td style='{td};color:{colours[c.verdict]};font-weight:bold'>{c.verdict}</td>"
            f"<td style='{td}'>{html.escape(c.detail)}</td><td style='{td}'>{html.escape(c.fix)}</td></tr>"
            for c in self.checks
        )
        head = "".join(f"<th style='{td}'>{h}</th>" for h in ("check", "verdict", "detail", "fix"))
        verdict = "no failures" if self.ok else "fix the FAIL rows"
        caption = f"<caption style='text-align:left'><b>Doctor</b>: {self.summary()}: {verdict}</caption>"
        return f"<table class='actionrec-doctor'>{caption}<tr>{head}</tr>{rows}</table>"


@dataclass(frozen=True)
class BrowserStatus:
    """What the browser-camera widget reports about the page (``None`` = not reported).

    Attributes:
        front_end: False in a headless kernel (nbclient), where no widget ever renders.
        secure_context: ``window.isSecureContext``.
        has_media_devices: whether ``navigator.mediaDevices.getUserMedia`` exists.
        camera_permission: ``"granted"``, ``"denied"``, ``"prompt"`` or ``None``.
        error: the ``getUserMedia`` error, e.g. ``"NotFoundError: Requested device not found"``.
    """

    front_end: bool
    secure_context: bool | None = None
    has_media_devices: bool | None = None
    camera_permission: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.camera_permission not in ("granted", "denied", "prompt", None):
            raise ValueError(f"camera_permission {self.camera_permission!r} is not granted, denied, prompt or None")
