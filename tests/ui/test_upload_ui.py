"""ChunkedUpload in a real JupyterLab + headless Chromium: a >10 MB video through the file picker."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from actionrec.notebook.upload import format_size
from tests.support.videos import make_video
from tests.ui.conftest import (
    STEP_HANG_MS,
    STEP_HANG_S,
    cell_outputs_text,
    error_outputs,
    open_notebook,
    run_all,
    screenshot,
)

expect = pytest.importorskip("playwright.sync_api", reason="UI tests need the playwright package").expect
pytestmark = pytest.mark.timeout(120)

NOTEBOOK = "chunked_upload.ipynb"
FILE_UPLOAD_LIMIT_BYTES = 10 * 1024**2  # ipywidgets' FileUpload: one websocket message


@pytest.fixture(scope="module")
def big_video(tmp_path_factory):
    """~12 MB of MJPEG noise: too big for one widget message, small enough to make in ~1 s."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(8, 720, 1280, 3), dtype=np.uint8)

    def paint(index, t, img):
        img[:] = noise[index % len(noise)]

    path = make_video(
        tmp_path_factory.mktemp("big") / "big noise clip.avi",
        fps=10,
        size_wh=(1280, 720),
        duration_s=6.5,
        paint=paint,
        codec="mjpeg",
    )
    assert path.stat().st_size > FILE_UPLOAD_LIMIT_BYTES, path.stat().st_size
    return path


def _pick(page, path) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator(".ar-upload-button").click()
    chooser.value.set_files(str(path))


def _open(page, lab_server):
    open_notebook(page, lab_server, NOTEBOOK)
    run_all(page, timeout_s=STEP_HANG_S)
    assert error_outputs(page) == []
    page.locator(".ar-upload-button").wait_for()
    uploads = lab_server.root_dir / "uploads"
    shutil.rmtree(uploads, ignore_errors=True)  # other runs on this server
    return uploads


def test_a_video_larger_than_10_mb_arrives_byte_identical(lab_server, page, big_video):
    uploads = _open(page, lab_server)
    screenshot(page, "upload-idle")

    _pick(page, big_video)
    page.locator('.ar-upload-status[data-state="done"]').wait_for(timeout=STEP_HANG_MS)
    screenshot(page, "upload-done")

    arrived = uploads / big_video.name
    assert arrived.read_bytes() == big_video.read_bytes()
    assert sorted(p.name for p in uploads.iterdir()) == [big_video.name]  # no .part left
    status = page.locator(".ar-upload-status").inner_text()
    assert status.startswith(f"{big_video.name} uploaded (")
    page.get_by_text(f"UPLOADED {big_video.name} {big_video.stat().st_size}").wait_for()  # the on_upload callback
    assert page.locator(".ar-upload-progress").evaluate("el => el.value") == 1


def test_a_text_file_named_mp4_is_refused_with_a_clear_message(lab_server, page, tmp_path):
    uploads = _open(page, lab_server)
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n" * 100)

    _pick(page, fake)
    status = page.locator('.ar-upload-status[data-state="error"]')
    status.wait_for(timeout=30_000)
    screenshot(page, "upload-not-a-video")

    assert status.inner_text().startswith("notes.mp4 is not a video OpenCV/FFmpeg can decode: ")
    assert not uploads.exists() or list(uploads.iterdir()) == []
    assert "UPLOADED" not in cell_outputs_text(page)
    assert page.locator(".ar-upload-button").is_enabled()  # the user can pick another file


def test_a_video_over_the_upload_limit_is_refused_before_any_byte_is_sent(lab_server_factory, page, big_video):
    # A small limit from the environment the notebook's kernel sees, as a user would set it.
    server = lab_server_factory(env={"AR_MAX_UPLOAD_MB": "5"})
    uploads = _open(page, server)
    status = page.locator(".ar-upload-status")
    expect(status).to_have_text("pick a video file (up to 5.0 MB)")

    _pick(page, big_video)
    page.locator('.ar-upload-status[data-state="error"]').wait_for(timeout=30_000)
    screenshot(page, "upload-over-the-limit")

    size = format_size(big_video.stat().st_size)
    assert size.endswith(" MB") and float(size.split()[0]) > 10, size  # the chunked path: over one message
    assert status.inner_text() == (
        f"{big_video.name} is {size}; the upload limit is 5.0 MB; set AR_MAX_UPLOAD_MB or pick a shorter clip"
    )
    assert not uploads.exists() or list(uploads.iterdir()) == []  # not even a .part
    assert page.locator(".ar-upload-progress").evaluate("el => el.value") == 0  # refused before the first chunk
    assert "UPLOADED" not in cell_outputs_text(page)
    assert page.locator(".ar-upload-button").is_enabled()  # the user can pick a shorter clip
