"""TimelineWidget in a real JupyterLab + headless Chromium: the video reaches the page, a click seeks.

Three ways the video reaches the page, each forced here: a clip under the server root (Jupyter's
``files/`` URL), a clip outside it (its bytes through the kernel, as for a remote kernel), and an
MJPEG AVI that browsers cannot play (the widget plays the annotated copy given, or an H.264 copy
it transcodes). The expected times come from the axis geometry the component reports.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.videos import make_video
from tests.ui.conftest import STEP_HANG_MS, VISIBLE_PANEL, error_outputs, open_notebook, run_all, run_cell, screenshot

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """An H.264 MP4 (10.5 s) and an MJPEG AVI (OpenCV's VideoWriter) of the same moving square."""
    folder = tmp_path_factory.mktemp("widget")

    def paint(index, t, img):
        img[:] = (90, 60, 30)
        x = int(10 + (t * 25) % 280)
        img[100:140, x : x + 40] = 255

    mp4 = make_video(folder / "clip.mp4", fps=25, size_wh=(320, 240), duration_s=10.5, paint=paint)
    avi = folder / "clip.avi"
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    for i in range(int(10.5 * 25)):
        img = np.zeros((240, 320, 3), np.uint8)
        paint(i, i / 25, img)
        writer.write(img)
    writer.release()
    return {"mp4": mp4, "avi": avi}


def _widget(page, index: int):
    return page.locator(f"{VISIBLE_PANEL} .ar-tl").nth(index)


def _wait_loaded(page, root, *, mode: str, timeout_ms: int = 30_000) -> None:
    handle = root.element_handle()
    page.wait_for_function(
        "([r, mode]) => r.dataset.videoMode === mode && r.querySelector('video').readyState >= 2",
        arg=[handle, mode],
        timeout=timeout_ms,
    )


def _click_seeks(page, root, target_s: float) -> float:
    geo = root.evaluate("r => ({left: +r.dataset.plotLeft, width: +r.dataset.plotWidth, dur: +r.dataset.durationS})")
    root.locator(".ar-tl-lanes").scroll_into_view_if_needed()
    box = root.locator(".ar-tl-cursor").bounding_box()
    page.mouse.click(box["x"] + geo["left"] + target_s / geo["dur"] * geo["width"], box["y"] + 20 + 13)
    handle = root.element_handle()
    page.wait_for_function("r => !r.querySelector('video').seeking", arg=handle)
    return root.evaluate("r => r.querySelector('video').currentTime")


def test_widget_plays_from_the_files_url_and_through_the_kernel(lab_server, page, clips, tmp_path):
    (lab_server.root_dir / "clip.mp4").write_bytes(clips["mp4"].read_bytes())
    open_notebook(page, lab_server, "timeline_widget.ipynb")
    run_all(page)
    run_cell(page, 'widget("clip.mp4")')  # under the server root
    files = _widget(page, 0)
    _wait_loaded(page, files, mode="files")
    assert "playing clip.mp4 (from the Jupyter file server)" in files.locator(".ar-tl-note").first.inner_text()
    got = _click_seeks(page, files, 6.3)
    print(f"files URL: clicked at 6.3 s, video at {got:.3f} s")
    assert abs(got - 6.3) <= 0.1
    files.scroll_into_view_if_needed()
    screenshot(page, "timeline-widget-files")

    outside = tmp_path / "outside.mp4"  # outside the server root: only the kernel can send it
    outside.write_bytes(clips["mp4"].read_bytes())
    run_cell(page, f'widget(r"{outside}")')
    kernel = _widget(page, 1)
    _wait_loaded(page, kernel, mode="kernel")
    assert "(sent through the kernel)" in kernel.locator(".ar-tl-note").first.inner_text()
    got = _click_seeks(page, kernel, 2.2)
    assert abs(got - 2.2) <= 0.1
    assert kernel.evaluate("r => r.querySelector('video').src.startsWith('blob:')")

    kernel.locator(".ar-tl-save").click()  # Save report: written, and linked through the file server
    link = kernel.locator(".ar-tl-report-link")
    link.wait_for(timeout=20_000)
    assert (lab_server.root_dir / "reports" / "outside.html").is_file()
    assert link.get_attribute("href").endswith("/files/reports/outside.html")
    kernel.scroll_into_view_if_needed()
    screenshot(page, "timeline-widget-kernel")
    assert error_outputs(page) == []


def test_widget_plays_a_browser_copy_of_an_mjpeg_avi(lab_server, page, clips):
    (lab_server.root_dir / "clip.avi").write_bytes(clips["avi"].read_bytes())
    (lab_server.root_dir / "clip.annotated.mp4").write_bytes(clips["mp4"].read_bytes())
    open_notebook(page, lab_server, "timeline_widget.ipynb")
    run_all(page)
    run_cell(page, 'widget("clip.avi", playable="clip.annotated.mp4")')
    annotated = _widget(page, 0)
    _wait_loaded(page, annotated, mode="files")
    note = annotated.locator(".ar-tl-note").first.inner_text()
    assert "playing clip.annotated.mp4: the original clip.avi does not play in browsers" in note, note
    assert annotated.get_attribute("data-video-name") == "clip.annotated.mp4"

    run_cell(page, 'widget("clip.avi")')  # no copy given: an H.264 copy is made
    transcoded = _widget(page, 1)
    _wait_loaded(page, transcoded, mode="files", timeout_ms=STEP_HANG_MS)
    assert transcoded.get_attribute("data-video-kind") == "transcoded"
    assert "H.264 copy made for the browser" in transcoded.locator(".ar-tl-note").first.inner_text()
    got = _click_seeks(page, transcoded, 4.4)
    assert abs(got - 4.4) <= 0.1
    transcoded.scroll_into_view_if_needed()
    screenshot(page, "timeline-widget-transcoded")
    assert error_outputs(page) == []
