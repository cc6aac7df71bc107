"""The source doctor: every check runs headless, and each failure it claims to detect is forced."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from actionrec.doctor import FIXES, BrowserStatus, Check, DoctorReport, check_browser, check_cameras, run_doctor
from actionrec.doctor import checks as doctor_checks
from actionrec.doctor import run as doctor
from tests.conftest import REPO
from tests.support.cli import run_actionrec

NAMES = (
    "OpenVINO",
    "GPU",
    "NPU",
    "local camera",
    "browser camera",
    "secure context",
    "decode H.264",
    "decode HEVC",
    "decode VP9",
    "decode AV1",
    "https downloads",
    "upload limit",
    "disk space",
    "model files",
)


class FakeCapture:
    """A ``cv2.VideoCapture`` stand-in: opens or not, sends a frame or not."""

    def __init__(self, opened: bool, frame: np.ndarray | None = None):
        self.opened, self.frame, self.released = opened, frame, False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened and not self.released

    def read(self):
        return (self.frame is not None, self.frame)

    def release(self) -> None:
        self.released = True


def run_cli(*args, env=None):
    return run_actionrec("doctor", *args, env=env, timeout=60)


def doctor_rows(tmp_path, *args, broken=(), path_first=(), env=None) -> dict[str, dict]:
    """``python -m actionrec doctor --json`` in a fresh interpreter; its rows by name.

    Args:
        broken: module names shadowed, ahead of site-packages, by a package whose import raises
            ``ImportError`` as a wheel with a missing shared library does.
        path_first: more folders put first on ``PYTHONPATH`` (e.g. an altered copy of a package).
        env: extra environment variables.
    """
    site = tmp_path / "broken-site"
    for name in broken:
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(
            f"raise ImportError('lib{name}.so.1: cannot open shared object file: No such file or directory')\n"
        )
    pythonpath = os.pathsep.join([*map(str, path_first), str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    r = run_cli("--no-cameras", "--json", *args, env={"PYTHONPATH": pythonpath, **(env or {})})
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode in (0, 1), r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is (r.returncode == 0)
    return {c["name"]: c for c in report["checks"]}


def test_full_run_headless_names_every_check(tmp_path):
    report = run_doctor(cache_dir=tmp_path / "cache")
    assert tuple(c.name for c in report.checks) == NAMES
    camera = report.get("local camera")
    if camera.verdict != "OK":  # no camera on CI machines; a developer's laptop may have one
        assert camera.verdict == "WARN" and camera.fix == FIXES["camera"]
        assert "no local camera at index 0, 1, 2" in camera.detail
    assert report.get("browser camera").verdict == report.get("secure context").verdict == "SKIP"
    assert "only checked in the notebook" in report.get("browser camera").detail
    assert report.get("decode H.264").verdict == "OK"  # the wheel's OpenCV decodes the sample clip's codec
    assert report.get("decode H.264").detail.startswith("OpenCV decoded 8/8 frames")
    assert report.get("decode AV1").verdict in ("OK", "WARN")  # optional: never a FAIL
    assert report.get("https downloads").verdict == "OK"
    assert report.get("model files").verdict == "WARN"
    assert report.get("model files").fix == "run python -m actionrec fetch --model action-recognition-0001 " + (
        f"--precision FP16 --cache-dir {tmp_path / 'cache'}"
    )
    assert report.ok
    text = report.to_text()
    for check in report.checks:
        assert re.search(rf"^{re.escape(check.name)} +{check.verdict}\b", text, re.M), check.name
    assert text.splitlines()[-1].startswith(report.summary())
    json.dumps(report.to_dict())


def test_table_columns_align_and_html_colours_verdicts():
    report = DoctorReport(
        (
            Check("short", "OK", "fine"),
            Check("a longer name", "FAIL", "broken " * 20, "do this <now> " * 10),
            Check("skipped", "SKIP", "not here"),
        )
    )
    lines = report.to_text().splitlines()
    heads = [line for line in lines if line.startswith(("check", "short", "a longer name", "skipped"))]
    assert len({line.index(v) for line, v in zip(heads, ("verdict", "OK", "FAIL", "SKIP"), strict=True)}) == 1
    assert sum(line.startswith(" ") for line in lines) >= 3  # long detail and fix wrap onto indented lines
    assert lines[-1] == "1 OK, 0 WARN, 1 FAIL, 1 SKIP: fix the FAIL rows"
    page = report._repr_html_()
    assert (
        page.count("<tr>") == 4
        and "color:#cf222e;font-weight:bold'>FAIL<" in page
        and "#1a7f37;font-weight:bold'>OK<" in page
    )
    assert "&lt;now&gt;" in page and "<now>" not in page
    assert not report.ok and report.to_dict()["ok"] is False


def test_check_and_browser_status_validate():
    with pytest.raises(ValueError, match="a FAIL needs a fix"):
        Check("x", "FAIL", "broken")
    with pytest.raises(ValueError, match="verdict 'BAD' is not one of"):
        Check("x", "BAD", "?")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="camera_permission 'yes' is not granted, denied, prompt or None"):
        BrowserStatus(front_end=True, camera_permission="yes")
    with pytest.raises(KeyError, match="no check named 'nope'; checks: a"):
        DoctorReport((Check("a", "OK", ""),)).get("nope")


def test_camera_that_sends_a_frame_is_ok():
    frame = np.zeros((240, 320, 3), np.uint8)
    opened = {1: FakeCapture(True, frame)}
    check = check_cameras([0, 1], capture_factory=lambda i: opened.get(i, FakeCapture(False)))
    assert check == Check("local camera", "OK", "camera 1: 320x240")
    assert opened[1].released


def test_no_camera_is_warn_with_fix():
    check = check_cameras(range(3), capture_factory=lambda i: FakeCapture(False))
    assert check.verdict == "WARN" and check.fix == FIXES["camera"]
    assert check.detail.startswith("no local camera at index 0, 1, 2")
    assert "browser camera" in check.fix and "--device /dev/video0" in check.fix and "video group" in check.fix


def test_busy_hung_and_broken_cameras_are_named():
    release = threading.Event()

    def factory(i):
        if i == 0:
            return FakeCapture(True, None)  # opened, no frame: another app holds it
        if i == 1:
            release.wait(5)  # a driver stuck in open()
            return FakeCapture(False)
        raise RuntimeError("driver exploded")

    try:
        check = check_cameras([0, 1, 2], capture_factory=factory, timeout_s=0.2)
    finally:
        release.set()
    assert check.verdict == "WARN" and check.fix.startswith(FIXES["camera_busy"])
    assert "camera 0 opened but sent no frame" in check.detail
    assert "camera 1 did not answer within 0.2 s" in check.detail
    assert "camera 2 failed: RuntimeError: driver exploded" in check.detail


def test_no_cameras_requested_is_skip():
    assert check_cameras(()).verdict == "SKIP"


def test_codec_opencv_stops_early_is_ok_and_names_pyav(monkeypatch, tmp_path):
    # The analysis continues with PyAV where OpenCV stops (actionrec.video.files). No sample clip
    # makes OpenCV stop part-way for real, so its count is set here; OpenCV decoding nothing is
    # real in test_opencv_without_ffmpeg_decodes_through_pyav.
    monkeypatch.setattr(doctor_checks, "_opencv_frame_count", lambda path: 5)
    assert doctor.check_codec("vp9", workdir=tmp_path).detail.endswith("the analysis uses PyAV where OpenCV stops")


def test_codec_no_decoder_can_read_fails_with_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(doctor_checks, "_opencv_frame_count", lambda path: 0)
    monkeypatch.setattr(doctor_checks, "_pyav_frame_count", lambda av, path: 0)
    check = doctor.check_codec("h264", workdir=tmp_path, required=True)
    assert check.verdict == "FAIL"
    assert check.detail == (
        "OpenCV decoded 0/8 frames, PyAV 0/8 (sample made with libx264); the analysis cannot decode such files"
    )
    assert check.fix == "convert such files: ffmpeg -i in.mp4 -c:v libx264 -pix_fmt yuv420p out.mp4"
    optional = doctor.check_codec("vp9", workdir=tmp_path)
    assert optional.verdict == "WARN" and optional.fix == check.fix
    monkeypatch.setattr(doctor_checks, "_opencv_has_ffmpeg", lambda: False)
    assert "pip install opencv-python-headless" in doctor.check_codec("h264", workdir=tmp_path, required=True).fix
    report = run_doctor(cameras=(), codecs=("h264",), cache_dir=tmp_path / "cache")
    assert report.get("decode H.264").verdict == "FAIL" and not report.ok


@pytest.mark.parametrize("codec", ["h264", "av1"])
def test_codec_row_names_the_decoder_the_analysis_really_uses(codec, tmp_path):
    from actionrec.video import open_video

    check = doctor.check_codec(codec, workdir=tmp_path)
    if check.detail.startswith("cannot test"):
        pytest.skip(f"this PyAV build cannot make a {codec} sample: {check.detail}")
    assert check.verdict == "OK", check  # AV1 analyses fine through PyAV: never "convert such files"
    with open_video(next(tmp_path.glob(f"sample_{codec}.*")), progress=False) as video:
        frames = list(video)
    by_pyav = any("PyAV" in w for w in video.stats.warnings)
    assert len(frames) == doctor_checks.SAMPLE_FRAMES
    assert check.detail.endswith("the analysis uses OpenCV") != by_pyav, (check.detail, video.stats.warnings)


def test_codec_without_encoder_cannot_be_tested(monkeypatch, tmp_path):
    monkeypatch.setitem(doctor_checks.ENCODERS, "hevc", ("no-such-encoder",))
    check = doctor.check_codec("hevc", workdir=tmp_path)
    assert check.verdict == "WARN" and check.detail == "cannot test: no encoder (no-such-encoder)"
    assert check.fix == FIXES["no_encoder"]
    with pytest.raises(ValueError, match="codec 'mpeg2' is not known; valid: h264, hevc, vp9, av1"):
        run_doctor(codecs=("mpeg2",))


def test_codec_check_keeps_encoder_banners_off_stderr(capfd, tmp_path):
    for codec in ("hevc", "av1"):
        doctor.check_codec(codec, workdir=tmp_path)
    err = capfd.readouterr().err
    assert "Svt[" not in err and "x265 [" not in err and "[av1 @" not in err


def test_insecure_origin_fails_camera_and_context_with_fix():
    camera, secure = check_browser(BrowserStatus(front_end=True, secure_context=False, has_media_devices=False))
    assert camera.verdict == secure.verdict == "FAIL"
    assert camera.fix == secure.fix == FIXES["insecure"]
    assert "ssh -L 8888:localhost:8888 host" in secure.fix and "secure context" in secure.fix
    assert camera.detail == "navigator.mediaDevices is unavailable (insecure context)"


def test_denied_permission_fails_with_fix():
    status = BrowserStatus(front_end=True, secure_context=True, has_media_devices=True, camera_permission="denied")
    report = run_doctor(cameras=(), codecs=(), browser=status)
    camera = report.get("browser camera")
    assert camera.verdict == "FAIL" and camera.detail == "camera permission denied for this page"
    assert camera.fix.startswith("allow the camera for this site")
    assert report.get("secure context").verdict == "OK" and not report.ok


def test_browser_states_headless_error_and_granted():
    headless = check_browser(BrowserStatus(front_end=False))
    assert [c.verdict for c in headless] == ["SKIP", "SKIP"] and "no front end" in headless[0].detail
    error = check_browser(BrowserStatus(front_end=True, secure_context=True, error="NotFoundError: no device"))[0]
    assert error.verdict == "FAIL" and error.detail == "getUserMedia failed: NotFoundError: no device"
    ok = check_browser(BrowserStatus(True, True, True, "granted"))
    assert [c.verdict for c in ok] == ["OK", "OK"] and ok[0].detail.endswith("permission granted")


def test_disk_too_small_fails_with_how_much_to_free(monkeypatch, tmp_path):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(doctor_checks.shutil, "disk_usage", lambda path: usage(10 * 2**20, 0, 10 * 2**20))
    report = run_doctor(cameras=(), codecs=(), cache_dir=tmp_path / "cache", precision="FP16-INT8")
    disk = report.get("disk space")
    assert disk.verdict == "FAIL" and not report.ok
    need = 21319022 + 7601377 + 265949 + 276509 + doctor_checks.MODEL_HEADROOM_BYTES  # registry sizes + headroom
    assert disk.fix.startswith(f"free at least {(need - 10 * 2**20) / 2**20:.1f} MB there")
    assert "--cache-dir DIR / AR_CACHE_DIR=DIR" in disk.fix
    assert disk.detail.startswith(f"10.0 MB free in {tmp_path / 'cache'}; to download 28.1 MB")


def test_cached_models_are_ok(monkeypatch, tmp_path):
    monkeypatch.setattr("actionrec.download.is_verified", lambda path, remote: True)
    report = run_doctor(cameras=(), codecs=(), cache_dir=tmp_path)
    assert report.get("model files") == Check("model files", "OK", f"all 5 files in place (IRs in {tmp_path})")
    assert report.get("disk space").detail.endswith("models already in place")


def test_model_dir_in_place_and_missing(tiny_model_dir, tiny_labels_file, tmp_path, monkeypatch):
    monkeypatch.setenv("AR_LABELS", str(tiny_labels_file))
    report = run_doctor(cameras=(), codecs=(), model_dir=tiny_model_dir)
    assert report.get("model files").verdict == "OK" and report.ok
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = run_doctor(cameras=(), codecs=(), model_dir=empty).get("model files")
    assert missing.verdict == "FAIL" and missing.fix == FIXES["model_dir"]
    assert (
        f"missing: {empty}/action-recognition-0001-encoder/FP16/action-recognition-0001-encoder.xml" in missing.detail
    )
    unknown = run_doctor(cameras=(), codecs=(), model="nope").get("model files")
    assert unknown.verdict == "FAIL" and unknown.detail == "model 'nope' is not in the registry"
    assert unknown.fix.startswith("pick --model from action-recognition-0001, driver-action-recognition-adas-0002")


def test_upload_limit_reports_the_effective_limit(monkeypatch):
    default = doctor.check_upload_limit()
    assert default.verdict in ("OK", "WARN")  # WARN only on a machine with under 2 GB free
    assert default.detail.startswith("2.0 GB (default; set AR_MAX_UPLOAD_MB to change); ")
    assert "plain ipywidgets FileUpload sends one message, ~10 MB at most" in default.detail
    monkeypatch.setenv("AR_MAX_UPLOAD_MB", "500")
    assert doctor.check_upload_limit().detail.startswith("500 MB from AR_MAX_UPLOAD_MB; ")
    monkeypatch.setenv("AR_MAX_UPLOAD_MB", "1.5")
    assert doctor.check_upload_limit().detail.startswith("1.5 MB from AR_MAX_UPLOAD_MB; ")
    for raw in ("lots", "0", "-3", "inf"):
        monkeypatch.setenv("AR_MAX_UPLOAD_MB", raw)
        bad = doctor.check_upload_limit()
        assert bad.verdict == "FAIL" and bad.detail == f"AR_MAX_UPLOAD_MB={raw!r} is not a positive number of megabytes"
        assert bad.fix == FIXES["upload_env"]
        assert (
            bad.fix
            == "set AR_MAX_UPLOAD_MB to a positive number of megabytes (e.g. 500), or unset it for the default (2 GB)"
        )
    huge = doctor.check_upload_limit(2**60)
    assert huge.verdict == "WARN" and "free for uploads" in huge.detail and huge.fix == FIXES["upload_disk"]
    assert huge.detail.startswith("1073741824.0 GB (given); only ")


def test_upload_limit_warns_when_the_disk_is_smaller_than_the_default(monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(doctor_checks.shutil, "disk_usage", lambda path: usage(2**30, 0, 2**30))
    row = run_doctor(cameras=(), codecs=()).get("upload limit")
    assert row.verdict == "WARN" and row.fix == "free disk under data/ or lower AR_MAX_UPLOAD_MB"
    assert row.detail.startswith("2.0 GB (default; set AR_MAX_UPLOAD_MB to change); only 1.0 GB free for uploads")


def test_https_check_touches_no_network_and_catches_a_bad_ca_bundle(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("the doctor must not open a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert doctor.check_https().verdict == "OK"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "nope.pem"))
    bad = doctor.check_https()
    assert bad.verdict == "FAIL" and bad.detail == f"REQUESTS_CA_BUNDLE={tmp_path / 'nope.pem'} does not exist"
    assert bad.fix == "point REQUESTS_CA_BUNDLE at an existing PEM bundle, or unset it to use certifi's"


def test_openvino_that_cannot_be_imported_fails_with_the_install_fix(tmp_path):
    rows = doctor_rows(tmp_path, "--codecs", "", broken=("openvino",))
    assert rows["OpenVINO"] == {
        "name": "OpenVINO",
        "verdict": "FAIL",
        "detail": "cannot import openvino (libopenvino.so.1: cannot open shared object file: No such file or "
        "directory)",
        "fix": "pip install -r requirements.txt",
    }
    assert rows["https downloads"]["verdict"] == "OK"  # only the broken package's row fails


@pytest.mark.parametrize(
    ("broken", "detail", "fix"),
    [
        ("requests", "cannot import requests (librequests.so.1: cannot open", FIXES["install"]),
        ("urllib3", "cannot import requests (liburllib3.so.1: cannot open", FIXES["install"]),  # requests' own import
        ("certifi", "cannot import certifi (libcertifi.so.1: cannot open", FIXES["install"]),
        ("_ssl", "cannot import ssl (lib_ssl.so.1: cannot open", FIXES["ssl"]),  # a Python built without OpenSSL
    ],
    ids=["requests", "urllib3", "certifi", "_ssl"],
)
def test_https_stack_that_cannot_be_imported_fails_naming_the_module(tmp_path, broken, detail, fix):
    rows = doctor_rows(tmp_path, "--codecs", "", broken=(broken,))
    https = rows["https downloads"]
    assert https["verdict"] == "FAIL" and https["detail"].startswith(detail), https
    assert https["fix"] == fix
    assert rows["OpenVINO"]["verdict"] == "OK" and rows["upload limit"]["verdict"] in ("OK", "WARN")


def test_missing_certifi_bundle_fails_with_the_reinstall_fix(tmp_path):
    # certifi installed, its cacert.pem gone (a half-removed or stripped install): a copy without it.
    import certifi

    copy = tmp_path / "stripped-site"
    shutil.copytree(Path(certifi.__file__).parent, copy / "certifi", ignore=shutil.ignore_patterns("cacert.pem"))
    rows = doctor_rows(tmp_path, "--codecs", "", path_first=(copy,))
    https = rows["https downloads"]
    assert https["verdict"] == "FAIL"
    assert https["detail"] == f"CA bundle {copy / 'certifi' / 'cacert.pem'} is missing or empty"
    assert https["fix"] == "pip install --force-reinstall certifi"


@pytest.mark.parametrize("var", ["SSL_CERT_FILE", "CURL_CA_BUNDLE"])
def test_ca_bundle_variable_naming_a_missing_file_fails(tmp_path, var):
    missing = tmp_path / "gone" / "corporate-ca.pem"
    https = doctor_rows(tmp_path, "--codecs", "", env={var: str(missing)})["https downloads"]
    assert https == {
        "name": "https downloads",
        "verdict": "FAIL",
        "detail": f"{var}={missing} does not exist",
        "fix": f"point {var} at an existing PEM bundle, or unset it to use certifi's",
    }


def test_opencv_without_ffmpeg_decodes_through_pyav(tmp_path):
    # OPENCV_VIDEOIO_PRIORITY_FFMPEG=0 removes OpenCV's FFmpeg backend, as in a build without it.
    rows = doctor_rows(tmp_path, "--codecs", "h264", env={"OPENCV_VIDEOIO_PRIORITY_FFMPEG": "0"})
    assert rows["decode H.264"] == {
        "name": "decode H.264",
        "verdict": "OK",
        "detail": "OpenCV decoded 0/8 frames, PyAV 8/8 (sample made with libx264); the analysis uses PyAV "
        "(slower than OpenCV, same frames)",
        "fix": "",
    }


def test_openvino_devices():
    class Core:
        def __init__(self, devices):
            self.available_devices = devices

        def get_property(self, device, name):
            return {"CPU": "Some CPU", "GPU.0": "Some GPU"}[device]

    assert doctor.check_openvino(core=Core(["CPU"])).detail.endswith("devices: CPU (Some CPU); CPU only (fine)")
    both = doctor.check_openvino(core=Core(["CPU", "GPU.0"]))
    assert both.verdict == "OK" and both.detail.endswith("devices: CPU (Some CPU), GPU.0 (Some GPU)")
    none = doctor.check_openvino(core=Core([]))
    assert none.verdict == "FAIL" and none.fix == FIXES["openvino_cpu"]


def test_a_crashing_check_becomes_a_fail_row(tmp_path):
    # An openvino whose import raises what check_openvino does not expect (not an ImportError).
    site = tmp_path / "odd-site"
    (site / "openvino").mkdir(parents=True)
    (site / "openvino" / "__init__.py").write_text("raise OSError('disk on fire')\n")
    rows = doctor_rows(tmp_path, "--codecs", "", path_first=(site,))
    assert rows["OpenVINO"] == {
        "name": "OpenVINO",
        "verdict": "FAIL",
        "detail": "the check crashed: OSError: disk on fire",
        "fix": FIXES["crash"],
    }
    assert [name for name, row in rows.items() if row["verdict"] == "FAIL"] == ["OpenVINO"]  # the others still ran
    assert rows["NPU"]["verdict"] == "SKIP" and rows["NPU"]["detail"] == "not checked: OpenVINO does not load (OSError)"


@pytest.mark.parametrize("first", ["actionrec.doctor", "actionrec.doctor.checks"])
def test_import_stays_light(first):
    # Either module may be imported first (the checks and the report types refer to each other).
    heavy = "sorted(m for m in ('cv2', 'openvino', 'av') if m in sys.modules)"
    code = f"import {first}, sys; from actionrec.doctor import check_codec, Check; print({heavy})"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_cli_prints_every_check_and_exits_by_verdict(tmp_path):
    ok = run_cli("--no-cameras", "--cache-dir", str(tmp_path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for name in NAMES:
        assert re.search(rf"^{re.escape(name)} +(OK|WARN|SKIP)\b", ok.stdout, re.M), name
    assert re.search(r"^local camera +SKIP +not checked", ok.stdout, re.M)
    assert "Traceback" not in ok.stderr and "Svt[" not in ok.stderr
    failed = run_cli("--no-cameras", "--codecs", "h264", "--cache-dir", str(tmp_path), env={"AR_MAX_UPLOAD_MB": "0"})
    assert failed.returncode == 1
    assert re.search(r"^upload limit +FAIL +AR_MAX_UPLOAD_MB='0' is not a positive number", failed.stdout, re.M)
    assert re.search(r"^upload limit +(OK|WARN) +2\.0 GB \(default; set AR_MAX_UPLOAD_MB", ok.stdout, re.M)


def test_cli_json_and_bad_flags(tmp_path):
    r = run_cli("--no-cameras", "--codecs", "h264,vp9", "--json", "--cache-dir", str(tmp_path))
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["ok"] is True
    assert [c["name"] for c in data["checks"]][6:8] == ["decode H.264", "decode VP9"]
    assert all(set(c) == {"name", "verdict", "detail", "fix"} for c in data["checks"])
    bad = run_cli("--cameras", "front", "--cache-dir", str(tmp_path))
    assert bad.returncode == 2 and bad.stderr.startswith("error: --cameras 'front'")


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policies")
def test_codec_checks_leave_the_callers_scheduling_alone(tmp_path):
    """SVT-AV1 makes the thread driving it SCHED_FIFO 99 when it may (as root, e.g. in Docker)."""
    from actionrec.doctor import check_codec

    for codec in ("av1", "h264", "vp9", "hevc"):
        check_codec(codec, workdir=tmp_path)
        assert os.sched_getscheduler(0) == os.SCHED_OTHER, f"the {codec} check changed this thread's scheduling"
