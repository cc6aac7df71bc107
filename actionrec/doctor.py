"""Source doctor: can this machine run the tutorial, and what to fix when it cannot.

``python -m actionrec doctor`` (or ``notebook_utils.doctor()`` in the notebook) checks OpenVINO and
its devices, local cameras, the browser camera and secure context (notebook only), which codecs
OpenCV decodes here (tiny clips made with PyAV), https download support (nothing is fetched), the
upload limit, free disk for the models and the model files. One row per check: a verdict, what was
found, and the fix. FAIL means a default path of the tutorial will not work (e.g. H.264, the sample
clip's codec, does not decode); WARN means an optional one will not (no local camera, AV1 files).

Example:
    >>> report = run_doctor(cameras=())   # doctest: +SKIP
    >>> print(report.to_text())           # doctest: +SKIP
    >>> report.ok, report.get("decode H.264").verdict   # doctest: +SKIP
    (True, 'OK')
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import shutil
import ssl
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from . import settings
from .cli import command
from .errors import ModelNotFoundError
from .registry import MODELS, PRECISIONS, RemoteFile, get_model

Verdict = Literal["OK", "WARN", "FAIL", "SKIP"]
VERDICTS: tuple[str, ...] = ("OK", "WARN", "FAIL", "SKIP")
ENV_MAX_UPLOAD_MB = "AR_MAX_UPLOAD_MB"
CODEC_NAMES = {"h264": "H.264", "hevc": "HEVC", "vp9": "VP9", "av1": "AV1"}
# PyAV encoders to try, best first (the PyAV 18 wheel has libx264, libx265, libvpx-vp9, libsvtav1).
ENCODERS: dict[str, tuple[str, ...]] = {
    "h264": ("libx264", "libopenh264", "h264"),
    "hevc": ("libx265", "hevc"),
    "vp9": ("libvpx-vp9", "vp9"),
    "av1": ("libsvtav1", "libaom-av1", "librav1e", "av1"),
}
_CONTAINERS = {"h264": "mp4", "hevc": "mp4", "vp9": "webm", "av1": "mp4"}
_ENCODER_OPTIONS = {
    "libx265": {"x265-params": "log-level=none"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
    "libsvtav1": {"preset": "10"},
}
SAMPLE_FRAMES = 8
SAMPLE_SIZE_PX = 64
MODEL_HEADROOM_BYTES = 128 * 1024**2  # OpenVINO compile cache, labels and sample clips
IPYWIDGETS_UPLOAD_BYTES = 10 * 1024**2  # FileUpload sends one websocket message (ipywidgets #2522)
FIXES = {
    "install": "pip install -r requirements.txt",
    "openvino_cpu": "pip install --force-reinstall openvino (its CPU plugin is missing)",
    "camera": "in a remote kernel use the browser camera; on Linux check /dev/video* and the video group "
    "(sudo usermod -aG video $USER); in Docker pass --device /dev/video0",
    "camera_busy": "close other apps using the camera (only one can hold it), or try another index",
    "insecure": "open the notebook over HTTPS or an SSH tunnel to localhost (ssh -L 8888:localhost:8888 host), "
    "camera access needs a secure context",
    "no_media": "use a current Chromium, Chrome, Edge or Firefox",
    "denied": "allow the camera for this site (camera icon in the address bar), then re-run the cell",
    "camera_error": "connect a camera and close other apps using it, then re-run the cell",
    "no_encoder": "to test it, install a PyAV build with one of these encoders; real files may still decode",
    "encode": "pip install --upgrade av",
    "opencv_ffmpeg": "pip install opencv-python-headless (its wheels bundle FFmpeg) and uninstall other OpenCV builds",
    "convert": "convert such files: ffmpeg -i in.mp4 -c:v libx264 -pix_fmt yuv420p out.mp4",
    "ca_env": "point {var} at an existing PEM bundle, or unset it to use certifi's",
    "certifi": "pip install --force-reinstall certifi",
    "upload_env": f"set {ENV_MAX_UPLOAD_MB} to a positive number of megabytes (e.g. 500), or unset it",
    "upload_disk": f"free disk under data/ or lower {ENV_MAX_UPLOAD_MB}",
    "disk": "free at least {size} there, or put the cache on another disk: --cache-dir DIR / AR_CACHE_DIR=DIR",
    "model_name": "pick --model from {models} and --precision from {precisions}",
    "model_dir": "put the files in the OMZ layout DIR/<model>-encoder/<PRECISION>/<model>-encoder.xml (+ .bin, "
    "same for the decoder), or unset AR_MODEL_DIR / AR_LABELS",
    "fetch": "run python -m actionrec fetch --model {model} --precision {precision}",
    "crash": "report this with the output of python -m actionrec doctor --json",
}


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


def check_openvino(*, core: Any = None) -> Check:
    """OpenVINO importable, its version and devices (``core`` defaults to the shared one)."""
    try:
        import openvino as ov
    except ImportError as exc:
        return Check("OpenVINO", "FAIL", f"cannot import openvino ({exc})", FIXES["install"])
    if core is None:
        from .runtime import get_core

        core = get_core()
    devices = list(core.available_devices)
    found = f"{ov.get_version().split('-')[0]}; devices: {', '.join(map(_device_name(core), devices)) or 'none'}"
    if "CPU" not in devices:
        return Check("OpenVINO", "FAIL", found, FIXES["openvino_cpu"])
    only = "" if any(d.split(".")[0] in ("GPU", "NPU") for d in devices) else "; CPU only (fine)"
    return Check("OpenVINO", "OK", found + only)


def _device_name(core: Any) -> Callable[[str], str]:
    def name(device: str) -> str:
        try:
            return f"{device} ({core.get_property(device, 'FULL_DEVICE_NAME')})"
        except RuntimeError:
            return device

    return name


def check_cameras(
    indices: Iterable[int], *, capture_factory: Callable[[int], Any] | None = None, timeout_s: float = 2.0
) -> Check:
    """Open each local camera index and read one frame, each bounded by ``timeout_s``."""
    indices = list(indices)
    if not indices:
        return Check("local camera", "SKIP", "not checked (no camera indices, --no-cameras)")
    if capture_factory is None:
        import cv2

        capture_factory = cv2.VideoCapture
    results: dict[int, tuple[bool, tuple[int, int] | None] | str] = {}
    with _quiet_native_output():
        for i in indices:
            # A daemon thread: a driver that hangs in open() must hang neither the doctor nor the exit.
            t = threading.Thread(target=_probe_camera, args=(capture_factory, i, results), daemon=True)
            t.start()
            t.join(timeout_s)
    done = dict(results)  # a late thread may still write into ``results``
    found = [f"camera {i}: {r[1][0]}x{r[1][1]}" for i, r in done.items() if isinstance(r, tuple) and r[1]]
    if found:
        return Check("local camera", "OK", "; ".join(found))
    trouble = [f"camera {i} failed: {r}" for i, r in done.items() if isinstance(r, str)]
    trouble += [f"camera {i} opened but sent no frame" for i, r in done.items() if isinstance(r, tuple) and r[0]]
    trouble += [f"camera {i} did not answer within {timeout_s:g} s" for i in indices if i not in done]
    if trouble:
        return Check("local camera", "WARN", "; ".join(trouble), FIXES["camera_busy"] + "; " + FIXES["camera"])
    where = ", ".join(map(str, indices))
    return Check("local camera", "WARN", f"no local camera at index {where}{_video_devices()}", FIXES["camera"])


def _probe_camera(factory: Callable[[int], Any], index: int, results: dict) -> None:
    try:
        cap = factory(index)
        try:
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            size = (frame.shape[1], frame.shape[0]) if ok and frame is not None else None
            results[index] = (bool(cap.isOpened()), size)
        finally:
            cap.release()
    except Exception as exc:  # a driver error becomes this camera's row, never an unhandled thread error
        results[index] = f"{type(exc).__name__}: {exc}"


def _video_devices() -> str:
    if not sys.platform.startswith("linux"):
        return ""
    nodes = sorted(Path("/dev").glob("video*"))
    blocked = [str(n) for n in nodes if not os.access(n, os.R_OK | os.W_OK)]
    if not nodes:
        return " (no /dev/video* device)"
    return f" ({', '.join(blocked)} not accessible to this user)" if blocked else ""


def check_browser(browser: BrowserStatus | None) -> tuple[Check, Check]:
    """The browser camera and the page's secure context, as the notebook's widget reported them."""
    if browser is None or not browser.front_end:
        why = "only checked in the notebook (notebook_utils.doctor())"
        if browser is not None:
            why = "no front end (headless kernel): live sections fall back to the sample clip"
        return Check("browser camera", "SKIP", why), Check("secure context", "SKIP", why)
    if browser.secure_context is None:
        secure = Check("secure context", "SKIP", "the page did not report window.isSecureContext")
    elif browser.secure_context:
        secure = Check("secure context", "OK", "the page is a secure context (HTTPS or localhost)")
    else:
        secure = Check(
            "secure context", "FAIL", "not a secure context (plain HTTP to a remote host)", FIXES["insecure"]
        )
    if browser.secure_context is False:
        camera = Check(
            "browser camera", "FAIL", "navigator.mediaDevices is unavailable (insecure context)", FIXES["insecure"]
        )
    elif browser.has_media_devices is False:
        camera = Check("browser camera", "FAIL", "this browser has no navigator.mediaDevices", FIXES["no_media"])
    elif browser.camera_permission == "denied":
        camera = Check("browser camera", "FAIL", "camera permission denied for this page", FIXES["denied"])
    elif browser.error:
        camera = Check("browser camera", "FAIL", f"getUserMedia failed: {browser.error}", FIXES["camera_error"])
    else:
        state = {"granted": "permission granted", "prompt": "the browser will ask for permission"}
        permission = state.get(browser.camera_permission or "", "permission not reported")
        camera = Check("browser camera", "OK", f"getUserMedia available; {permission}")
    return camera, secure


def check_codec(codec: str, *, workdir: str | os.PathLike[str], required: bool = False) -> Check:
    """Encode a tiny clip with PyAV, decode it with OpenCV and count the frames.

    Args:
        codec: ``h264``, ``hevc``, ``vp9`` or ``av1``.
        workdir: where the sample clip is written (a temporary folder).
        required: a decode failure is FAIL when True (the sample clip's codec), WARN otherwise.

    Raises:
        ValueError: ``codec`` is not one of :data:`CODEC_NAMES`.
    """
    if codec not in CODEC_NAMES:
        raise ValueError(f"codec {codec!r} is not known; valid: {', '.join(CODEC_NAMES)}")
    name = f"decode {CODEC_NAMES[codec]}"
    try:
        import av
    except ImportError:
        return Check(name, "WARN", "cannot test: PyAV is not installed", FIXES["install"])
    path = Path(workdir) / f"sample_{codec}.{_CONTAINERS[codec]}"
    with _quiet_native_output():
        encoder = next((e for e in ENCODERS[codec] if _has_encoder(av, e)), None)
        if encoder is None:
            return Check(name, "WARN", f"cannot test: no encoder ({', '.join(ENCODERS[codec])})", FIXES["no_encoder"])
        try:
            _encode_sample(av, encoder, path)
        except (av.error.FFmpegError, ValueError) as exc:
            return Check(name, "WARN", f"cannot test: encoding with {encoder} failed ({exc})", FIXES["encode"])
        decoded = _opencv_frame_count(path)
        by_pyav = _pyav_frame_count(av, path) if decoded != SAMPLE_FRAMES else 0
    if decoded == SAMPLE_FRAMES:
        return Check(name, "OK", f"OpenCV decoded {decoded}/{SAMPLE_FRAMES} frames (sample made with {encoder})")
    also = "; PyAV can decode it" if by_pyav == SAMPLE_FRAMES else ""
    fix = FIXES["convert"] if _opencv_has_ffmpeg() else FIXES["opencv_ffmpeg"]
    return Check(name, "FAIL" if required else "WARN", f"OpenCV decoded {decoded}/{SAMPLE_FRAMES} frames{also}", fix)


def _has_encoder(av: Any, encoder: str) -> bool:
    try:
        av.codec.Codec(encoder, "w")
    except ValueError:  # av.codec.codec.UnknownCodecError
        return False
    return True


def _encode_sample(av: Any, encoder: str, path: Path) -> None:
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=SAMPLE_FRAMES, options=_ENCODER_OPTIONS.get(encoder, {}))
        stream.width = stream.height = SAMPLE_SIZE_PX
        stream.pix_fmt = "yuv420p"
        for i in range(SAMPLE_FRAMES):
            image_bgr = np.full((SAMPLE_SIZE_PX, SAMPLE_SIZE_PX, 3), 30 * i, np.uint8)
            image_bgr[8 * i : 8 * i + 8] = 255  # a moving bar, so frames differ
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image_bgr, format="bgr24")))
        container.mux(stream.encode())


def _opencv_frame_count(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    count = 0
    try:
        while cap.isOpened() and cap.read()[0]:
            count += 1
    finally:
        cap.release()
    return count


def _pyav_frame_count(av: Any, path: Path) -> int:
    try:
        with av.open(str(path)) as container:
            return sum(1 for _ in container.decode(video=0))
    except av.error.FFmpegError:
        return 0


def _opencv_has_ffmpeg() -> bool:
    import cv2

    return cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG)


@contextlib.contextmanager
def _quiet_native_output() -> Iterator[None]:
    """Silence OpenCV's log and native stderr (FFmpeg, x265, SVT-AV1 banners) for a moment."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (some embedded interpreters): stay noisy rather than fail
        saved = None
    try:
        if saved is not None:
            sys.stderr.flush()
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 2)
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        cv2.utils.logging.setLogLevel(level)


def check_https() -> Check:
    """https downloads can work: ssl, requests and a CA bundle (nothing is fetched)."""
    try:
        import certifi
        import requests
    except ImportError as exc:
        return Check("https downloads", "FAIL", f"cannot import {exc.name}", FIXES["install"])
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and not Path(value).exists():
            return Check("https downloads", "FAIL", f"{var}={value} does not exist", FIXES["ca_env"].format(var=var))
    bundle = Path(certifi.where())
    if not bundle.is_file() or bundle.stat().st_size == 0:
        return Check("https downloads", "FAIL", f"CA bundle {bundle} is missing or empty", FIXES["certifi"])
    proxy = next((f"; proxy {v}" for k in ("HTTPS_PROXY", "https_proxy") if (v := os.environ.get(k))), "")
    found = f"{ssl.OPENSSL_VERSION}, requests {requests.__version__}, CA bundle {bundle.name}{proxy} (nothing fetched)"
    return Check("https downloads", "OK", found)


def check_upload_limit(limit_bytes: int | None = None) -> Check:
    """The configured upload limit (``AR_MAX_UPLOAD_MB`` when not given) and the widget's limit."""
    note = f"plain ipywidgets FileUpload sends one message, ~{IPYWIDGETS_UPLOAD_BYTES // 1024**2} MB at most"
    if limit_bytes is None:
        raw = os.environ.get(ENV_MAX_UPLOAD_MB, "").strip()
        if not raw:
            return Check("upload limit", "OK", f"not set ({ENV_MAX_UPLOAD_MB}); {note}")
        try:
            limit_bytes = int(float(raw) * 1024**2)
        except ValueError:
            limit_bytes = 0
        if limit_bytes <= 0:
            return Check(
                "upload limit", "FAIL", f"{ENV_MAX_UPLOAD_MB}={raw!r} is not a positive number", FIXES["upload_env"]
            )
    free = shutil.disk_usage(_existing(settings.data_dir("uploads"))).free
    found = f"uploads up to {_size(limit_bytes)}; {note}"
    if free < limit_bytes:
        return Check("upload limit", "WARN", f"{found}; only {_size(free)} free for uploads", FIXES["upload_disk"])
    return Check("upload limit", "OK", found)


def _model_plan(
    model: str, precision: str, cache: Path, local: Path | None
) -> list[tuple[Path, RemoteFile | None, bool]]:
    """The model's IRs and labels as (path, registry entry or None for the user's own file, in place)."""
    from .download import is_verified

    spec = get_model(model)
    files: list[tuple[Path, RemoteFile | None]] = [(cache / f.name, f) for f in spec.files(precision)]
    if local is not None:
        files = [(local / f.name, None) for _, f in files]
    labels = settings.labels_path()
    files.append((labels, None) if labels else (settings.data_dir() / spec.labels.name, spec.labels))
    return [(p, r, p.is_file() if r is None else is_verified(p, r)) for p, r in files]


def check_model_files(plan: list[tuple[Path, RemoteFile | None, bool]], *, fetch_cmd: str) -> Check:
    """Whether the model's IRs and labels are in place (``plan`` from the model registry)."""
    absent = [str(p) for p, r, present in plan if r is None and not present]
    if absent:
        return Check("model files", "FAIL", f"missing: {', '.join(absent)}", FIXES["model_dir"])
    todo = [(p, r) for p, r, present in plan if not present and r is not None]
    if not todo:
        return Check("model files", "OK", f"all {len(plan)} files in place (IRs in {plan[0][0].parents[2]})")
    size = _size(sum(r.size_bytes or 0 for _, r in todo))
    return Check("model files", "WARN", f"{len(todo)} of {len(plan)} files not downloaded yet ({size})", fetch_cmd)


def check_disk(
    plan: list[tuple[Path, RemoteFile | None, bool]], *, cache: Path, headroom_bytes: int = MODEL_HEADROOM_BYTES
) -> Check:
    """Free disk in the cache folder vs what the model still needs to download, plus headroom."""
    todo = sum(r.size_bytes or 0 for _, r, present in plan if r is not None and not present)
    free = shutil.disk_usage(_existing(cache)).free
    found = f"{_size(free)} free in {cache}; to download {_size(todo)} + {_size(headroom_bytes)} headroom"
    if free < todo + headroom_bytes:
        return Check("disk space", "FAIL", found, FIXES["disk"].format(size=_size(todo + headroom_bytes - free)))
    return Check("disk space", "OK", found if todo else f"{_size(free)} free in {cache}; models already in place")


def run_doctor(
    *,
    cameras: Iterable[int] = range(0, 3),
    codecs: Iterable[str] = tuple(CODEC_NAMES),
    required_codecs: Iterable[str] = ("h264",),
    model: str = settings.DEFAULT_MODEL,
    precision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    browser: BrowserStatus | None = None,
    upload_limit_bytes: int | None = None,
    capture_factory: Callable[[int], Any] | None = None,
    camera_timeout_s: float = 2.0,
) -> DoctorReport:
    """Run every check and return the report; what it finds never raises.

    Args:
        cameras: local camera indices to try; empty skips the check.
        codecs: codecs to test (see :data:`CODEC_NAMES`); ``required_codecs`` FAIL, others WARN.
        model: the model family whose files and disk needs are checked.
        precision: its precision (default ``AR_PRECISION`` or FP16).
        cache_dir: as ``--cache-dir`` (env ``AR_CACHE_DIR``).
        model_dir: as ``--model-dir`` (env ``AR_MODEL_DIR``).
        browser: what the browser-camera widget reported; ``None`` (command line) skips those checks.
        upload_limit_bytes: the upload limit; ``None`` reads ``AR_MAX_UPLOAD_MB``.
        capture_factory: ``index -> VideoCapture``-like (default ``cv2.VideoCapture``).
        camera_timeout_s: bound on opening one camera and reading one frame.

    Returns:
        A :class:`DoctorReport`; ``report.ok`` is False when any check FAILs.

    Raises:
        ValueError: an unknown codec name.
    """
    codecs, required = tuple(codecs), set(required_codecs)
    unknown = [c for c in (*codecs, *required) if c not in CODEC_NAMES]
    if unknown:
        raise ValueError(f"codec {unknown[0]!r} is not known; valid: {', '.join(CODEC_NAMES)}")
    precision = precision or settings.env_str(settings.ENV_PRECISION, settings.DEFAULT_PRECISION)
    cache, local = settings.cache_dir(cache_dir), settings.model_dir(model_dir)
    checks = [
        _guard("OpenVINO", check_openvino),
        _guard(
            "local camera", lambda: check_cameras(cameras, capture_factory=capture_factory, timeout_s=camera_timeout_s)
        ),
        *check_browser(browser),
    ]
    with tempfile.TemporaryDirectory(prefix="ar-doctor-") as tmp:
        for c in codecs:
            checks.append(
                _guard(f"decode {CODEC_NAMES[c]}", lambda c=c: check_codec(c, workdir=tmp, required=c in required))
            )
    checks += [
        _guard("https downloads", check_https),
        _guard("upload limit", lambda: check_upload_limit(upload_limit_bytes)),
    ]
    try:
        plan = _model_plan(model, precision, cache, local)
    except ModelNotFoundError as exc:
        fix = FIXES["model_name"].format(models=", ".join(MODELS), precisions=", ".join(PRECISIONS))
        checks += [
            Check("disk space", "SKIP", "unknown model"),
            Check("model files", "FAIL", str(exc).split(";")[0], fix),
        ]
        return DoctorReport(tuple(checks))
    fetch = FIXES["fetch"].format(model=model, precision=precision) + (f" --cache-dir {cache_dir}" if cache_dir else "")
    checks += [
        _guard("disk space", lambda: check_disk(plan, cache=cache)),
        _guard("model files", lambda: check_model_files(plan, fetch_cmd=fetch)),
    ]
    return DoctorReport(tuple(checks))


def _guard(name: str, check: Callable[[], Check]) -> Check:
    # The doctor must finish and show every row: a check that crashes becomes its own FAIL row.
    try:
        return check()
    except Exception as exc:  # reported to the user as a FAIL row with its message, never swallowed
        return Check(name, "FAIL", f"the check crashed: {type(exc).__name__}: {exc}", FIXES["crash"])


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.1f} MB"


def _doctor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cameras", default="0,1,2", help="camera indices to try, comma-separated (default: %(default)s)")
    p.add_argument("--no-cameras", action="store_true", help="do not try local cameras")
    p.add_argument("--codecs", default=",".join(CODEC_NAMES), help="codecs to test (default: %(default)s)")
    p.add_argument(
        "--model", default=settings.DEFAULT_MODEL, help="model whose files are checked (default: %(default)s)"
    )
    precision = settings.env_str(settings.ENV_PRECISION, settings.DEFAULT_PRECISION)
    p.add_argument("--precision", default=precision, choices=PRECISIONS, help="env AR_PRECISION; default: %(default)s")
    p.add_argument("--cache-dir", help="verified download cache (env AR_CACHE_DIR; default: model/)")
    p.add_argument("--model-dir", help="models on disk in the OMZ layout (env AR_MODEL_DIR)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")


@command("doctor", _doctor_args)
def run_doctor_cli(args: argparse.Namespace) -> int:
    """Check this machine: OpenVINO, cameras, codecs, https, upload limit, disk, model files."""
    try:
        cameras = () if args.no_cameras else tuple(int(i) for i in args.cameras.split(",") if i.strip())
        codecs = tuple(c.strip().lower() for c in args.codecs.split(",") if c.strip())
        report = run_doctor(
            cameras=cameras,
            codecs=codecs,
            model=args.model,
            precision=args.precision,
            cache_dir=args.cache_dir,
            model_dir=args.model_dir,
        )
    except ValueError as exc:
        print(f"error: --cameras {args.cameras!r} / --codecs {args.codecs!r}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 0 if report.ok else 1
