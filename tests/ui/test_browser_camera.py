"""The browser camera widget in a real JupyterLab + headless Chromium (fake camera, denial, insecure page)."""

from __future__ import annotations

import json
import re

import pytest

from tests.ui.conftest import (
    FAKE_CAMERA_ARGS,
    INSECURE_HOST,
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

# A floor, never a benchmark: the fake camera runs at 30 frames/s and delivered 24-30 to the kernel
# here with other work running (docs/browser-camera.md); a loaded 2-core machine never falls to a third.
MIN_RATE_FPS = 10.0


def _result(text: str) -> dict:
    return json.loads(re.search(r"^RESULT (.*)$", text, re.MULTILINE).group(1))


def _status_line(page) -> str:
    return page.locator(".ar-browser-camera-status").first.inner_text()


def test_fake_camera_frames_reach_the_kernel(lab_server, chromium_factory, page_factory):
    page = page_factory(chromium_factory(*FAKE_CAMERA_ARGS))
    open_notebook(page, lab_server, "browser_camera_rate.ipynb")
    run_all(page, timeout_s=60)
    page.locator(".ar-browser-camera-preview").wait_for(state="visible")
    screenshot(page, "browser_camera-streaming")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE streaming" in text
    warm_up = json.loads(re.search(r"^WARM-UP (.*)$", text, re.MULTILINE).group(1))
    result = _result(text)
    print(f"browser camera: {result['rate_fps']:.1f} frames/s received by the kernel; {result}")
    print(f"browser camera, first second after loading: {warm_up['rate_fps']:.1f} frames/s")
    assert result["rate_fps"] >= MIN_RATE_FPS  # measured once: no second try to hide a slow run
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
    run_all(page, timeout_s=60)
    screenshot(page, "browser_camera-denied")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE denied" in text
    assert "the browser denied camera access (NotAllowedError" in text
    assert "allow the camera for this page" in text
    assert re.match(r"camera: denied — the browser denied camera access", _status_line(page))


def test_missing_camera_is_explained(lab_server, browser, page_factory):
    # Permission granted, but this machine has no camera (no fake device flag).
    page = page_factory(browser, permissions=["camera"])
    open_notebook(page, lab_server, "browser_camera_status.ipynb")
    run_all(page, timeout_s=60)
    screenshot(page, "browser_camera-no-camera")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE no-camera" in text
    assert "the browser found no usable camera (NotFoundError" in text
    assert "connect a camera" in text
    assert "camera_permission='granted'" in text


def test_insecure_origin_says_how_to_fix_it(lab_server, chromium_factory, page_factory):
    # http://cam.test:PORT is loopback, but not a secure context: no navigator.mediaDevices.
    page = page_factory(chromium_factory(*FAKE_CAMERA_ARGS, *host_resolver_args()))
    open_notebook(page, lab_server, "browser_camera_status.ipynb", host=INSECURE_HOST)
    run_all(page, timeout_s=60)
    screenshot(page, "browser_camera-insecure")
    text = cell_outputs_text(page)
    assert error_outputs(page) == []
    assert "STATE insecure" in text
    assert f"http://{INSECURE_HOST}:{lab_server.port} is not a secure context" in text
    fix = "ssh -L 8888:localhost:8888 user@host, then http://localhost:8888"
    assert fix in text
    assert fix in _status_line(page)
    assert "secure_context=False, has_media_devices=False" in text
