"""ChunkedUpload, kernel side: the page's messages are fed to the handler directly (no browser)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actionrec import settings
from actionrec.notebook import upload
from actionrec.notebook.upload import ChunkedUpload, format_size, max_upload_bytes, safe_name

CHUNK = 1024  # small chunks: a few-KB test clip still takes several


class Page:
    """Plays the browser's side of the protocol against one widget and records the replies."""

    def __init__(self, widget: ChunkedUpload) -> None:
        self.widget = widget
        self.replies: list[dict] = []
        widget._reply = self.replies.append  # what the kernel would send to the page

    def send(self, content: dict, buffers: list | None = None) -> dict | None:
        before = len(self.replies)
        self.widget._on_page_msg(self.widget, content, buffers or [])
        return self.replies[-1] if len(self.replies) > before else None

    def upload(self, name: str, data: bytes, *, upload_id: str = "u1", chunk: int = CHUNK) -> dict | None:
        reply = self.send({"type": "start", "id": upload_id, "name": name, "size": len(data)})
        if reply["type"] != "ready":
            return reply
        for seq, offset in enumerate(range(0, len(data), chunk)):
            piece = data[offset : offset + chunk]
            reply = self.send({"type": "chunk", "id": upload_id, "seq": seq, "offset": offset}, [piece])
            if reply["type"] != "ack":
                return reply
            assert reply == {"type": "ack", "id": upload_id, "seq": seq, "received": offset + len(piece)}
        return self.send({"type": "end", "id": upload_id, "size": len(data)})


@pytest.fixture
def video_bytes(video_factory) -> bytes:
    return video_factory("upload.mp4", duration_s=0.5, size_wh=(160, 120)).read_bytes()


@pytest.fixture
def upload_dir(tmp_path) -> Path:
    return tmp_path / "uploads"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_video_arrives_in_chunks_byte_identical(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)
    got: list[Path] = []
    widget.on_upload(got.append)
    page = Page(widget)
    assert len(video_bytes) > 3 * CHUNK  # several chunks

    reply = page.upload("clip.mp4", video_bytes)

    assert reply == {"type": "done", "id": "u1", "name": "clip.mp4"}
    assert widget.state == "done" and widget.progress == 1.0
    assert widget.path == upload_dir / "clip.mp4" and got == [widget.path]
    assert widget.path.read_bytes() == video_bytes
    assert files_in(upload_dir) == ["clip.mp4"]  # no .part left
    assert "clip.mp4 uploaded" in widget.message


@pytest.mark.skipif(os.name != "posix", reason="folder modes are POSIX")
def test_the_uploads_folder_the_widget_creates_is_private(tmp_path, video_bytes):
    folder = tmp_path / "data" / "uploads"
    Page(ChunkedUpload(upload_dir=folder)).upload("clip.mp4", video_bytes)
    assert folder.stat().st_mode & 0o777 == 0o700 and (folder / "clip.mp4").read_bytes() == video_bytes


def test_progress_and_part_file_while_uploading(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "clip.mp4", "size": len(video_bytes)})
    page.send({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [video_bytes[:CHUNK]])
    assert widget.state == "uploading"
    assert widget.progress == pytest.approx(CHUNK / len(video_bytes))
    # Never under the final name before the end, and under a name no upload or user file gets
    # (final names never start with a dot), so the stale-part sweep can never take a user's file.
    (part,) = files_in(upload_dir)
    assert re.fullmatch(r"\.upload-[0-9a-f]{32}\.part", part), part


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x.mp4", "x.mp4"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\me\\clip.MP4", "clip.MP4"),
        ("a\x00b\x1f\nc.mp4", "abc.mp4"),
        ("", "upload"),
        ("..", "upload"),
        (".hidden.mkv", "hidden.mkv"),
        ("con.mp4", "_con.mp4"),
        ("x" * 300 + ".mp4", "x" * 116 + ".mp4"),
    ],
)
def test_hostile_names_become_safe_base_names(name, expected):
    assert safe_name(name) == expected


def test_long_multibyte_names_fit_the_file_system():
    name = safe_name("é" * 300 + ".webm")
    assert name.endswith(".webm") and len(name.encode()) <= 200


@pytest.mark.parametrize("name", ["../../evil.mp4", "/tmp/abs.mp4", "sub/dir/../x.mp4", "\x01\x02", "y" * 300])
def test_hostile_names_land_inside_the_upload_dir(upload_dir, video_bytes, name):
    widget = ChunkedUpload(upload_dir=upload_dir)
    assert Page(widget).upload(name, video_bytes)["type"] == "done"
    assert widget.path.parent == upload_dir
    assert widget.path.read_bytes() == video_bytes
    assert files_in(upload_dir) == [widget.path.name]


def test_a_taken_name_gets_a_suffix_and_nothing_is_overwritten(upload_dir, video_bytes):
    upload_dir.mkdir()
    (upload_dir / "clip.mp4").write_bytes(b"the user's own file")
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.upload("clip.mp4", video_bytes, upload_id="a")
    first = widget.path
    page.upload("clip.mp4", video_bytes, upload_id="b")
    assert (first.name, widget.path.name) == ("clip-1.mp4", "clip-2.mp4")
    assert (upload_dir / "clip.mp4").read_bytes() == b"the user's own file"


def test_oversize_is_refused_from_the_announced_size_before_writing(upload_dir):
    widget = ChunkedUpload(upload_dir=upload_dir)  # default limit: 2 GB
    page = Page(widget)
    reply = page.send({"type": "start", "id": "u1", "name": "video.mp4", "size": int(3.1 * 1024**3)})
    expected = "video.mp4 is 3.1 GB; the upload limit is 2.0 GB; set AR_MAX_UPLOAD_MB or pick a shorter clip"
    assert reply == {"type": "error", "id": "u1", "message": expected}
    assert (widget.state, widget.message, widget.path) == ("error", expected, None)
    assert files_in(upload_dir) == []  # not even a .part


def test_more_bytes_than_announced_are_refused_while_writing(upload_dir):
    widget = ChunkedUpload(upload_dir=upload_dir, max_bytes=1000)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "v.mp4", "size": 600})
    page.send({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [b"\0" * 500])
    reply = page.send({"type": "chunk", "id": "u1", "seq": 1, "offset": 500}, [b"\0" * 500])
    assert reply["type"] == "error"
    assert widget.state == "error"
    assert widget.message.startswith("v.mp4 sent more than the 600 bytes it announced (limit 1000 bytes)")
    assert files_in(upload_dir) == []


def test_limit_comes_from_the_environment(monkeypatch, upload_dir):
    assert ChunkedUpload(upload_dir=upload_dir).max_bytes == 2 * 1024**3 == max_upload_bytes()  # the default
    monkeypatch.setenv("AR_MAX_UPLOAD_MB", "1.5")
    assert ChunkedUpload(upload_dir=upload_dir).max_bytes == int(1.5 * 1024**2)
    for raw in ("lots", "0", "inf"):
        monkeypatch.setenv("AR_MAX_UPLOAD_MB", raw)
        with pytest.raises(ValueError, match=rf"AR_MAX_UPLOAD_MB='{raw}' is not a positive number of megabytes"):
            max_upload_bytes()
        with pytest.raises(
            ValueError, match=r"set e\.g\. AR_MAX_UPLOAD_MB=500, or unset it for the default \(2048 MB\)"
        ):
            ChunkedUpload(upload_dir=upload_dir)


def test_the_limit_is_the_one_settings_and_the_doctor_use():
    assert max_upload_bytes is settings.max_upload_bytes
    assert upload.ENV_MAX_UPLOAD_MB == settings.ENV_MAX_UPLOAD_MB == "AR_MAX_UPLOAD_MB"
    assert upload.DEFAULT_MAX_BYTES == settings.DEFAULT_MAX_UPLOAD_BYTES == 2 * 1024**3


def test_a_non_video_is_deleted_and_explained(upload_dir):
    widget = ChunkedUpload(upload_dir=upload_dir)
    reply = Page(widget).upload("notes.txt", b"shopping list: milk, eggs\n" * 200)
    assert reply["type"] == "error"
    assert widget.state == "error" and widget.path is None
    assert widget.message.startswith("notes.txt is not a video OpenCV/FFmpeg can decode: ")
    assert ".part" not in widget.message
    assert files_in(upload_dir) == []


def test_a_text_file_named_mp4_is_not_a_video_either(upload_dir):
    widget = ChunkedUpload(upload_dir=upload_dir)
    Page(widget).upload("holiday.mp4", b"not really a video" * 100)
    assert widget.message.startswith("holiday.mp4 is not a video OpenCV/FFmpeg can decode: ")
    assert files_in(upload_dir) == []


def test_chunks_out_of_order_fail_and_leave_nothing(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "clip.mp4", "size": len(video_bytes)})
    reply = page.send({"type": "chunk", "id": "u1", "seq": 1, "offset": CHUNK}, [video_bytes[CHUNK : 2 * CHUNK]])
    assert reply["type"] == "error"
    assert "chunk 1 at byte 1024 arrived, but chunk 0 at byte 0 was expected" in widget.message
    assert files_in(upload_dir) == []
    # Late chunks of the failed upload are ignored, not written.
    assert page.send({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [video_bytes[:CHUNK]]) is None
    assert files_in(upload_dir) == []


def test_a_cut_transfer_is_not_kept(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "clip.mp4", "size": len(video_bytes)})
    page.send({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [video_bytes[:CHUNK]])
    page.send({"type": "end", "id": "u1", "size": len(video_bytes)})
    assert widget.state == "error"
    total = len(video_bytes)
    assert widget.message == f"clip.mp4 ended after {CHUNK} of {total} bytes; the transfer was cut: pick it again"
    assert files_in(upload_dir) == []


@pytest.mark.parametrize(
    ("reason", "state", "message"),
    [
        ("", "idle", "upload of clip.mp4 cancelled; nothing was saved"),
        ("NotReadableError: file changed", "error", "upload of clip.mp4 failed in the browser: NotReadableError"),
    ],
)
def test_an_aborted_upload_removes_the_part_file(upload_dir, video_bytes, reason, state, message):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "clip.mp4", "size": len(video_bytes)})
    page.send({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [video_bytes[:CHUNK]])
    page.send({"type": "abort", "id": "u1", "reason": reason})
    assert widget.state == state and widget.message.startswith(message)
    assert files_in(upload_dir) == []


def test_a_new_pick_replaces_an_unfinished_upload(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "old", "name": "first.mp4", "size": len(video_bytes)})
    page.send({"type": "chunk", "id": "old", "seq": 0, "offset": 0}, [video_bytes[:CHUNK]])
    assert page.upload("second.mp4", video_bytes, upload_id="new")["type"] == "done"
    assert files_in(upload_dir) == ["second.mp4"]


def test_empty_files_are_refused(upload_dir):
    widget = ChunkedUpload(upload_dir=upload_dir)
    reply = Page(widget).send({"type": "start", "id": "u1", "name": "empty.mp4", "size": 0})
    assert reply["type"] == "error"
    assert widget.message == "empty.mp4 is empty (size 0); pick a video file with content"


def test_a_failing_callback_is_shown_not_lost(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)

    def broken(path: Path) -> None:
        raise RuntimeError("analysis crashed")

    widget.on_upload(broken)
    Page(widget).upload("clip.mp4", video_bytes)
    assert widget.state == "error"
    assert widget.message == "clip.mp4 uploaded, but the on_upload callback failed: RuntimeError: analysis crashed"
    assert (upload_dir / "clip.mp4").read_bytes() == video_bytes  # the upload itself is kept


def test_a_write_error_is_shown(upload_dir, video_bytes):
    upload_dir.parent.mkdir(parents=True, exist_ok=True)
    upload_dir.write_text("a file where the folder should be")
    widget = ChunkedUpload(upload_dir=upload_dir)
    reply = Page(widget).send({"type": "start", "id": "u1", "name": "clip.mp4", "size": len(video_bytes)})
    assert reply["type"] == "error"
    assert widget.state == "error" and widget.message.startswith("could not write the upload: ")


def test_default_folder_is_the_project_uploads_folder():
    from actionrec import settings

    widget = ChunkedUpload()
    assert widget.upload_dir == settings.data_dir("uploads")
    assert (widget.state, widget.message) == ("idle", "pick a video file (up to 2.0 GB)")


def test_sizes_read_naturally():
    assert [format_size(n) for n in (512, 2048, 12 * 1024**2, int(3.1 * 1024**3))] == [
        "512 bytes",
        "2.0 KB",
        "12.0 MB",
        "3.1 GB",
    ]


def test_options_are_checked():
    with pytest.raises(ValueError, match=r"max_bytes \(0\) and chunk_bytes \(1048576\) must be positive"):
        ChunkedUpload(max_bytes=0)
    assert os.fspath(ChunkedUpload(max_bytes=10).accept).startswith("video/*")


def open_handles_under(folder: Path) -> list[str]:
    """This process's open file descriptors pointing into ``folder`` (Linux)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc/self/fd to see open handles (Linux)")
    targets = []
    for fd in fds.iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:
            continue
    return [t for t in targets if t.startswith(str(folder))]


def test_closing_the_widget_discards_the_part_file_and_its_handle(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "clip.mp4", "size": len(video_bytes)})
    page.send({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [video_bytes[:CHUNK]])
    assert len(files_in(upload_dir)) == 1 and len(open_handles_under(upload_dir)) == 1

    widget.close()

    assert files_in(upload_dir) == []
    assert open_handles_under(upload_dir) == []
    # A chunk still in flight from the page writes nothing.
    assert page.send({"type": "chunk", "id": "u1", "seq": 1, "offset": CHUNK}, [video_bytes[CHUNK:]]) is None
    assert files_in(upload_dir) == []


def test_an_unfinished_upload_is_deleted_when_the_kernel_exits(upload_dir, tmp_path):
    """A kernel shut down or restarted mid-upload (the widget never closed) leaves no part file."""
    script = tmp_path / "kernel.py"
    script.write_text(
        "import sys\n"
        "from actionrec.notebook.upload import ChunkedUpload\n"
        "widget = ChunkedUpload(upload_dir=sys.argv[1])\n"
        "widget._reply = lambda content: print(content['type'], flush=True)\n"
        "widget._on_page_msg(widget, {'type': 'start', 'id': 'u1', 'name': 'clip.mp4', 'size': 5000}, [])\n"
        "widget._on_page_msg(widget, {'type': 'chunk', 'id': 'u1', 'seq': 0, 'offset': 0}, [b'x' * 1000])\n"
        "print(len(list(widget.upload_dir.iterdir())), 'file(s)', flush=True)\n"
    )
    env = dict(os.environ)  # conftest: only temporary AR_DATA_DIR/AR_CACHE_DIR
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(script), str(upload_dir)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ready", "ack", "1", "file(s)"]  # the part existed mid-upload
    assert files_in(upload_dir) == []  # and is gone once the process ended


def test_stale_part_files_are_removed_when_a_new_widget_starts(upload_dir):
    upload_dir.mkdir()
    now = time.time()
    hours = 3600.0

    def make(name: str, age_h: float) -> Path:
        p = upload_dir / name
        p.write_bytes(b"partial")
        os.utime(p, (now - age_h * hours, now - age_h * hours))
        return p

    stale = make("." + "upload-" + "a" * 32 + ".part", 7)  # a killed kernel's part
    fresh = make("." + "upload-" + "b" * 32 + ".part", 1)  # maybe another kernel's upload in progress
    users = [make("clip.mp4.part", 30), make("notes.part", 30), make(".upload-mine.part", 30), make("old.mp4", 30)]

    ChunkedUpload(upload_dir=upload_dir, clock=lambda: now)

    assert not stale.exists()
    assert fresh.exists() and all(p.exists() for p in users)  # only parts this widget could have made

    ChunkedUpload(upload_dir=upload_dir, clock=lambda: now + 4.9 * hours)  # 5.9 h old: kept
    assert fresh.exists()
    ChunkedUpload(upload_dir=upload_dir, clock=lambda: now + 5 * hours)  # 6 h old: stale
    assert not fresh.exists()
    assert all(p.exists() for p in users)


def test_the_page_cannot_lift_the_limit(upload_dir):
    widget = ChunkedUpload(upload_dir=upload_dir, max_bytes=1000)
    page = Page(widget)
    widget.set_state({"max_bytes": 10**12})  # what a rewritten front end can send

    reply = page.send({"type": "start", "id": "u1", "name": "big.mp4", "size": 5000})

    assert reply["type"] == "error"
    assert reply["message"] == (
        "big.mp4 is 4.9 KB; the upload limit is 1000 bytes; set AR_MAX_UPLOAD_MB or pick a shorter clip"
    )
    assert widget.max_bytes == 1000
    assert files_in(upload_dir) == []


def test_the_page_cannot_lift_the_limit_mid_upload(upload_dir):
    widget = ChunkedUpload(upload_dir=upload_dir, max_bytes=1000, chunk_bytes=600)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "v.mp4", "size": 1000})
    widget.set_state({"max_bytes": 10**12, "chunk_bytes": 10**9})
    reply = page.send({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [b"\0" * 2000])
    assert reply["type"] == "error"
    assert reply["message"] == "chunk 0 of v.mp4 holds 2000 bytes; chunks hold 1 to 600 bytes; pick the file again"
    assert files_in(upload_dir) == []


def test_the_page_cannot_rename_the_upload_mid_way(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "clip.mp4", "size": len(video_bytes)})
    widget.set_state({"filename": "../../evil.sh"})
    for seq, offset in enumerate(range(0, len(video_bytes), CHUNK)):
        page.send({"type": "chunk", "id": "u1", "seq": seq, "offset": offset}, [video_bytes[offset : offset + CHUNK]])
    reply = page.send({"type": "end", "id": "u1", "size": len(video_bytes)})
    assert reply == {"type": "done", "id": "u1", "name": "clip.mp4"}
    assert files_in(upload_dir) == ["clip.mp4"]
    assert widget.message.startswith("clip.mp4 uploaded (")


def test_a_second_start_tells_the_first_upload_it_was_replaced(upload_dir, video_bytes):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "old", "name": "first.mp4", "size": len(video_bytes)})
    page.send({"type": "chunk", "id": "old", "seq": 0, "offset": 0}, [video_bytes[:CHUNK]])

    page.send({"type": "start", "id": "new", "name": "second.mp4", "size": len(video_bytes)})

    notice, ready = page.replies[-2:]
    expected = "the upload of first.mp4 was replaced by a new upload (second.mp4); nothing of it was saved"
    assert notice == {"type": "error", "id": "old", "message": expected, "replaced": True}
    assert ready == {"type": "ready", "id": "new"}
    assert len(files_in(upload_dir)) == 1  # the first part is gone, the second one exists
    # The first page's next chunk is answered the same way (it may not have been waiting just then).
    late = page.send({"type": "chunk", "id": "old", "seq": 1, "offset": CHUNK}, [video_bytes[CHUNK : 2 * CHUNK]])
    assert late == notice
    assert widget.state == "uploading"  # the new upload goes on
    assert page.upload("second.mp4", video_bytes, upload_id="new2")["type"] == "done"
    assert files_in(upload_dir) == ["second.mp4"]


@pytest.mark.parametrize(
    ("content", "buffers", "message"),
    [
        ({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [], "chunk 0 came with 0 binary buffers, not one"),
        ({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, ["text"], "chunk 0 came with a str, not bytes"),
        ({"type": "chunk", "id": "u1", "seq": 0, "offset": 0}, [b""], "chunk 0 of v.mp4 holds 0 bytes"),
        ({"type": "chunk", "id": "u1", "seq": True, "offset": 0}, [b"x"], "chunk True at byte 0 arrived"),
        ({"type": "chunk", "id": "u1", "seq": "0" * 99, "offset": 0}, [b"x"], "chunk '000000000000000000000000000"),
        ({"type": "end", "id": "u1", "size": "100"}, [], "v.mp4 ended after 0 of 100 bytes"),
    ],
)
def test_malformed_messages_are_refused_with_a_clear_error(upload_dir, content, buffers, message):
    widget = ChunkedUpload(upload_dir=upload_dir)
    page = Page(widget)
    page.send({"type": "start", "id": "u1", "name": "v.mp4", "size": 100})
    reply = page.send(content, buffers)
    assert reply["type"] == "error" and reply["message"].startswith(message), reply
    assert not reply["message"].startswith("upload failed:")  # not an internal error
    assert files_in(upload_dir) == []


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ({"name": ["x"], "size": 10}, "the page sent a file name of type list, not a string"),
        ({"name": "v.mp4", "size": True}, "v.mp4 is empty (size True)"),
        ({"name": "a\ud800b.mp4", "size": -1}, "ab.mp4 is empty (size -1)"),
        ({"id": 7, "name": "v.mp4", "size": 10}, "the page sent no usable upload id"),
    ],
)
def test_malformed_starts_are_refused_with_a_clear_error(upload_dir, start, message):
    widget = ChunkedUpload(upload_dir=upload_dir)
    reply = Page(widget).send({"type": "start", "id": "u1", **start})
    assert reply["type"] == "error" and reply["message"].startswith(message), reply
    reply["message"].encode()  # no lone surrogate goes back to the page (the kernel could not send it)
    widget.message.encode() and widget.filename.encode()
    assert files_in(upload_dir) == []


@pytest.mark.parametrize("content", ["start", ["start"], None, 42])
def test_messages_that_are_not_objects_are_ignored(upload_dir, content):
    widget = ChunkedUpload(upload_dir=upload_dir)
    assert Page(widget).send(content) is None
    assert widget.state == "idle"
