"""TimelineWidget's kernel side without a browser: which file it offers, and how (files URL or chunks).

The page's messages are fed to the widget's handler; what it would send is collected. The work a
message starts runs in a thread in the kernel; here it runs at once (``_start`` replaced).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("anywidget", reason="the notebook extra (anywidget) is not installed")

from actionrec.notebook import timeline_widget as tw
from tests.support.timelines import synthetic_timeline
from tests.support.videos import make_video


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr(tw.TimelineWidget, "_start", staticmethod(lambda fn, view: fn(view)))
    monkeypatch.setattr(
        tw.TimelineWidget, "send", lambda self, content, buffers=None: messages.append((content, buffers))
    )
    return messages


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("w") / "clip.mp4", fps=10, duration_s=2.0)


def _widget(video, tmp_path, **kw):
    return tw.TimelineWidget(
        synthetic_timeline(4, source=str(video)), video=video, report_dir=tmp_path / "reports", **kw
    )


def test_a_file_under_the_server_root_is_offered_by_its_files_path(sent, mp4, tmp_path):
    w = _widget(mp4, tmp_path)
    w._handle_custom_msg({"type": "hello", "view": "v1", "server_root": str(mp4.parent.parent)}, [])
    ((msg, _),) = sent
    assert msg["mode"] == "files" and msg["path"] == f"{mp4.parent.name}/clip.mp4" and msg["view"] == "v1"
    assert msg["size"] == mp4.stat().st_size and msg["note"] == "playing clip.mp4"


def test_elsewhere_the_bytes_come_through_the_kernel_in_chunks(sent, mp4, tmp_path, monkeypatch):
    monkeypatch.setattr(tw, "CHUNK_BYTES", 1000)
    w = _widget(mp4, tmp_path)
    w._handle_custom_msg({"type": "hello", "view": "v", "server_root": str(tmp_path / "elsewhere")}, [])
    header, *chunks = sent
    assert header[0]["mode"] == "kernel" and header[0]["size"] == mp4.stat().st_size
    assert all(c[0]["transfer"] == header[0]["transfer"] for c in chunks)
    assert [c[0]["last"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert b"".join(bytes(c[1][0]) for c in chunks) == mp4.read_bytes()
    assert len(chunks) == -(-mp4.stat().st_size // 1000)
    assert "(sent through the kernel)" in w.playing


def test_a_page_that_cannot_load_the_files_url_gets_the_bytes(sent, mp4, tmp_path):
    w = _widget(mp4, tmp_path)
    w._handle_custom_msg({"type": "hello", "view": "v", "server_root": str(mp4.parent)}, [])
    w._handle_custom_msg({"type": "need-bytes", "view": "v"}, [])
    assert [m["mode"] for m, _ in sent if m["type"] == "source"] == ["files", "kernel"]


def test_an_unplayable_original_plays_the_copy_then_an_h264_transcode(sent, mp4, tmp_path):
    avi = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(20):
        writer.write(np.full((48, 64, 3), 12 * i, np.uint8))
    writer.release()
    w = _widget(avi, tmp_path, playable=mp4, transcode_dir=tmp_path / "copies")
    w._handle_custom_msg({"type": "hello", "view": "v", "server_root": str(tmp_path.parent.parent)}, [])
    first = [m for m, _ in sent if m["type"] == "source"][-1]
    assert first["kind"] == "playable" and first["name"] == "clip.mp4"
    assert "the original clip.avi does not play in browsers (mjpeg video in .avi)" in first["note"]
    # the page says the copy failed too: next, the H.264 transcode
    w._handle_custom_msg({"type": "video-error", "view": "v", "attempt": first["attempt"]}, [])
    second = [m for m, _ in sent if m["type"] == "source"][-1]
    assert second["kind"] == "transcoded" and second["name"].endswith(".mp4")
    copy = next((tmp_path / "copies").glob("*.mp4"))
    from actionrec.export import browser_playability

    assert browser_playability(copy).playable and browser_playability(copy).codec == "h264"
    # a stale error (of the first attempt, from a second view) does not skip the transcode
    w._handle_custom_msg({"type": "video-error", "view": "v2", "attempt": first["attempt"]}, [])
    assert [m for m, _ in sent if m["type"] == "source"][-1].get("kind") == "transcoded"


def test_save_report_writes_the_report_of_what_plays(sent, mp4, tmp_path):
    w = _widget(mp4, tmp_path)
    w._handle_custom_msg({"type": "save-report", "view": "v"}, [])
    ((msg, _),) = [s for s in sent if s[0]["type"] == "report"]
    report = tmp_path / "reports" / "clip.html"
    assert msg["path"] == str(report) and report.is_file()
    assert "data:video/mp4;base64," in report.read_text()  # the clip is outside reports/, and small


def test_missing_video_is_refused_with_the_fix(tmp_path, mp4):
    with pytest.raises(FileNotFoundError, match=r"video='.*nothing.mp4' is not a file; pass an existing video or None"):
        tw.TimelineWidget(synthetic_timeline(4), video=tmp_path / "nothing.mp4")


def test_the_server_root_is_inferred_from_the_page_path_when_the_page_does_not_state_it(tmp_path):
    """Notebook 7 states no serverRoot: a kernel in DIR/project/sub for page project/sub/NB.ipynb is rooted at DIR."""
    from actionrec.notebook.timeline_widget import _root_from_page

    kernel_dir = tmp_path / "project" / "sub"
    kernel_dir.mkdir(parents=True)
    assert _root_from_page("project/sub/tutorial.ipynb", kernel_dir) == tmp_path
    assert _root_from_page("tutorial.ipynb", kernel_dir) == kernel_dir  # a notebook at the root
    assert _root_from_page("elsewhere/tutorial.ipynb", kernel_dir) is None  # a remote kernel: through the kernel
    assert _root_from_page("", kernel_dir) is None and _root_from_page("tree", kernel_dir) is None
