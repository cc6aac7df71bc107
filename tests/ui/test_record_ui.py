"""A recorded browser-camera session (JupyterLab + headless Chromium, fake camera) plays back in Chromium."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import av
import cv2
import pytest

from actionrec.export import read_json
from tests.support.chromium import serve_dir
from tests.ui.conftest import (
    FAKE_CAMERA_ARGS,
    STEP_HANG_MS,
    cell_outputs_text,
    error_outputs,
    open_notebook,
    run_all,
    screenshot,
    start_run_all,
)

pytest.importorskip("playwright.sync_api", reason="UI tests need the playwright package")
pytestmark = pytest.mark.timeout(120)

# Waits for HAVE_ENOUGH_DATA (readyState 4), then plays and waits for currentTime to move on.
PLAY_JS = """
async (src) => {
  const v = document.createElement("video");
  v.muted = true;
  v.preload = "auto";
  document.body.appendChild(v);
  const ready = new Promise((resolve, reject) => {
    const check = () => { if (v.readyState === 4) resolve(); };
    v.addEventListener("canplaythrough", check);
    v.addEventListener("loadeddata", check);
    const failed = () => `media error ${v.error && v.error.code}: ${v.error && v.error.message}`;
    v.addEventListener("error", () => reject(new Error(failed())));
    setTimeout(() => reject(new Error(`timeout, readyState=${v.readyState}`)), 15000);
  });
  v.src = src;
  await ready;
  const readyState = v.readyState;
  const t0 = v.currentTime;
  await v.play();
  const deadline = performance.now() + 5000;
  while (v.currentTime <= t0 + 0.3 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return { readyState, t0, t1: v.currentTime, duration: v.duration, width: v.videoWidth, height: v.videoHeight };
}
"""


def _line(text: str, key: str):
    return json.loads(re.search(rf"^{key} (.*)$", text, re.MULTILINE).group(1))


def test_a_recorded_camera_session_plays_in_chromium_with_the_windows_shown(
    lab_server_factory, chromium_factory, page_factory, tiny_model_dir, tiny_labels_file
):
    server = lab_server_factory({"AR_MODEL_DIR": str(tiny_model_dir), "AR_LABELS": str(tiny_labels_file)})
    browser = chromium_factory(*FAKE_CAMERA_ARGS)
    page = page_factory(browser)
    open_notebook(page, server, "record_camera.ipynb")
    run_all(page, timeout_s=90)
    screenshot(page, "record-camera-session")
    assert error_outputs(page) == []
    text = cell_outputs_text(page)
    assert "STATE streaming" in text
    rec = _line(text, "RECORDING")
    shown = _line(text, "WINDOWS")
    print(f"recorded camera session: {rec}; {len(shown)} windows; {re.search(r'REPORT (.*)', text).group(1)}")
    assert rec["stopped_by"] == "max_seconds"
    folder = Path(rec["folder"])
    assert folder.parent == server.root_dir / "recordings"
    assert re.fullmatch(r"BrowserCamera-\d{8}-\d{6}", folder.name), folder.name
    assert {"mp4", "json", "csv", "vtt"} <= set(rec["files"])
    if importlib.util.find_spec("actionrec.export.report") is not None:  # the report lands with the timeline view
        assert Path(rec["files"]["html"]).is_file()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temp file left

    # The JSON holds exactly the windows the player showed.
    doc = read_json(rec["files"]["json"])
    windows = [
        [w["index"], w["start_s"], w["end_s"], [c["label"] for c in w["top_k"]], [c["score"] for c in w["top_k"]]]
        for w in doc["windows"]
    ]
    assert len(shown) >= 1, "the 4 s camera session showed no label"
    assert windows == shown

    # The MP4: every frame sent to the canvas, at the canvas size, playing in Chromium.
    with av.open(rec["files"]["mp4"]) as container:
        frames = list(container.decode(video=0))
    # Every frame sent to the canvas is in the video; the page may still replace a frame it had not
    # drawn yet (it is then subtracted from "shown"), so the video can hold a few more than "shown".
    assert len(frames) == rec["frames"] > 0
    assert rec["frames"] + rec["dropped"] >= rec["shown"]
    assert {(f.width, f.height) for f in frames} == {(640, 360)}
    shot = screenshot(page, "record-camera-after")
    cv2.imwrite(str(shot.with_name("record-camera-mp4-last-frame.png")), frames[-1].to_ndarray(format="bgr24"))
    video = Path(rec["files"]["mp4"])
    review = page_factory(browser)
    with serve_dir(folder) as base_url:
        review.goto(f"{base_url}/index.html")
        played = review.evaluate(PLAY_JS, f"{base_url}/{video.name}")
    print(f"recorded MP4 in Chromium: {played}")
    assert played["readyState"] == 4
    assert played["t1"] > played["t0"] + 0.3  # it plays: currentTime advances
    assert (played["width"], played["height"]) == (640, 360)
    assert played["duration"] == pytest.approx(frames[-1].time, abs=0.5)


def test_a_camera_session_interrupted_from_the_kernel_menu_leaves_complete_files(
    lab_server_factory, chromium_factory, page_factory, tiny_model_dir, tiny_labels_file
):
    """Kernel -> Interrupt while the camera plays (no time limit): the session ends, its files are whole."""
    server = lab_server_factory({"AR_MODEL_DIR": str(tiny_model_dir), "AR_LABELS": str(tiny_labels_file)})
    page = page_factory(chromium_factory(*FAKE_CAMERA_ARGS))
    open_notebook(page, server, "record_camera_interrupt.ipynb")
    start_run_all(page)
    page.locator(".ar-player-status").filter(has_text="top-1").wait_for(timeout=STEP_HANG_MS)  # playing, labelled
    page.wait_for_timeout(1000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator("li.lm-Menu-item[data-command='kernelmenu:interrupt']").click()
    stdout = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")
    stdout.filter(has_text=re.compile(r"^RECORDING ", re.MULTILINE)).wait_for(timeout=30_000)
    screenshot(page, "record-camera-interrupted")
    assert error_outputs(page) == []
    text = cell_outputs_text(page)
    rec = _line(text, "RECORDING")
    print(f"interrupted camera session: {rec}")
    assert rec["stopped_by"] == "interrupt"
    folder = Path(rec["folder"])
    assert {"mp4", "json", "csv", "vtt"} <= set(rec["files"])
    assert [p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name] == []
    assert read_json(rec["files"]["json"])["extra"]["stopped_by"] == "interrupt"
    with av.open(rec["files"]["mp4"]) as container:
        assert sum(1 for _ in container.decode(video=0)) == rec["frames"] > 0
