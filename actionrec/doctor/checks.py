"""The source doctor's checks: each returns one :class:`~actionrec.doctor.Check` row for what it finds.

:func:`actionrec.doctor.run_doctor` runs them all; :mod:`actionrec.doctor` re-exports the public
names. Each check imports what it probes (OpenCV, PyAV, OpenVINO, requests)
only when it runs, so importing the doctor stays light.

Not split: one flat table of independent checks sharing :data:`FIXES`; each is short, and a reader
looks for a check by its row name here.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import settings
from ..download import RemoteFile
from ..models.registry import get_model
from ..settings import ENV_MAX_UPLOAD_MB
from .report import BrowserStatus, Check, Verdict

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
    "ssl": "this Python has no working ssl module (built without OpenSSL): install a Python built with OpenSSL "
    "(python.org, or your distribution's python3 and libssl), then recreate the virtual environment",
    "upload_env": f"set {ENV_MAX_UPLOAD_MB} to a positive number of megabytes (e.g. 500), or unset it for the "
    f"default ({settings.DEFAULT_MAX_UPLOAD_BYTES / 1024**3:g} GB)",
    "upload_disk": f"free disk under data/ or lower {ENV_MAX_UPLOAD_MB}",
    "disk": "free at least {size} there, or put the cache on another disk: --cache-dir DIR / AR_CACHE_DIR=DIR",
    "model_name": "pick --model from {models} and --precision from {precisions}",
    "model_dir": "put the files in the OMZ layout DIR/<model>-encoder/<PRECISION>/<model>-encoder.xml (+ .bin, "
    "same for the decoder), or unset AR_MODEL_DIR / AR_LABELS",
    "fetch": "run python -m actionrec fetch --model {model} --precision {precision}",
    "crash": "report this with the output of python -m actionrec doctor --json",
}


def _row(name: str, verdict: Verdict, detail: str, fix: str = "") -> Check:
    """A :class:`~actionrec.doctor.Check` row."""
    return Check(name, verdict, detail, fix)


def check_openvino(*, core: Any = None) -> Check:
    """OpenVINO importable, its version and devices (``core`` defaults to the shared one)."""
    try:
        import openvino as ov
    except ImportError as exc:
        return _row("OpenVINO", "FAIL", f"cannot import openvino ({exc})", FIXES["install"])
    if core is None:
        from ..models.runtime import get_core

        core = get_core()
    devices = list(core.available_devices)
    found = f"{ov.get_version().split('-')[0]}; devices: {', '.join(map(_device_name(core), devices)) or 'none'}"
    if "CPU" not in devices:
        return _row("OpenVINO", "FAIL", found, FIXES["openvino_cpu"])
    only = "" if any(d.split(".")[0] in ("GPU", "NPU") for d in devices) else "; CPU only (fine)"
    return _row("OpenVINO", "OK", found + only)


def check_accelerator(kind: str, *, core: Any = None, wanted: Mapping[str, str] | None = None) -> Check:
    """Whether OpenVINO sees a ``GPU`` or an ``NPU`` here, with the driver to install when it does not.

    Args:
        kind: ``"GPU"`` or ``"NPU"``.
        core: an ``openvino.Core``-like object (default: the shared one).
        wanted: the devices asked for, ``{"AR_DEVICE": "CPU", ...}`` (default: the ``AR_DEVICE``,
            ``AR_ENCODER_DEVICE`` and ``AR_DECODER_DEVICE`` settings): one naming ``kind`` when it is
            absent makes the row FAIL; else an absent one is fine (the CPU runs everything): OK,
            with the driver to install in the fix column.
    """
    from ..models.devices import DRIVER_HINTS, VIRTUAL_DEVICES, device_kind

    if core is None:
        try:
            import openvino  # noqa: F401
        except Exception as exc:  # the OpenVINO row reports it (FAIL, with the fix)
            return _row(kind, "SKIP", f"not checked: OpenVINO does not load ({type(exc).__name__})")
        from ..models.devices import get_core

        core = get_core()
    if wanted is None:
        wanted = {
            settings.ENV_DEVICE: settings.device(),
            settings.ENV_ENCODER_DEVICE: settings.encoder_device(),
            settings.ENV_DECODER_DEVICE: settings.decoder_device(),
        }
    found = [d for d in core.available_devices if device_kind(d) == kind]
    if found:
        return _row(kind, "OK", ", ".join(map(_device_name(core), found)))
    asking = [f"{var}={value}" for var, value in wanted.items() if device_kind(value) == kind]
    asking = [a for a in dict.fromkeys(asking) if device_kind(a.split("=", 1)[1]) not in VIRTUAL_DEVICES]
    if asking:
        return _row(
            kind, "FAIL", f"{', '.join(asking)} but OpenVINO sees no {kind} here", f"{DRIVER_HINTS[kind]}; or use CPU"
        )
    return _row(kind, "OK", "none here (optional: the CPU runs everything)", f"to use one: {DRIVER_HINTS[kind]}")


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
        return _row("local camera", "SKIP", "not checked (no camera indices, --no-cameras)")
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
        return _row("local camera", "OK", "; ".join(found))
    trouble = [f"camera {i} failed: {r}" for i, r in done.items() if isinstance(r, str)]
    trouble += [f"camera {i} opened but sent no frame" for i, r in done.items() if isinstance(r, tuple) and r[0]]
    trouble += [f"camera {i} did not answer within {timeout_s:g} s" for i in indices if i not in done]
    if trouble:
        return _row("local camera", "WARN", "; ".join(trouble), FIXES["camera_busy"] + "; " + FIXES["camera"])
    where = ", ".join(map(str, indices))
    return _row("local camera", "WARN", f"no local camera at index {where}{_video_devices()}", FIXES["camera"])


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
        return _row("browser camera", "SKIP", why), _row("secure context", "SKIP", why)
    if browser.secure_context is None:
        secure = _row("secure context", "SKIP", "the page did not report window.isSecureContext")
    elif browser.secure_context:
        secure = _row("secure context", "OK", "the page is a secure context (HTTPS or localhost)")
    else:
        secure = _row("secure context", "FAIL", "not a secure context (plain HTTP to a remote host)", FIXES["insecure"])
    if browser.secure_context is False:
        camera = _row(
            "browser camera", "FAIL", "navigator.mediaDevices is unavailable (insecure context)", FIXES["insecure"]
        )
    elif browser.has_media_devices is False:
        camera = _row("browser camera", "FAIL", "this browser has no navigator.mediaDevices", FIXES["no_media"])
    elif browser.camera_permission == "denied":
        camera = _row("browser camera", "FAIL", "camera permission denied for this page", FIXES["denied"])
    elif browser.error:
        camera = _row("browser camera", "FAIL", f"getUserMedia failed: {browser.error}", FIXES["camera_error"])
    else:
        state = {"granted": "permission granted", "prompt": "the browser will ask for permission"}
        permission = state.get(browser.camera_permission or "", "permission not reported")
        camera = _row("browser camera", "OK", f"getUserMedia available; {permission}")
    return camera, secure


def check_codec(codec: str, *, workdir: str | os.PathLike[str], required: bool = False) -> Check:
    """Encode a tiny clip with PyAV and decode it as the analysis would: OpenCV first, PyAV when it cannot.

    The row names the decoder the analysis will use for such files (see
    :func:`actionrec.video.open_video`): OpenCV/FFmpeg when it decodes every frame; PyAV when
    OpenCV cannot (slower, but the analysis works, so OK); a WARN or FAIL only when neither decodes
    the clip.

    Args:
        codec: ``h264``, ``hevc``, ``vp9`` or ``av1``.
        workdir: where the sample clip is written (a temporary folder).
        required: no decoder is FAIL when True (the sample clip's codec), WARN otherwise.

    Raises:
        ValueError: ``codec`` is not one of :data:`CODEC_NAMES`.
    """
    if codec not in CODEC_NAMES:
        raise ValueError(f"codec {codec!r} is not known; valid: {', '.join(CODEC_NAMES)}")
    name = f"decode {CODEC_NAMES[codec]}"
    try:
        import av
    except ImportError:
        return _row(name, "WARN", "cannot test: PyAV is not installed", FIXES["install"])
    path = Path(workdir) / f"sample_{codec}.{_CONTAINERS[codec]}"
    with _quiet_native_output():
        encoder = next((e for e in ENCODERS[codec] if _has_encoder(av, e)), None)
        if encoder is None:
            return _row(name, "WARN", f"cannot test: no encoder ({', '.join(ENCODERS[codec])})", FIXES["no_encoder"])
        try:
            _in_own_thread(_encode_sample, av, encoder, path)
        except (av.error.FFmpegError, ValueError) as exc:
            return _row(name, "WARN", f"cannot test: encoding with {encoder} failed ({exc})", FIXES["encode"])
        decoded = _opencv_frame_count(path)
        by_pyav = _pyav_frame_count(av, path) if decoded != SAMPLE_FRAMES else 0
    made = f"sample made with {encoder}"
    if decoded == SAMPLE_FRAMES:
        return _row(name, "OK", f"OpenCV decoded {decoded}/{SAMPLE_FRAMES} frames ({made}); the analysis uses OpenCV")
    found = f"OpenCV decoded {decoded}/{SAMPLE_FRAMES} frames, PyAV {by_pyav}/{SAMPLE_FRAMES} ({made})"
    if by_pyav == SAMPLE_FRAMES:
        uses = "PyAV where OpenCV stops" if decoded else "PyAV (slower than OpenCV, same frames)"
        return _row(name, "OK", f"{found}; the analysis uses {uses}")
    fix = FIXES["convert"] if _opencv_has_ffmpeg() else FIXES["opencv_ffmpeg"]
    return _row(name, "FAIL" if required else "WARN", f"{found}; the analysis cannot decode such files", fix)


def _in_own_thread(fn: Callable[..., None], *args: Any) -> None:
    """Run ``fn(*args)`` in a short-lived thread and re-raise what it raised.

    Some encoders change the scheduling of the thread that drives them: SVT-AV1 makes it
    ``SCHED_FIFO`` 99 (real-time) when it may, i.e. as root, as in many containers. On the caller's
    thread that would outlive the check and pass to every process started afterwards (a notebook
    kernel, a browser), which could then starve the whole machine. A thread of its own takes the
    change with it when it ends.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fn(*args)
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)

    worker = threading.Thread(target=run, name="actionrec-doctor-encode")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


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

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)  # the backend the analysis opens files with
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
    """Check that https downloads can work: ssl, requests and a CA bundle (nothing is fetched)."""
    # One at a time, so the row names the module that failed: a broken package raising ImportError
    # itself leaves ``exc.name`` unset. ssl is imported here too, not at module level: a Python
    # without OpenSSL must still get its doctor table.
    modules = {}
    for module, fix in (("ssl", FIXES["ssl"]), ("certifi", FIXES["install"]), ("requests", FIXES["install"])):
        try:
            modules[module] = importlib.import_module(module)
        except ImportError as exc:  # the module itself or one it imports (requests: urllib3, idna, ...)
            return _row("https downloads", "FAIL", f"cannot import {module} ({exc})", fix)
    ssl, certifi, requests = modules["ssl"], modules["certifi"], modules["requests"]
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and not Path(value).exists():
            return _row("https downloads", "FAIL", f"{var}={value} does not exist", FIXES["ca_env"].format(var=var))
    bundle = Path(certifi.where())
    if not bundle.is_file() or bundle.stat().st_size == 0:
        return _row("https downloads", "FAIL", f"CA bundle {bundle} is missing or empty", FIXES["certifi"])
    proxy = next((f"; proxy {v}" for k in ("HTTPS_PROXY", "https_proxy") if (v := os.environ.get(k))), "")
    found = f"{ssl.OPENSSL_VERSION}, requests {requests.__version__}, CA bundle {bundle.name}{proxy} (nothing fetched)"
    return _row("https downloads", "OK", found)


def check_upload_limit(limit_bytes: int | None = None) -> Check:
    """The effective upload limit, where it comes from, and room for it under ``data/uploads``.

    Args:
        limit_bytes: the limit to check; ``None`` takes the one the upload widget applies
            (``AR_MAX_UPLOAD_MB`` megabytes when set, else the 2 GB default).

    Returns:
        OK naming the limit; WARN when the disk has less room than the limit; FAIL when
        ``AR_MAX_UPLOAD_MB`` is malformed (the widget would refuse to start).
    """
    note = f"plain ipywidgets FileUpload sends one message, ~{IPYWIDGETS_UPLOAD_BYTES // 1024**2} MB at most"
    if limit_bytes is not None:
        found = f"{_size(limit_bytes)} (given)"
    else:
        try:
            limit_bytes = settings.max_upload_bytes()
        except ValueError as exc:  # its first clause names the variable and the value received
            return _row("upload limit", "FAIL", str(exc).split(";")[0], FIXES["upload_env"])
        if settings.env_str(ENV_MAX_UPLOAD_MB) is None:
            found = f"{_size(limit_bytes)} (default; set {ENV_MAX_UPLOAD_MB} to change)"
        else:
            found = f"{limit_bytes / 1024**2:g} MB from {ENV_MAX_UPLOAD_MB}"
    free = shutil.disk_usage(_existing(settings.data_dir("uploads"))).free
    if free < limit_bytes:
        detail = f"{found}; only {_size(free)} free for uploads; {note}"
        return _row("upload limit", "WARN", detail, FIXES["upload_disk"])
    return _row("upload limit", "OK", f"{found}; {note}")


def model_plan(
    model: str, precision: str, cache: Path, local: Path | None
) -> list[tuple[Path, RemoteFile | None, bool]]:
    """The model's IRs and labels as (path, registry entry or None for the user's own file, in place)."""
    from ..download import is_verified

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
        return _row("model files", "FAIL", f"missing: {', '.join(absent)}", FIXES["model_dir"])
    todo = [(p, r) for p, r, present in plan if not present and r is not None]
    if not todo:
        return _row("model files", "OK", f"all {len(plan)} files in place (IRs in {plan[0][0].parents[2]})")
    size = _size(sum(r.size_bytes or 0 for _, r in todo))
    return _row("model files", "WARN", f"{len(todo)} of {len(plan)} files not downloaded yet ({size})", fetch_cmd)


def check_disk(
    plan: list[tuple[Path, RemoteFile | None, bool]], *, cache: Path, headroom_bytes: int = MODEL_HEADROOM_BYTES
) -> Check:
    """Free disk in the cache folder vs what the model still needs to download, plus headroom."""
    todo = sum(r.size_bytes or 0 for _, r, present in plan if r is not None and not present)
    free = shutil.disk_usage(_existing(cache)).free
    found = f"{_size(free)} free in {cache}; to download {_size(todo)} + {_size(headroom_bytes)} headroom"
    if free < todo + headroom_bytes:
        return _row("disk space", "FAIL", found, FIXES["disk"].format(size=_size(todo + headroom_bytes - free)))
    return _row("disk space", "OK", found if todo else f"{_size(free)} free in {cache}; models already in place")


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.1f} MB"
