"""The browser camera widget in a real JupyterLab + headless Chromium (fake camera, denial, insecure page)."""

from __future__ import annotations

import json
import re

import pytest

from actionrec.doctor import FIXES
from tests.ui.conftest import (
    FAKE_CAMERA_ARGS,
    INSECURE_HOST,
    STEP_HANG_S,
    cell_outputs_text,
    error_outputs,
    host_resolver_args,
    open_notebook,
    run_all,
    run_cell,
    screenshot,
)

expect = pytest.importorskip("playwright.sync_api", reason="UI tests need the playwright package").expect
pytestmark = pytest.mark.timeout(120)

# The fake camera runs at 30 frames/s. A floor, never a benchmark (the rate is printed): frames must
# flow, not at a figure. Measured here 19-21 frames/s on a loaded machine (load average ~5 on 2
# cores) and down to 5.0 with the suite, UI tests and mutation runs in parallel (load ~10), where
# the former floors of 20 and then 10 were missed; a tenth of the camera's rate still catches a
# stalled or ack-starved pipeline (one frame per timeout).
MIN_RATE_FPS = 3.0


def _result(text: str) -> dict:
    return json.loads(re.search(r"^RESULT (.*)$", text, re.MULTILINE).group(1))


def _doctor_rows(text: str) -> dict[str, list[str]]:
    """The doctor's browser rows the notebook printed: ``{name: [name, verdict, detail, fix]}``."""
    return {row[0]: row for row in map(json.loads, re.findall(r"^ROW (.*)$", text, re.MULTILINE))}


def _status_line(page) -> str:
    return page.locator(".ar-browser-camera-status").first.inner_text()


def test_fake_camera_frames_reach_the_kernel(lab_server, chromium_factory, page_factory):
    page = page_factory(chromium_factory(*FAKE_CAMERA_ARGS))
    open_notebook(page, lab_server, "browser_camera_rate.ipynb")
    run_all(page, timeout_s=STEP_HANG_S)
    page.locator(".ar-browser-camera-preview").wait_for(state="visible")
    screenshot(page, "browser_camera-streaming")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE streaming" in text
    warm_up = json.loads(re.search(r"^WARM-UP (.*)$", text, re.MULTILINE).group(1))
    result = _result(text)
    print(f"browser camera: {result['rate_fps']:.1f} frames/s received by the kernel; {result}")
    print(f"browser camera, first second after loading: {warm_up['rate_fps']:.1f} frames/s")
    assert result["rate_fps"] >= MIN_RATE_FPS
    assert result["shapes"] == [[360, 640, 3]]
    assert result["dtypes"] == ["uint8"]
    assert result["timestamps_increasing"] and result["indices_increasing"]
    # Between loops the page keeps the preview but sends nothing (the kernel stopped pulling).
    status = page.locator(".ar-browser-camera-status")
    expect(status).to_have_text(re.compile(r"^camera: streaming 640×360, \d+ frames sent \(sending while a frame loop"))

    assert run_cell(page, 'camera.stop()\nprint("STOPPED", camera.state)').strip() == "STOPPED idle"
    page.locator(".ar-browser-camera-preview").wait_for(state="hidden")
    expect(status).to_have_text("camera: idle")
    assert page.evaluate("() => document.querySelector('.ar-browser-camera-preview').srcObject") is None

    restarted = run_cell(page, 'camera.start()\nprint("RESTARTED", await camera.await_ready(timeout_s=10))')
    assert restarted.strip() == "RESTARTED streaming"
    page.locator(".ar-browser-camera-preview").wait_for(state="visible")


def test_denied_permission_is_explained(lab_server, chromium_factory, page_factory):
    # A camera exists but nobody answers the permission prompt: headless Chromium denies it.
    page = page_factory(chromium_factory("--use-fake-device-for-media-stream"), permissions=None)
    open_notebook(page, lab_server, "browser_camera_status.ipynb")
    run_all(page, timeout_s=STEP_HANG_S)
    screenshot(page, "browser_camera-denied")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE denied" in text
    assert "the browser denied camera access (NotAllowedError" in text
    assert "allow the camera for this page" in text
    assert re.match(r"camera: denied — the browser denied camera access", _status_line(page))
    rows = _doctor_rows(text)
    assert rows["browser camera"][1:] == ["FAIL", "camera permission denied for this page", FIXES["denied"]]
    assert rows["secure context"][1] == "OK"


def test_missing_camera_is_explained(lab_server, browser, page_factory):
    # Permission granted, but this machine has no camera (no fake device flag).
    page = page_factory(browser, permissions=["camera"])
    open_notebook(page, lab_server, "browser_camera_status.ipynb")
    run_all(page, timeout_s=STEP_HANG_S)
    screenshot(page, "browser_camera-no-camera")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE no-camera" in text
    assert "the browser found no usable camera (NotFoundError" in text
    assert "connect a camera" in text
    assert "camera_permission='granted'" in text
    rows = _doctor_rows(text)
    assert rows["browser camera"][:2] == ["browser camera", "FAIL"]
    assert rows["browser camera"][2].startswith("getUserMedia failed: NotFoundError")
    assert rows["browser camera"][3] == FIXES["camera_error"]


def test_insecure_origin_says_how_to_fix_it(lab_server, chromium_factory, page_factory):
    # http://cam.test:PORT is loopback, but not a secure context: no navigator.mediaDevices.
    page = page_factory(chromium_factory(*FAKE_CAMERA_ARGS, *host_resolver_args()))
    open_notebook(page, lab_server, "browser_camera_status.ipynb", host=INSECURE_HOST)
    run_all(page, timeout_s=STEP_HANG_S)
    screenshot(page, "browser_camera-insecure")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE insecure" in text
    assert f"http://{INSECURE_HOST}:{lab_server.port} is not a secure context" in text
    fix = "ssh -L 8888:localhost:8888 user@host, then http://localhost:8888"
    assert fix in text
    assert fix in _status_line(page)
    assert "secure_context=False, has_media_devices=False" in text
    rows = _doctor_rows(text)
    assert rows["secure context"][1:] == [
        "FAIL",
        "not a secure context (plain HTTP to a remote host)",
        FIXES["insecure"],
    ]
    assert rows["browser camera"][1:] == [
        "FAIL",
        "navigator.mediaDevices is unavailable (insecure context)",
        FIXES["insecure"],
    ]


# A browser without the camera API on a secure page (an old or locked-down browser, some embedded
# web views): the property is gone before any page script runs.
NO_MEDIA_DEVICES_JS = "delete Navigator.prototype.mediaDevices;"


def test_secure_page_without_media_devices_blames_the_browser(lab_server, chromium_factory, page_factory):
    page = page_factory(chromium_factory(*FAKE_CAMERA_ARGS))
    page.add_init_script(NO_MEDIA_DEVICES_JS)
    open_notebook(page, lab_server, "browser_camera_doctor.ipynb")
    assert page.evaluate("() => [window.isSecureContext, 'mediaDevices' in navigator]") == [True, False]
    run_all(page, timeout_s=STEP_HANG_S)
    screenshot(page, "browser_camera-no-media-devices")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE insecure" in text
    page_url = f"http://127.0.0.1:{lab_server.port}"
    assert f"{page_url} is a secure context, but this browser has no navigator.mediaDevices" in text
    rows = _doctor_rows(text)
    assert rows["browser camera"] == [
        "browser camera",
        "FAIL",
        "this browser has no navigator.mediaDevices",
        "use a current Chromium, Chrome, Edge or Firefox",
    ]
    assert rows["browser camera"][3] == FIXES["no_media"]
    assert rows["secure context"][:2] == ["secure context", "OK"]
    # The doctor's table as the user sees it, and the widget's own line: no advice to tunnel to a
    # page that already is secure.
    table = page.locator("table.actionrec-doctor")
    expect(table.locator("tr", has_text="browser camera")).to_contain_text("FAIL")
    expect(table.locator("tr", has_text="browser camera")).to_contain_text(FIXES["no_media"])
    expect(table.locator("tr", has_text="secure context")).to_contain_text("OK")
    status = _status_line(page)
    assert "has no navigator.mediaDevices" in status and FIXES["no_media"] in status, status
    assert "not a secure context" not in status and "ssh -L" not in status, status
