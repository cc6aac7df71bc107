"""Interactive parts of the notebook: model choice, the upload panel, the live source, the doctor.

Each is built from a few widgets and the engine; none keeps module-level state. Widgets are
imported when a panel is made, so importing this module stays cheap.

Example (cells of ``action_recognition.ipynb``)::

    choice = ModelChoice(device="CPU", precision="FP16")
    choice                                       # device, precision, encoder and decoder devices
    panel = UploadPanel(models, options=RecognizerOptions(top_k=3), threshold=0.3)
    panel                                        # upload control + results area
    live = await choose_live_source(0, clip=clip)
    print(live)                                  # which source and why
    await doctor(live.browser_camera)            # the doctor's table
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import settings

# The upload panel lives in its own module (it runs its analysis in a worker thread); it is
# one of this module's panels, so it is named here too.
from .upload_panel import AnalysisJob as AnalysisJob
from .upload_panel import UploadPanel as UploadPanel


class ModelChoice:
    """Dropdowns for the device, the precision, and the encoder's and decoder's own devices.

    The encoder and decoder dropdowns read "= device" until set: then both models run on the
    device chosen; set one to run, e.g., the encoder on a GPU and the small decoder on the CPU.

    Args:
        device: preselected device (``AR_DEVICE``; default CPU).
        precision: preselected precision (``AR_PRECISION``; default FP16).
        devices: the options (default: what OpenVINO sees here, CPU always, GPU and NPU when
            present, plus AUTO).
        encoder_device: preselected encoder device (``AR_ENCODER_DEVICE``); ``None``: ``device``.
        decoder_device: preselected decoder device (``AR_DECODER_DEVICE``); ``None``: ``device``.

    Attributes:
        widget: the ``ipywidgets.VBox`` (the object displays as it).
    """

    def __init__(self, *, device: str = settings.DEFAULT_DEVICE, precision: str = settings.DEFAULT_PRECISION,
                 devices: list[str] | None = None, encoder_device: str | None = None,
                 decoder_device: str | None = None) -> None:  # fmt: skip
        import ipywidgets as widgets

        from ..models.devices import available_devices
        from ..models.registry import PRECISIONS

        options = list(devices if devices is not None else available_devices())
        for wanted in (device, encoder_device, decoder_device):
            if wanted and wanted not in options:
                options.append(wanted)  # kept so compiling says clearly why it is not usable here
        look = {"style": {"description_width": "70px"}, "layout": widgets.Layout(width="230px")}
        self._device = widgets.Dropdown(options=options, value=device, description="device", **look)
        self._precision = widgets.Dropdown(options=list(PRECISIONS), value=precision, description="precision", **look)
        same = [("= device", ""), *((d, d) for d in options)]
        self._encoder = widgets.Dropdown(options=same, value=encoder_device or "", description="encoder", **look)
        self._decoder = widgets.Dropdown(options=same, value=decoder_device or "", description="decoder", **look)
        note = widgets.HTML("<i>change, then re-run the cells below</i>", layout=widgets.Layout(margin="0 0 0 12px"))
        self.widget = widgets.VBox(
            [widgets.HBox([self._device, self._precision, note]), widgets.HBox([self._encoder, self._decoder])]
        )

    @property
    def device(self) -> str:
        """The chosen device, e.g. ``"CPU"``."""
        return str(self._device.value)

    @property
    def precision(self) -> str:
        """The chosen precision, e.g. ``"FP16"``."""
        return str(self._precision.value)

    @property
    def encoder_device(self) -> str:
        """Where the encoder runs: its own choice, else :attr:`device`."""
        return str(self._encoder.value or self.device)

    @property
    def decoder_device(self) -> str:
        """Where the decoder runs: its own choice, else :attr:`device`."""
        return str(self._decoder.value or self.device)

    @property
    def devices(self) -> dict[str, str]:
        """``compile_models(files, **choice.devices, hint=...)``: ``device``, ``encoder_device``, ``decoder_device``."""
        return {"device": self.device, "encoder_device": self.encoder_device, "decoder_device": self.decoder_device}

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        split = "" if self.encoder_device == self.decoder_device == self.device else (
            f", encoder_device={self.encoder_device!r}, decoder_device={self.decoder_device!r}"
        )  # fmt: skip
        return f"ModelChoice(device={self.device!r}, precision={self.precision!r}{split})"


@dataclass(frozen=True)
class LiveChoice:
    """The source the live player plays, and why it was chosen.

    Attributes:
        kind: ``"local camera"``, ``"browser camera"`` or ``"video file"``.
        target: the camera index, the :class:`BrowserCamera`, or the file path.
        reasons: one line per source tried, in order, ending with the one chosen.
        browser_camera: the browser camera widget when it was tried (for :func:`doctor`).
    """

    kind: str
    target: Any
    reasons: tuple[str, ...]
    browser_camera: Any = None

    @property
    def source(self) -> Any:
        """What :meth:`LivePlayer.play` takes.

        For the browser camera, a fresh frame stream that turns the camera off when playback ends
        (and on again when the cell runs again).
        """
        if self.kind != "browser camera":
            return self.target
        frames = _camera_frames(self.target)
        frames.__name__ = "browser camera"  # the name the player shows
        return frames

    def __str__(self) -> str:
        name = {"video file": f"the video file {Path(str(self.target)).name}, played in real time"}.get(
            self.kind, f"the {self.kind}" + (f" {self.target}" if self.kind == "local camera" else "")
        )
        return "\n".join([f"Live source: {name}.", *(f"  • {r}" for r in self.reasons)])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


async def _camera_frames(camera: Any) -> AsyncIterator[Any]:
    """The browser camera's frames; the camera is stopped (its light goes off) when they end."""
    if camera.state != "streaming":
        camera.start()  # stopped by an earlier playback; aframes() waits for the page to restart it
    try:
        async for frame in camera.aframes():
            yield frame
    finally:
        camera.stop()


async def choose_live_source(
    camera: int | str | None,
    *,
    clip: str | os.PathLike[str],
    browser_timeout_s: float = 2.0,
    prompt_timeout_s: float = 30.0,
    camera_timeout_s: float = 2.0,
) -> LiveChoice:
    """Pick the live source: the local camera if one opens, else the browser camera, else ``clip``.

    The local camera is probed with the doctor's check (bounded by ``camera_timeout_s``). The
    browser camera widget is displayed (it shows its own status) and given ``browser_timeout_s`` to
    answer at all (a headless run never answers) and ``prompt_timeout_s`` for the user to allow
    the camera. Call it from an ``async`` cell (``await``), so the page's answers arrive.

    Args:
        camera: the local camera index (``None``: skip local cameras).
        clip: the video file played instead when no camera is usable.
        browser_timeout_s: how long the browser camera widget may take to answer at all.
        prompt_timeout_s: how long the user may take to allow the camera.
        camera_timeout_s: bound on opening the local camera and reading one frame.

    Returns:
        A :class:`LiveChoice`; ``print`` it to say which source and why.
    """
    from IPython.display import display

    from ..doctor.checks import check_cameras

    reasons: list[str] = []
    if camera is not None and str(camera).strip().isdigit():
        index = int(camera)
        check = check_cameras([index], timeout_s=camera_timeout_s)
        if check.verdict == "OK":
            return LiveChoice("local camera", index, (f"local camera {index} opened: {check.detail}",))
        reasons.append(f"local camera {index}: {check.detail}. Fix: {check.fix}")
    else:
        reasons.append("local camera: not tried (no camera index given)")
    from .browser_camera import BrowserCamera

    browser = BrowserCamera(width=640, height=360, fps=30, preview=False)
    display(browser)
    state = await browser.await_ready(browser_timeout_s, prompt_timeout_s=prompt_timeout_s)
    if state == "streaming":
        reasons.append("browser camera: streaming from this page's camera")
        return LiveChoice("browser camera", browser, tuple(reasons), browser)
    reasons.append(f"browser camera: {state}: {browser.error or 'not available'}")
    reasons.append(f"so the live section plays {Path(clip).name} in real time instead")
    return LiveChoice("video file", Path(clip), tuple(reasons), browser)


async def doctor(camera: Any = None, *, timeout_s: float = 2.0, **kwargs: Any) -> Any:
    """Run the source doctor with the browser camera's status; the report displays as a table.

    Args:
        camera: a displayed :class:`BrowserCamera` (e.g. ``live.browser_camera``); ``None`` shows
            a new one (the browser may ask for the camera) to learn what the page allows.
        timeout_s: how long a new camera widget may take to answer.
        **kwargs: passed to :func:`actionrec.doctor.run_doctor` (e.g. ``cameras=()``).

    Returns:
        The :class:`actionrec.doctor.DoctorReport` (HTML table in the notebook).
    """
    import asyncio

    from ..doctor.run import run_doctor

    if camera is None:
        from IPython.display import display

        from .browser_camera import BrowserCamera

        camera = BrowserCamera(width=320, height=180, fps=5, preview=False)
        display(camera)
        await camera.await_ready(timeout_s, prompt_timeout_s=30.0)
        camera.stop()
    # The checks block for a few seconds (camera probes, tiny encodes): run them off the event loop.
    return await asyncio.to_thread(run_doctor, browser=camera.status(), **kwargs)
