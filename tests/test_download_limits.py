"""Video URL downloads are bounded: a size limit counted on the bytes received, free disk space
kept, and a body of unannounced length probed before it is cached (issue 12, item 2).

Every entry point that takes a URL (``open_video``, ``Recognizer.encode``/``analyze``,
``export_source``, the CLI's ``analyze``, the notebook's ``clip_for``) goes through
``resolve_source`` and gets the same limit.
"""

import collections
import os
import re
import shutil

import pytest

from actionrec import settings
from actionrec.errors import VideoOpenError
from actionrec.video import open_video
from tests.support.cli import run_actionrec

MB = 1024**2
NOISE = os.urandom(3 * MB)  # not a video; 3 MB, over a 1 MB limit


def files_in(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def clip_bytes(video_factory):
    return video_factory("dl_limits.mp4", fps=10, duration_s=1.0, size_wh=(64, 48)).read_bytes()


# -- the limit, counted on the bytes received ------------------------------------------------------


@pytest.mark.parametrize("fault", ["chunked", "no_length"])
def test_a_body_without_content_length_stops_at_the_limit_and_leaves_nothing(http_server, tmp_path, fault):
    url = http_server.add(f"v/{fault}.mp4", NOISE)
    http_server.set_fault(f"v/{fault}.mp4", fault)
    with pytest.raises(VideoOpenError) as caught:
        open_video(url, download_dir=tmp_path, progress=False, max_download_mb=1)
    message = str(caught.value)
    assert message.startswith(f"cannot download {url}: it is over the limit of 1.0 MB: stopped after receiving 1.")
    assert "(the server announced no size), and the partial download was removed" in message
    assert "--max-download-mb / AR_MAX_DOWNLOAD_MB" in message
    assert files_in(tmp_path) == []


def test_an_endless_stream_stops_at_the_limit(http_server, tmp_path):
    url = http_server.add("live/cam.mjpg", os.urandom(256 * 1024))
    http_server.set_fault("live/cam.mjpg", "endless")
    with pytest.raises(VideoOpenError, match=r"over the limit of 2\.0 MB: stopped after receiving 2\.\d MB"):
        open_video(url, download_dir=tmp_path, progress=False, max_download_mb=2)
    assert files_in(tmp_path) == []
    assert len(http_server.requests) == 1, "a limit is final: no retry downloads it again"


def test_an_announced_size_over_the_limit_is_refused_before_any_byte(http_server, tmp_path):
    url = http_server.add("v/big.mp4", NOISE)
    with pytest.raises(VideoOpenError, match=r"it is 3\.0 MB, over the limit of 1\.0 MB; raise the limit"):
        open_video(url, download_dir=tmp_path, progress=False, max_download_mb=1)
    assert files_in(tmp_path) == []


def test_the_default_limit_is_ar_max_download_mb_then_the_upload_limit(http_server, tmp_path, monkeypatch):
    url = http_server.add("v/default.mp4", NOISE)
    http_server.set_fault("v/default.mp4", "chunked")
    for env, value in (("AR_MAX_DOWNLOAD_MB", "1"), ("AR_MAX_UPLOAD_MB", "2")):
        with monkeypatch.context() as m:
            m.setenv(env, value)
            with pytest.raises(VideoOpenError, match=rf"over the limit of {value}\.0 MB"):
                open_video(url, download_dir=tmp_path, progress=False)
        assert files_in(tmp_path) == []
    monkeypatch.setenv("AR_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("AR_MAX_DOWNLOAD_MB", "1")
    # The keyword wins: 3 MB are under 4 MB, so the whole body arrives (and the probe refuses the noise).
    with pytest.raises(VideoOpenError, match=r"the server sent 3\.0 MB without announcing its length"):
        open_video(url, download_dir=tmp_path, progress=False, max_download_mb=4)


def test_download_url_on_its_own_takes_the_default_limit(http_server, tmp_path, monkeypatch):
    from actionrec.download import download_url
    from actionrec.errors import DownloadError

    url = http_server.add("v/default.bin", NOISE)  # 3 MB, announced
    monkeypatch.setenv("AR_MAX_DOWNLOAD_MB", "1")
    with pytest.raises(DownloadError, match=r"it is 3\.0 MB, over the limit of 1\.0 MB"):
        download_url(url, dest_dir=tmp_path, progress=False)
    assert files_in(tmp_path) == []


def test_a_compressed_body_counts_what_it_decodes_to(http_server, tmp_path, clip_bytes):
    """Content-Length of a gzip body is its compressed size: neither a bound nor a completeness check."""
    url = http_server.add("v/gz.mp4", clip_bytes)
    http_server.set_fault("v/gz.mp4", "gzip")
    with open_video(url, download_dir=tmp_path, progress=False) as video:
        assert len(list(video)) == 10
    (cached,) = tmp_path.iterdir()
    assert cached.read_bytes() == clip_bytes, "the download was cut at the compressed size"

    bomb = http_server.add("v/bomb.mp4", bytes(8 * MB))  # 8 MB of zeros: 8 KB compressed
    http_server.set_fault("v/bomb.mp4", "gzip")
    with pytest.raises(VideoOpenError, match=r"over the limit of 1\.0 MB: stopped after receiving 1\.\d MB"):
        open_video(bomb, download_dir=tmp_path, progress=False, max_download_mb=1)
    assert files_in(tmp_path) == [cached.name]


def test_max_download_bytes_defaults_and_clear_errors(monkeypatch):
    assert settings.max_download_bytes() == settings.max_upload_bytes() == 2 * 1024**3
    assert settings.max_download_bytes(1.5) == int(1.5 * MB)
    monkeypatch.setenv("AR_MAX_DOWNLOAD_MB", "lots")
    with pytest.raises(ValueError, match=r"AR_MAX_DOWNLOAD_MB='lots' is not a positive number of megabytes; set e"):
        settings.max_download_bytes()
    for bad in (0, -1, float("nan"), float("inf"), "x"):
        with pytest.raises(ValueError, match=r"max_download_mb=.* is not a positive number of megabytes"):
            settings.max_download_bytes(bad)


# -- free disk space ----------------------------------------------------------------------------------


def fake_free_space(monkeypatch, *free_bytes):
    """``shutil.disk_usage`` reports these free sizes in turn (the last one from then on)."""
    real = shutil.disk_usage
    answers = collections.deque(free_bytes)
    calls = []

    def disk_usage(path):
        usage = real(path)
        free = answers.popleft() if len(answers) > 1 else answers[0]
        calls.append(free)
        return usage._replace(free=free)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    return calls


def test_too_little_free_space_refuses_to_start(http_server, tmp_path, monkeypatch, clip_bytes):
    url = http_server.add("v/clip.mp4", clip_bytes)
    fake_free_space(monkeypatch, 100 * MB)
    with pytest.raises(VideoOpenError) as caught:
        open_video(url, download_dir=tmp_path, progress=False, max_download_mb=64)
    assert str(caught.value) == (
        f"cannot download {url}: {tmp_path} has 100.0 MB free, but the rest of this download may need up to "
        f"{len(clip_bytes) / 1024:.1f} KB and 256.0 MB must stay free; free some space, download into another "
        "folder (AR_DATA_DIR), or lower the limit (--max-download-mb / AR_MAX_DOWNLOAD_MB)"
    )
    assert files_in(tmp_path) == []


def test_exactly_the_rest_plus_the_margin_free_is_enough(http_server, tmp_path, monkeypatch):
    from actionrec.download import FREE_SPACE_MARGIN_BYTES, download_url

    body = os.urandom(100_000)
    url = http_server.add("v/exact.bin", body)
    fake_free_space(monkeypatch, len(body) + FREE_SPACE_MARGIN_BYTES)
    path = download_url(url, dest_dir=tmp_path, progress=False, max_bytes=64 * MB)
    assert path.read_bytes() == body


def test_the_free_space_is_checked_every_4_mb_against_what_is_left(http_server, tmp_path, monkeypatch):
    from actionrec.download import FREE_SPACE_CHECK_BYTES, FREE_SPACE_MARGIN_BYTES, download_url

    body = os.urandom(3 * FREE_SPACE_CHECK_BYTES)
    url = http_server.add("v/twelve.bin", body)
    rests = [len(body) - k * FREE_SPACE_CHECK_BYTES for k in range(4)]  # at the start, after 4, 8 and 12 MB
    calls = fake_free_space(monkeypatch, *(rest + FREE_SPACE_MARGIN_BYTES for rest in rests))  # just enough
    assert download_url(url, dest_dir=tmp_path, progress=False, max_bytes=64 * MB).read_bytes() == body
    assert calls == [rest + FREE_SPACE_MARGIN_BYTES for rest in rests]  # each check once, none between


def test_a_resumed_download_needs_room_for_its_rest_only(http_server, tmp_path, monkeypatch):
    from actionrec.download import FREE_SPACE_MARGIN_BYTES, download_url

    body = os.urandom(9 * MB)  # the resumed attempt checks again after 4 MB of its own
    url = http_server.add("v/resumed.mp4", body)
    http_server.set_fault("v/resumed.mp4", "drop_once")  # half arrives, then a resume
    real = shutil.disk_usage
    asked = []

    def just_enough(path):  # the rest of the file (what the part lacks) plus the margin, not a byte more
        parts = list(tmp_path.glob("*.part"))
        have = parts[0].stat().st_size if parts else 0
        asked.append(have)
        return real(path)._replace(free=len(body) - have + FREE_SPACE_MARGIN_BYTES)

    monkeypatch.setattr(shutil, "disk_usage", just_enough)
    path = download_url(url, dest_dir=tmp_path, progress=False, max_bytes=64 * MB, sleep=lambda s: None)
    assert path.read_bytes() == body
    assert asked[0] == 0 and min(asked[1:]) > 0 and max(asked) < len(body)  # checked again when resuming


@pytest.mark.parametrize("short_bytes", [0, 1])
def test_the_check_after_the_last_byte_wants_the_margin_and_nothing_more(
    http_server, tmp_path, monkeypatch, short_bytes
):
    """The free space is checked again after each 4 MB: after the last byte of a 4 MB body the rest is 0 bytes."""
    from actionrec.download import FREE_SPACE_CHECK_BYTES, FREE_SPACE_MARGIN_BYTES, download_url
    from actionrec.errors import DownloadError

    body = os.urandom(FREE_SPACE_CHECK_BYTES)
    url = http_server.add("v/four.bin", body)
    calls = fake_free_space(monkeypatch, len(body) + FREE_SPACE_MARGIN_BYTES, FREE_SPACE_MARGIN_BYTES - short_bytes)
    if short_bytes == 0:  # the margin is free: the download completes
        assert download_url(url, dest_dir=tmp_path, progress=False, max_bytes=64 * MB).read_bytes() == body
    else:
        with pytest.raises(DownloadError) as caught:
            download_url(url, dest_dir=tmp_path, progress=False, max_bytes=64 * MB)
        assert "has 256.0 MB free, but the rest of this download may need up to 0 B and 256.0 MB" in str(caught.value)
        assert files_in(tmp_path) == []
    assert len(calls) == 2  # at the start, and after the last byte


def test_the_announced_size_not_the_limit_is_what_must_fit(http_server, tmp_path, monkeypatch, clip_bytes):
    url = http_server.add("v/small.mp4", clip_bytes)
    fake_free_space(monkeypatch, 257 * MB)  # far less than the 2 GB default limit + 256 MB
    with open_video(url, download_dir=tmp_path, progress=False) as video:
        assert len(list(video)) == 10


def test_free_space_falling_during_the_download_stops_it(http_server, tmp_path, monkeypatch):
    url = http_server.add("live/radio.mp3", os.urandom(MB))
    http_server.set_fault("live/radio.mp3", "endless")
    calls = fake_free_space(monkeypatch, 10 * 1024 * MB, 10 * 1024 * MB, 300 * MB)
    with pytest.raises(VideoOpenError, match=r"stopped downloading .* after \d+\.\d MB: .* has 300\.0 MB free"):
        open_video(url, download_dir=tmp_path, progress=False, max_download_mb=512)
    assert len(calls) == 3 and http_server.endless_sent < http_server.endless_max_bytes
    assert files_in(tmp_path) == []


# -- a body that just stops must be a video before it is cached ------------------------------------


def test_a_body_of_unannounced_length_that_is_no_video_is_not_cached(http_server, tmp_path):
    url = http_server.add("v/page.mp4", b"\x00not a video\x00" * 1000)
    http_server.set_fault("v/page.mp4", "no_length")
    with pytest.raises(VideoOpenError) as caught:
        open_video(url, download_dir=tmp_path, progress=False)
    assert str(caught.value).startswith(
        f"cannot use {url}: the server sent 12.7 KB without announcing its length, so a dropped connection "
        "cannot be told from the end, and what arrived is not usable ("
    )
    assert str(caught.value).endswith("); nothing was kept. Run again, or download the file yourself and pass its path")
    assert files_in(tmp_path) == []


def test_a_video_cut_short_without_announced_length_is_not_cached(http_server, tmp_path, clip_bytes):
    url = http_server.add("v/cut.mp4", clip_bytes[: len(clip_bytes) // 2])  # the index is at the end
    http_server.set_fault("v/cut.mp4", "no_length")
    with pytest.raises(VideoOpenError, match="without announcing its length"):
        open_video(url, download_dir=tmp_path, progress=False)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("fault", ["chunked", "no_length"])
def test_a_whole_video_of_unannounced_length_is_cached_once(http_server, tmp_path, clip_bytes, fault):
    url = http_server.add(f"v/whole-{fault}.mp4", clip_bytes)
    http_server.set_fault(f"v/whole-{fault}.mp4", fault)
    for _ in range(2):
        with open_video(url, download_dir=tmp_path, progress=False) as video:
            assert len(list(video)) == 10 and video.info.source == url
    assert len(http_server.requests) == 1
    (cached,) = tmp_path.iterdir()
    assert cached.read_bytes() == clip_bytes


# -- every entry point gets the limit -----------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    from actionrec.models.files import resolve_model
    from actionrec.models.runtime import compile_models

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


def over_limit_url(http_server, name):
    url = http_server.add(f"v/{name}.mp4", NOISE)
    http_server.set_fault(f"v/{name}.mp4", "chunked")
    return url


def test_recognizer_encode_and_analyze_take_the_limit(models, http_server, monkeypatch):
    from actionrec.pipeline import Recognizer

    recognizer = Recognizer(models)
    url = over_limit_url(http_server, "api")
    with pytest.raises(VideoOpenError, match=r"over the limit of 1\.0 MB"):
        recognizer.encode(url, progress=False, max_download_mb=1)
    with pytest.raises(VideoOpenError, match=r"over the limit of 2\.0 MB"):
        recognizer.analyze(url, progress=False, max_download_mb=2)
    monkeypatch.setenv("AR_MAX_DOWNLOAD_MB", "1")
    with pytest.raises(VideoOpenError, match=r"over the limit of 1\.0 MB"):
        recognizer.analyze(url, progress=False)
    assert files_in(settings.data_dir("downloads")) == []


def test_export_source_takes_the_limit(http_server, tmp_path):
    from actionrec.export.files import export_source
    from tests.test_export import make_timeline

    url = over_limit_url(http_server, "export")
    with pytest.raises(VideoOpenError, match=r"over the limit of 1\.0 MB"):
        export_source(make_timeline(), url, tmp_path / "out", formats="json,mp4", max_download_mb=1)
    assert files_in(tmp_path / "out") == [] and files_in(settings.data_dir("downloads")) == []


def test_clip_for_takes_the_limit(http_server, monkeypatch):
    from actionrec.notebook.session import clip_for

    url = over_limit_url(http_server, "notebook")
    expected = rf"AR_VIDEO='{re.escape(url)}' could not be downloaded: .*limit of 1\.0 MB"
    with pytest.raises(VideoOpenError, match=expected):
        clip_for(url, progress=False, max_download_mb=1)
    monkeypatch.setenv("AR_MAX_DOWNLOAD_MB", "2")
    with pytest.raises(VideoOpenError, match=r"over the limit of 2\.0 MB"):
        clip_for(url, progress=False)
    assert files_in(settings.data_dir("downloads")) == []


def run_cli(*args, data_dir, **env):
    return run_actionrec(*args, env={"AR_DATA_DIR": str(data_dir)} | env, timeout=120)


def test_cli_analyze_max_download_mb_fails_that_input_in_one_line(
    tiny_model_dir, tiny_labels_file, http_server, tmp_path
):
    url = over_limit_url(http_server, "cli")
    model = ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--no-progress", "--no-cache"]
    r = run_cli("analyze", url, *model, "--max-download-mb", "1", data_dir=tmp_path)
    assert r.returncode == 1, r.stderr
    failed = [line for line in r.stderr.splitlines() if line.startswith("FAILED ")]
    assert failed == [line for line in r.stderr.splitlines() if "limit" in line]
    assert failed[0].startswith(f"FAILED {url}: VideoOpenError: cannot download {url}: it is over the limit of 1.0 MB")
    assert "Traceback" not in r.stderr and files_in(tmp_path / "downloads") == []

    r = run_cli("analyze", url, *model, "--max-download-mb", "0", data_dir=tmp_path)
    assert r.returncode == 2 and "--max-download-mb: '0' is not a positive number of megabytes" in r.stderr
