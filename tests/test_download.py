"""Verified fetch against a local server with injected faults."""

import errno

import pytest

from actionrec.download import RemoteFile, download_url, fetch_file, mirror_url
from actionrec.errors import ChecksumMismatchError, DownloadError, OfflineError
from tests.conftest import REPO, sha

DATA = bytes(range(256)) * 4000  # 1 MB, spans several chunks


@pytest.fixture
def remote(http_server):
    url = http_server.add("m/model.bin", DATA)
    return RemoteFile("m/model.bin", url, len(DATA), sha(DATA), "sha384")


def fetch(remote, cache, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("sleep", lambda s: None)
    kw.setdefault("timeout_s", (2, 1))
    return fetch_file(remote, cache_dir=cache, **kw)


def get_url(url, dest, **kw):
    """:func:`download_url` as :func:`fetch` calls fetch_file: quiet, no real sleeps, short timeouts."""
    kw.setdefault("progress", False)
    kw.setdefault("sleep", lambda s: None)
    kw.setdefault("timeout_s", (2, 1))
    return download_url(url, dest_dir=dest, **kw)


def leftovers(cache):
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())


def test_fetch_verifies_and_second_run_touches_no_network(remote, http_server, tmp_path):
    path = fetch(remote, tmp_path)
    assert path.read_bytes() == DATA
    n = len(http_server.requests)
    assert fetch(remote, tmp_path, offline=True) == path
    assert fetch(remote, tmp_path) == path
    assert len(http_server.requests) == n


def test_wrong_bytes_names_file_and_both_hashes_and_leaves_nothing(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "wrong_bytes")
    with pytest.raises(ChecksumMismatchError) as info:
        fetch(remote, tmp_path)
    msg = str(info.value)
    assert "m/model.bin" in msg and remote.url in msg and remote.digest in msg
    bad = sha(bytes((b + 1) % 256 for b in DATA[:4096]) + DATA[4096:])
    assert bad in msg
    assert leftovers(tmp_path) == []


def test_drop_mid_file_resumes_with_range(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "drop_once")
    assert fetch(remote, tmp_path).read_bytes() == DATA
    (ranged,) = http_server.ranged()
    assert ranged[1].startswith("bytes=") and ranged[1] != "bytes=0-"


def test_drop_then_rerun_resumes_from_the_part_file(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "drop_once")
    with pytest.raises(DownloadError, match="resumed on the next run"):
        fetch(remote, tmp_path, retries=0)
    assert leftovers(tmp_path) == ["m/model.bin.part"]
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert len(http_server.ranged()) == 1
    assert leftovers(tmp_path) == ["m/model.bin"]


def test_server_ignoring_range_restarts_cleanly(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "ignore_range")
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert len(http_server.ranged()) == 1  # asked to resume, got 200, started over


def test_truncated_body_every_time_fails_after_bounded_retries(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "truncate")
    with pytest.raises(DownloadError, match=r"failed after 3 attempts"):
        fetch(remote, tmp_path, retries=2)
    assert "m/model.bin" not in leftovers(tmp_path)


def test_404_is_not_retried_and_says_so(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "404")
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(remote, tmp_path)
    assert len(http_server.requests) == 1


def test_500_once_is_retried_with_backoff(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "500_once")
    delays = []
    assert fetch(remote, tmp_path, sleep=delays.append, backoff_s=0.25).read_bytes() == DATA
    assert delays == [0.25]


def test_persistent_500_backs_off_exponentially(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "500")
    delays = []
    with pytest.raises(DownloadError, match="HTTP 500"):
        fetch(remote, tmp_path, sleep=delays.append, backoff_s=0.5, retries=3)
    assert delays == [0.5, 1.0, 2.0]


def test_stall_past_read_timeout_fails_cleanly(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "stall")
    http_server.stall_s = 3
    with pytest.raises(DownloadError, match="failed after 2 attempts"):
        fetch(remote, tmp_path, retries=1, timeout_s=(1, 0.5))
    assert "m/model.bin" not in leftovers(tmp_path)


def test_offline_without_cache_says_what_to_do(remote, tmp_path):
    with pytest.raises(OfflineError, match=r"offline mode is on.*--model-dir"):
        fetch(remote, tmp_path, offline=True)


def test_unverified_file_under_final_name_is_moved_aside_not_used(remote, tmp_path):
    final = tmp_path / "m/model.bin"
    final.parent.mkdir(parents=True)
    final.write_bytes(b"half a download")
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert (tmp_path / "m/model.bin.unverified").read_bytes() == b"half a download"


def test_wrong_size_is_rejected(http_server, tmp_path):
    url = http_server.add("x.bin", DATA + b"extra")
    remote = RemoteFile("x.bin", url, len(DATA), sha(DATA), "sha384")
    with pytest.raises(
        ChecksumMismatchError,
        match=f"size and hash mismatch: expected {len(DATA)} bytes, .* received {len(DATA) + 5} bytes",
    ):
        fetch(remote, tmp_path)
    assert leftovers(tmp_path) == []


def test_disk_full_is_reported_and_keeps_the_part(remote, tmp_path, monkeypatch):
    import builtins

    real_open = builtins.open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def write(self, chunk):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    def fake_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        return FullFile(f) if str(path).endswith(".part") else f

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(DownloadError, match=r"disk is full.*free some space"):
        fetch(remote, tmp_path)
    assert "m/model.bin" not in leftovers(tmp_path)


def test_mirror_url_maps_models_and_data():
    model = "https://storage.openvinotoolkit.org/repositories/open_model_zoo/2023.0/models_bin/1/a/b/c.xml"
    assert mirror_url(model, model_base_url="http://127.0.0.1:9/m/") == "http://127.0.0.1:9/m/a/b/c.xml"
    data = "https://raw.githubusercontent.com/org/repo/sha/x.json"
    assert mirror_url(data, data_base_url="http://127.0.0.1:9") == "http://127.0.0.1:9/org/repo/sha/x.json"
    assert mirror_url(data, model_base_url="http://127.0.0.1:9") == data
    with pytest.raises(DownloadError, match="not an http"):
        mirror_url(model, model_base_url="ftp://mirror")


def test_process_killed_mid_download_then_next_run_resumes(remote, http_server, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    http_server.set_fault("m/model.bin", "slow")
    code = (
        "import sys; from actionrec.download import fetch_file; from actionrec.download import RemoteFile;"
        "fetch_file(RemoteFile(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], 'sha384'),"
        " cache_dir=sys.argv[5], progress=False)"
    )
    args = [remote.name, remote.url, str(remote.size_bytes), remote.digest, str(tmp_path)]
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=str(REPO))
    part = tmp_path / "m/model.bin.part"
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size > 100_000) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert leftovers(tmp_path) == ["m/model.bin.part"]  # nothing under the final name
    http_server.set_fault("m/model.bin", None)
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert http_server.ranged(), "the second run should resume with a Range request"
    assert leftovers(tmp_path) == ["m/model.bin"]


def test_a_206_with_another_range_is_never_spliced_in(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "wrong_range")
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert len(http_server.ranged()) == 1 and leftovers(tmp_path) == ["m/model.bin"]


# -- unpinned URLs (videos a user names): no hash, so resume must not splice two versions -------


def test_url_changed_between_attempts_is_downloaded_whole_not_spliced(http_server, tmp_path):

    old, new = DATA, bytes(reversed(DATA))
    url = http_server.add("v/clip.mp4", old)
    http_server.set_fault("v/clip.mp4", "drop_once")  # half of the old version arrives

    def change_on_server(_delay_s):
        http_server.add("v/clip.mp4", new)  # the file is replaced before the retry

    path = get_url(url, tmp_path, sleep=change_on_server)
    assert path.read_bytes() == new
    ranged = http_server.ranged()
    assert len(ranged) == 1 and ranged[0][1] != "bytes=0-"  # it did ask to resume (with If-Range)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no .part, no validator left


def test_url_resume_uses_the_validator_when_the_file_is_unchanged(http_server, tmp_path):

    url = http_server.add("v/same.mp4", DATA)
    http_server.set_fault("v/same.mp4", "drop_once")
    path = get_url(url, tmp_path)
    assert path.read_bytes() == DATA
    assert len(http_server.requests) == 2 and http_server.ranged()  # resumed: only the tail again


def test_url_without_etag_or_last_modified_starts_over_instead_of_resuming(http_server, tmp_path):

    http_server.etags = http_server.last_modified = None
    url = http_server.add("v/plain.mp4", DATA)
    http_server.set_fault("v/plain.mp4", "drop_once")
    path = get_url(url, tmp_path)
    assert path.read_bytes() == DATA
    assert http_server.ranged() == [], "nothing identified the version: a Range request could splice"


def test_url_with_a_weak_etag_starts_over_instead_of_resuming(http_server, tmp_path):
    """RFC 9110: If-Range needs a strong validator, and a client holding an ETag must not send a date."""

    http_server.etags = "weak"
    url = http_server.add("v/weak.mp4", DATA)
    http_server.set_fault("v/weak.mp4", "drop_once")
    path = get_url(url, tmp_path)
    assert path.read_bytes() == DATA and http_server.ranged() == []


def test_url_with_only_a_last_modified_date_resumes_against_it(http_server, tmp_path):

    http_server.etags = None
    url = http_server.add("v/dated.mp4", DATA)
    http_server.set_fault("v/dated.mp4", "drop_once")
    path = get_url(url, tmp_path)
    assert path.read_bytes() == DATA and len(http_server.ranged()) == 1


def test_a_206_of_another_version_is_never_spliced_in(http_server, tmp_path):
    """A CDN that honours Range but ignores If-Range: the 206's own ETag gives it away."""
    http_server.honour_if_range = False
    old, new = DATA, bytes(reversed(DATA))
    url = http_server.add("v/cdn.mp4", old)
    http_server.set_fault("v/cdn.mp4", "drop_once")
    path = get_url(url, tmp_path, sleep=lambda s: http_server.add("v/cdn.mp4", new))
    assert path.read_bytes() == new
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_interrupt_after_a_new_version_answered_leaves_no_old_head_to_splice(http_server, tmp_path, monkeypatch):
    import actionrec.download as download_module

    old, new = DATA, bytes(reversed(DATA))
    url = http_server.add("v/ctrl_c.mp4", old)
    http_server.set_fault("v/ctrl_c.mp4", "truncate")  # run 1: half of the old version, then give up
    with pytest.raises(DownloadError):
        get_url(url, tmp_path, retries=0)
    assert any(p.name.endswith(".part") for p in tmp_path.iterdir())
    http_server.set_fault("v/ctrl_c.mp4", None)
    http_server.add("v/ctrl_c.mp4", new)
    real_keep = download_module._keep_validator

    def keep_then_ctrl_c(path, headers):
        real_keep(path, headers)
        raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "_keep_validator", keep_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):  # run 2: the new version answers (200), then Ctrl+C
        get_url(url, tmp_path)
    monkeypatch.undo()
    path = get_url(url, tmp_path)  # run 3
    assert path.read_bytes() == new


def test_a_url_over_the_size_limit_leaves_nothing_behind(http_server, tmp_path):

    url = http_server.add("v/big.mp4", DATA)
    with pytest.raises(DownloadError, match="over the limit"):
        get_url(url, tmp_path, max_bytes=1000)
    assert list(tmp_path.iterdir()) == []
