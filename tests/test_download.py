"""Verified fetch against a local server with injected faults."""

import errno
import os
import re
import stat

import pytest

from actionrec.download import RemoteFile, download_url, fetch_file, fetch_files, mirror_url
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


def test_server_ignoring_range_restarts_cleanly(remote, http_server, tmp_path, caplog):
    http_server.set_fault("m/model.bin", "ignore_range")
    with caplog.at_level("INFO", logger="actionrec.download"):
        assert fetch(remote, tmp_path).read_bytes() == DATA
    assert caplog.messages[-1] == "m/model.bin: server ignored the Range request (or the file changed); starting over"
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
    # the read timeout (0.5 s) ends each attempt, not the server closing after its 3 s stall
    # (which would end it with a ChunkedEncodingError instead)
    http_server.set_fault("m/model.bin", "stall")
    http_server.stall_s = 3
    with pytest.raises(
        DownloadError, match=r"failed after 2 attempts \(last: connection dropped after \d+ B: ConnectionError\)"
    ):
        fetch(remote, tmp_path, retries=1, timeout_s=(1, 0.5))
    assert "m/model.bin" not in leftovers(tmp_path)
    with pytest.raises(
        DownloadError, match=r"failed after 1 attempt \(last: connection dropped after \d+ B: ConnectionError\)"
    ):
        get_url(remote.url, tmp_path / "v", retries=0, timeout_s=(1, 0.5))


def test_offline_without_cache_says_what_to_do(remote, tmp_path):
    with pytest.raises(OfflineError, match=r"offline mode is on.*--model-dir"):
        fetch(remote, tmp_path, offline=True)


def test_unverified_file_under_final_name_is_moved_aside_not_used(remote, tmp_path, caplog):
    final = tmp_path / "m/model.bin"
    final.parent.mkdir(parents=True)
    final.write_bytes(b"half a download")
    with caplog.at_level("WARNING", logger="actionrec.download"):
        assert fetch(remote, tmp_path).read_bytes() == DATA
    aside = tmp_path / "m/model.bin.unverified"
    assert caplog.messages == [f"{final} failed verification; moved to {aside} and downloading again"]
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
    # a hang guard, not a timing check: the child only has to start (under mutation testing it
    # imports a mutated download module of several MB, seconds on a loaded machine)
    deadline = time.monotonic() + 120
    while not (part.exists() and part.stat().st_size > 100_000) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert leftovers(tmp_path) == ["m/model.bin.part"]  # nothing under the final name
    http_server.set_fault("m/model.bin", None)
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert http_server.ranged(), "the second run should resume with a Range request"
    assert leftovers(tmp_path) == ["m/model.bin"]


def test_a_206_with_another_range_is_never_spliced_in(remote, http_server, tmp_path, caplog):
    http_server.set_fault("m/model.bin", "wrong_range")
    with caplog.at_level("INFO", logger="actionrec.download"):
        assert fetch(remote, tmp_path).read_bytes() == DATA
    assert caplog.messages[-1] == (
        f"m/model.bin from {remote.url}: server answered another byte range than requested; starting over; "
        "retry 2/4 in 1.0 s"
    )
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


def test_url_without_etag_or_last_modified_starts_over_instead_of_resuming(http_server, tmp_path, caplog):

    http_server.etags = http_server.last_modified = None
    url = http_server.add("v/plain.mp4", DATA)
    http_server.set_fault("v/plain.mp4", "drop_once")
    with caplog.at_level("INFO", logger="actionrec.download"):
        path = get_url(url, tmp_path)
    assert caplog.messages[-1] == f"{url}: no ETag or Last-Modified to resume against; starting over"
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


@pytest.mark.parametrize(
    ("modified", "resumed"),
    [("Mon, 01 Jan 2024 11:59:59 GMT", True), ("Mon, 01 Jan 2024 12:00:00 GMT", False)],
    ids=["a-second-before-the-answer", "in-the-answers-second"],
)
def test_a_last_modified_date_is_resumed_against_only_when_a_second_older_than_the_answer(
    http_server, tmp_path, modified, resumed
):
    """RFC 9110 §8.8.2.2: a date within the second of the answer is weak (the file may change again in it)."""
    http_server.etags = None
    http_server.last_modified, http_server.date = modified, "Mon, 01 Jan 2024 12:00:00 GMT"
    url = http_server.add("v/dated-now.mp4", DATA)
    http_server.set_fault("v/dated-now.mp4", "drop_once")
    assert get_url(url, tmp_path).read_bytes() == DATA
    assert [r is not None for _, r in http_server.requests] == [False, resumed]


def test_a_206_of_another_version_is_never_spliced_in(http_server, tmp_path, caplog):
    """A CDN that honours Range but ignores If-Range: the 206's own ETag gives it away."""
    http_server.honour_if_range = False
    old, new = DATA, bytes(reversed(DATA))
    url = http_server.add("v/cdn.mp4", old)
    http_server.set_fault("v/cdn.mp4", "drop_once")
    with caplog.at_level("INFO", logger="actionrec.download"):
        path = get_url(url, tmp_path, sleep=lambda s: http_server.add("v/cdn.mp4", new))
    assert caplog.messages[-1] == (
        f"{url}: the file changed on the server since the first attempt; starting over; retry 2/4 in 1.0 s"
    )
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


# -- mirrors: the root given, the rest of the canonical path, and what a wrong root says ------------


def test_mirror_url_keeps_the_root_as_given_and_the_whole_path_after_the_first_mark():
    # a root ending in a letter keeps it (only slashes are dropped), https mirrors are mirrors too,
    # and a path holding "models_bin/1/" again keeps it: only the first one marks the mirror's root
    model = "https://storage.example/omz/models_bin/1/a/models_bin/1/b.xml"
    assert (
        mirror_url(model, model_base_url="https://127.0.0.1:9/MAX//") == "https://127.0.0.1:9/MAX/a/models_bin/1/b.xml"
    )
    data = "https://raw.githubusercontent.com/org/repo/sha/x.json"
    assert mirror_url(data, data_base_url="https://127.0.0.1:9/BOX/") == "https://127.0.0.1:9/BOX/org/repo/sha/x.json"


@pytest.mark.parametrize(
    ("kind", "setting"),
    [("model_base_url", "--base-url / AR_MODEL_BASE_URL"), ("data_base_url", "--data-base-url / AR_DATA_BASE_URL")],
)
def test_a_mirror_root_that_is_no_http_url_names_its_setting_and_the_root_without_secrets(kind, setting):
    url = (
        "https://storage.example/models_bin/1/a.xml"
        if kind == "model_base_url"
        else "https://raw.githubusercontent.com/o/r/x"
    )
    with pytest.raises(DownloadError) as info:
        mirror_url(url, **{kind: "ftp://viewer:hunter2pw@mirror.example/omz?token=s3cr3t"})
    assert str(info.value) == (
        f"{setting} is 'ftp://***@mirror.example/omz', which is not an http(s) URL; "
        "give the mirror's root, e.g. http://127.0.0.1:8000/"
    )


# -- files pinned by hash but not by size ----------------------------------------------------------


def test_a_file_pinned_without_a_size_is_verified_by_hash_and_not_fetched_again(http_server, tmp_path):
    from actionrec.download import is_verified

    remote = RemoteFile("x/unsized.bin", http_server.add("x/unsized.bin", DATA), None, sha(DATA), "sha384")
    assert not is_verified(tmp_path / "x/unsized.bin", remote)  # not there yet
    path = fetch(remote, tmp_path)
    assert is_verified(path, remote)
    n = len(http_server.requests)
    assert fetch(remote, tmp_path) == path and len(http_server.requests) == n
    assert leftovers(tmp_path) == ["x/unsized.bin"]  # nothing moved aside as unverified


def test_wrong_bytes_of_a_file_pinned_without_a_size_name_the_hashes_and_the_size_received(http_server, tmp_path):
    remote = RemoteFile("x/unsized.bin", http_server.add("x/unsized.bin", DATA), None, sha(DATA), "sha384")
    http_server.set_fault("x/unsized.bin", "wrong_bytes")
    with pytest.raises(ChecksumMismatchError) as info:
        fetch(remote, tmp_path)
    bad = sha(bytes((b + 1) % 256 for b in DATA[:4096]) + DATA[4096:])
    assert str(info.value) == (
        f"x/unsized.bin from {remote.url}: sha384 mismatch: expected sha384 {remote.digest}, "
        f"received {len(DATA)} bytes, sha384 {bad}; the download was removed. The server or mirror holds "
        "other bytes than the pinned release: check the URL (--base-url / AR_MODEL_BASE_URL) and run again"
    )


# -- what a resume sends back as If-Range: only a validator of ours, in a validator's form ---------


def plant_resume(http_server, dest, name, validator=None):
    """A resumable head of ``DATA`` for ``download_url`` in ``dest``; returns (url, validator path)."""
    import hashlib

    url = http_server.add(name, DATA)
    final = dest / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".mp4")
    dest.mkdir(parents=True, exist_ok=True)
    final.with_name(final.name + ".part").write_bytes(DATA[:1000])
    path = final.with_name(final.name + ".part.validator")
    if validator is not None:
        path.write_bytes(validator)
    return url, path


LONGEST_ETAG = '"' + "e" * 254 + '"'  # 256 characters: the longest validator read back


@pytest.mark.parametrize(
    ("kept", "sent"),
    [
        (LONGEST_ETAG.encode(), LONGEST_ETAG),
        (b"Mon, 01 Jan 2024 00:00:00 GMT\n", "Mon, 01 Jan 2024 00:00:00 GMT"),
        (('"' + "e" * 256 + '"').encode(), None),  # too long to be one of ours
        (b"password=hunter2", None),  # not a validator's form
        ('"etag"\u00a0'.encode(), None),  # not ASCII (UTF-8 would read a no-break space, stripped)
        (b'"etag"\xff', None),  # not even UTF-8
    ],
    ids=["longest-etag", "date", "too-long", "no-validator", "non-ascii-space", "binary"],
)
def test_a_resume_sends_the_kept_validator_only_in_a_validators_form(http_server, tmp_path, kept, sent):
    url, _ = plant_resume(http_server, tmp_path, "v/kept.mp4", kept)
    path = get_url(url, tmp_path)
    assert path.read_bytes() == DATA
    assert http_server.if_ranges[0] == sent
    assert bool(http_server.ranged()) == (sent is not None)  # no validator: no Range either, start over


def test_a_hard_link_at_the_validator_path_is_not_read(http_server, tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b'"etag-looking-secret"')
    url, validator = plant_resume(http_server, tmp_path / "dl", "v/linked.mp4")
    os.link(elsewhere, validator)  # a file with two names is no validator of ours
    assert get_url(url, tmp_path / "dl").read_bytes() == DATA
    assert http_server.if_ranges == [None] and http_server.ranged() == []
    assert elsewhere.read_bytes() == b'"etag-looking-secret"'


@pytest.mark.timeout(30)  # opening a FIFO without O_NONBLOCK waits forever for a writer
def test_a_fifo_at_the_validator_path_neither_blocks_nor_is_read(http_server, tmp_path):
    url, validator = plant_resume(http_server, tmp_path, "v/fifo.mp4")
    os.mkfifo(validator)
    assert get_url(url, tmp_path).read_bytes() == DATA
    assert http_server.if_ranges == [None] and http_server.ranged() == []


def test_a_date_validator_is_checked_against_the_date_even_if_the_server_now_sends_an_etag(http_server, tmp_path):
    # kept while the server sent no ETag; the 206 now carries one, and its Last-Modified still matches
    url, _ = plant_resume(http_server, tmp_path, "v/dated.mp4", b"Mon, 01 Jan 2024 00:00:00 GMT")
    assert get_url(url, tmp_path).read_bytes() == DATA
    assert http_server.requests == [("/v/dated.mp4", "bytes=1000-")]  # resumed once, not started over


def test_a_206_of_another_dated_version_is_never_spliced_in(http_server, tmp_path):
    """A CDN that honours Range but ignores If-Range, for a file known by its date only."""
    http_server.honour_if_range = False
    http_server.etags = None
    new = bytes(reversed(DATA))
    url = http_server.add("v/cdn-dated.mp4", DATA)
    http_server.set_fault("v/cdn-dated.mp4", "drop_once")

    def replace_on_server(_delay_s):
        http_server.add("v/cdn-dated.mp4", new)
        http_server.last_modified = "Tue, 02 Jan 2024 00:00:00 GMT"

    path = get_url(url, tmp_path, sleep=replace_on_server)
    assert path.read_bytes() == new
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# -- what a pinned file must be, and what each failure tells the user --------------------------------

SHA256 = "ab" * 32


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"algorithm": "md5"}, "algorithm 'md5' is not one of ('sha256', 'sha384')"),
        ({"digest": "ab" * 47}, "m/a.bin: sha384 digest must be 96 hex digits"),
        ({"digest": "AB" * 48}, "m/a.bin: sha384 digest must be 96 hex digits"),
        ({"digest": "X" * 96}, "m/a.bin: sha384 digest must be 96 hex digits"),
        ({"digest": SHA256 + "a", "algorithm": "sha256"}, "m/a.bin: sha256 digest must be 64 hex digits"),
        ({"size_bytes": 0}, "m/a.bin: size_bytes must be positive, got 0"),
        ({"url": "ftp://h/a.bin"}, "m/a.bin: url must be http(s), got 'ftp://h/a.bin'"),
        ({"name": "/etc/a.bin"}, "/etc/a.bin: name must be a relative path inside the cache"),
        ({"name": "m/../../a.bin"}, "m/../../a.bin: name must be a relative path inside the cache"),
    ],
)
def test_a_remote_file_that_cannot_be_verified_or_placed_is_refused_with_the_reason(fields, message):
    given = {"name": "m/a.bin", "url": "http://h/a.bin", "size_bytes": 10, "digest": "ab" * 48, "algorithm": "sha384"}
    with pytest.raises(ValueError) as info:
        RemoteFile(**(given | fields))
    assert str(info.value) == message


def test_a_remote_file_takes_sha256_https_and_the_smallest_size():
    assert RemoteFile("m/a.bin", "https://h/a.bin", 1, SHA256, "sha256").size_bytes == 1
    assert RemoteFile("m/a.bin", "https://h/a.bin", None, "0123456789abcdef" * 6, "sha384").size_bytes is None


@pytest.mark.parametrize(
    ("size_bytes", "shown"),
    [
        (None, "an unknown amount"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (1025, "1.0 KB"),
        (1000 * 1024, "1000.0 KB"),
        (3 * 1024**2 + 512 * 1024, "3.5 MB"),
        (5 * 1024**3, "5.0 GB"),
        (3 * 1024**4, "3072.0 GB"),
    ],
)
def test_offline_without_the_file_says_how_much_a_run_online_downloads_and_the_alternative(tmp_path, size_bytes, shown):
    remote = RemoteFile("m/a.bin", "http://127.0.0.1:9/m/a.bin", size_bytes, "ab" * 48, "sha384")
    with pytest.raises(OfflineError) as info:
        fetch(remote, tmp_path, offline=True)
    assert str(info.value) == (
        f"m/a.bin is not in the cache {tmp_path} and offline mode is on; run once with network access "
        f"(it downloads {shown} from http://127.0.0.1:9/m/a.bin) or point --model-dir / AR_MODEL_DIR at "
        "models already on disk"
    )


def test_offline_without_the_labels_points_at_a_local_labels_file(tmp_path):
    remote = RemoteFile("labels/kinetics.txt", "http://127.0.0.1:9/labels/kinetics.txt", 2048, "ab" * 48, "sha384")
    with pytest.raises(OfflineError) as info:
        fetch(remote, tmp_path, offline=True)
    assert str(info.value) == (
        f"labels/kinetics.txt is not in the cache {tmp_path} and offline mode is on; run once with network "
        "access (it downloads 2.0 KB from http://127.0.0.1:9/labels/kinetics.txt) or pass a local labels file "
        "(--labels / AR_LABELS)"
    )


@pytest.fixture
def closed_port():
    """A 127.0.0.1 port nothing listens on: connecting is refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_https_is_fetched_and_a_refused_connection_fails_after_one_attempt_saying_what_to_check(tmp_path, closed_port):
    remote = RemoteFile("m/a.bin", "https://storage.example/m/a.bin", 10, "ab" * 48, "sha384")
    mirror = f"https://viewer:hunter2pw@127.0.0.1:{closed_port}/m/a.bin?token=s3cr3t"
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path, url=mirror, retries=0)
    assert str(info.value) == (
        f"downloading m/a.bin from https://***@127.0.0.1:{closed_port}/m/a.bin failed after 1 attempt "
        "(last: cannot connect: ConnectionError); "
        "Check the network or the mirror (--base-url / AR_MODEL_BASE_URL), then run again"
    )
    with pytest.raises(DownloadError) as info:
        get_url(f"https://127.0.0.1:{closed_port}/v.mp4", tmp_path, retries=0)
    assert str(info.value) == (
        f"downloading https://127.0.0.1:{closed_port}/v.mp4 failed after 1 attempt "
        "(last: cannot connect: ConnectionError); Check the URL and the network, then run again"
    )
    assert leftovers(tmp_path) == []


def test_a_mirror_url_that_is_no_http_url_is_refused_before_any_request(tmp_path):
    remote = RemoteFile("m/a.bin", "https://storage.example/m/a.bin", 10, "ab" * 48, "sha384")
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path, url="ftp://viewer:hunter2pw@mirror/m/a.bin?token=s3cr3t")
    assert str(info.value) == "cannot download m/a.bin from 'ftp://***@mirror/m/a.bin': only http(s) URLs are supported"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://h/v.mp4", "cannot download 'ftp://h/v.mp4': only http:// and https:// URLs are supported"),
        ("http:///v.mp4", "cannot download 'http:///v.mp4': only http:// and https:// URLs are supported"),
        (
            "http://[::1/v.mp4",
            "cannot download 'http://[::1/v.mp4': it is not a valid URL (Invalid IPv6 URL); check its spelling",
        ),
    ],
)
def test_download_url_refuses_what_it_cannot_fetch_and_says_why(tmp_path, url, message):
    with pytest.raises(DownloadError) as info:
        get_url(url, tmp_path)
    assert str(info.value) == message


def test_a_drop_with_no_retries_left_says_how_much_is_kept_where_and_what_to_check(remote, http_server, tmp_path):
    import re

    http_server.set_fault("m/model.bin", "drop_once")
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path, retries=0)
    part = tmp_path / "m/model.bin.part"
    kept = f"{part.stat().st_size / 1024:.1f} KB"
    assert re.fullmatch(
        f"downloading m/model.bin from {re.escape(remote.url)} failed after 1 attempt "
        rf"\(last: connection dropped after {kept}: ChunkedEncodingError\); {kept} kept in {re.escape(str(part))} "
        r"and resumed on the next run\. "
        r"Check the network or the mirror \(--base-url / AR_MODEL_BASE_URL\), then run again",
        str(info.value),
    ), str(info.value)


def test_retries_are_logged_with_their_reason_count_and_delay(remote, http_server, tmp_path, caplog):
    http_server.set_fault("m/model.bin", "500")
    with caplog.at_level("INFO", logger="actionrec.download"), pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path, retries=2, backoff_s=0.25)
    what = f"m/model.bin from {remote.url}"
    assert caplog.messages == [
        f"{what}: HTTP 500 Internal Server Error; retry 1/2 in 0.2 s",
        f"{what}: HTTP 500 Internal Server Error; retry 2/2 in 0.5 s",
    ]
    assert str(info.value) == (
        f"downloading {what} failed after 3 attempts (last: HTTP 500 Internal Server Error); "
        "Check the network or the mirror (--base-url / AR_MODEL_BASE_URL), then run again"
    )


def test_http_errors_name_the_status_who_answered_and_what_to_check(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "404")
    mirror = remote.url.replace("http://", "http://viewer:hunter2pw@") + "?token=s3cr3t"
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path, url=mirror)
    assert str(info.value) == (
        f"cannot download m/model.bin: {remote.url.replace('http://', 'http://***@')} answered HTTP 404 Not Found. "
        "Check the URL; with a mirror, check that it holds this file under the same path"
    )
    with pytest.raises(DownloadError) as info:
        get_url(remote.url, tmp_path)
    assert str(info.value) == (
        f"cannot download {remote.url}: the server answered HTTP 404 Not Found. "
        "Check the URL (open it in a browser) or download the file yourself and pass its path"
    )


@pytest.mark.parametrize("status", [400, 401, 403])
def test_client_errors_are_final_not_retried(remote, http_server, tmp_path, status):
    http_server.set_fault("m/model.bin", str(status))
    with pytest.raises(DownloadError, match=f"answered HTTP {status} "):
        fetch(remote, tmp_path)
    assert len(http_server.requests) == 1 and leftovers(tmp_path) == []


@pytest.mark.parametrize("fault", ["429_once", "500_once"])
def test_too_many_requests_and_server_errors_are_retried(remote, http_server, tmp_path, fault):
    http_server.set_fault("m/model.bin", fault)
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert len(http_server.requests) == 2


@pytest.mark.parametrize("ctype", ["text/html", "text/html; charset=utf-8", " Application/XHTML+XML ;q=1"])
def test_a_url_answering_with_an_html_page_says_to_use_the_files_direct_link(http_server, tmp_path, ctype):
    http_server.html_type = ctype
    url = http_server.add("v/page.mp4", DATA)
    http_server.set_fault("v/page.mp4", "html")
    with pytest.raises(DownloadError) as info:
        get_url(url, tmp_path)
    assert str(info.value) == (
        f"cannot download {url}: the server answered HTTP 200 with an HTML page (Content-Type {ctype.strip()}), "
        "not a file; this is usually a web page, a login or a consent page. "
        "Use the direct link to the file (e.g. 'raw' on GitHub) or download it and pass its path"
    )
    assert leftovers(tmp_path) == []


def test_a_pinned_file_served_as_html_is_judged_by_its_hash_not_its_content_type(http_server, tmp_path):
    page = b"<!doctype html><html><body>Sign in</body></html>"
    http_server.add("m/page.bin", DATA)  # the "html" fault answers with `page`, whatever the file
    http_server.set_fault("m/page.bin", "html")
    remote = RemoteFile("m/page.bin", f"{http_server.url}/m/page.bin", len(page), sha(page), "sha384")
    assert fetch(remote, tmp_path).read_bytes() == page


def test_a_cache_folder_that_cannot_be_created_says_why_and_where_else_to_go(remote, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path / "taken" / "cache")
    assert str(info.value) == (
        f"cannot create the cache folder {tmp_path / 'taken' / 'cache' / 'm'}: File exists; choose another folder "
        "(--cache-dir / AR_CACHE_DIR for models, AR_DATA_DIR for data) or fix its permissions"
    )


# -- what is in the way of a download, and what a user reads about it ------------------------------


def test_the_default_shows_one_progress_bar_per_file_named_after_it_with_binary_units(
    remote, http_server, tmp_path, capsys
):
    import re

    fetch_file(remote, cache_dir=tmp_path / "a", sleep=lambda s: None)  # progress defaults to on
    download_url(remote.url, dest_dir=tmp_path / "b", sleep=lambda s: None)
    fetch(remote, tmp_path / "c")  # progress=False: no bar
    bars = capsys.readouterr().err
    # 1,024,000 bytes in units of 1024: 0.98M; the finished bar stays on screen (a newline, not erased)
    done = r"\rmodel\.bin: 100%\|[^|\n]+\| 0\.98M/0\.98M \[[^\]\n]* [\d.]+[kMG]?B/s\]\n"
    assert re.fullmatch(f"(?:\\rmodel\\.bin:   0%[^\\r]*{done}){{2}}", bars), bars


@pytest.mark.parametrize("when", ["before", "during-new", "during-resume"])
def test_a_folder_at_the_part_path_stops_the_download_saying_what_is_in_the_way(
    remote, http_server, tmp_path, caplog, when
):
    part = tmp_path / "m/model.bin.part"
    part.parent.mkdir(parents=True)
    if when == "before":
        part.mkdir()
    else:
        if when == "during-resume":
            part.write_bytes(DATA[:1000])

        def folder_meanwhile(_path, _range):  # while the request is open, someone puts a folder there
            part.unlink(missing_ok=True)
            part.mkdir()

        http_server.on_request = folder_meanwhile
    with caplog.at_level("WARNING", logger="actionrec.download"), pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path)
    assert str(info.value) == (
        f"cannot download m/model.bin: {part} is in the way and cannot be removed (Is a directory); "
        "remove it and run again"
    )
    if when == "before":
        assert caplog.messages == [
            f"m/model.bin: {part} is not a partial download of this user (a link or a shared file); replacing it"
        ]


def test_a_part_that_changed_while_resuming_and_cannot_be_removed_stops_the_download_naming_it(
    remote, http_server, tmp_path, monkeypatch
):
    part = tmp_path / "m/model.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:1000])

    def another_writer(_path, _range):  # while the request is open, something appends to the part
        with part.open("ab") as f:
            f.write(b"x")

    http_server.on_request = another_writer
    real_unlink = os.unlink

    def cannot_remove_the_part(path, *args, **kwargs):
        if str(path) == str(part):
            raise PermissionError(13, "Permission denied")  # e.g. the folder was made read-only
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", cannot_remove_the_part)
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path)
    assert str(info.value) == (
        f"cannot download m/model.bin: {part} is in the way and cannot be removed (Permission denied); "
        "remove it and run again"
    )


def test_download_url_starts_over_in_full_when_the_server_ignores_the_range(http_server, tmp_path, capsys):
    url = http_server.add("v/ignored.mp4", DATA)
    http_server.set_fault("v/ignored.mp4", "ignore_range")  # the first answer is cut off, then 200s only
    path = get_url(url, tmp_path, progress=True)
    assert path.read_bytes() == DATA
    assert len(http_server.requests) == 2 and http_server.ranged()  # it asked to resume and got it all
    _, second = capsys.readouterr().err.rstrip("\n").split("\n")  # one bar per attempt
    assert re.match(r"\r[^:]+:   0%\|\s+\| 0\.00/0\.98M", second), second  # the new attempt counts from 0


def test_a_pinned_file_cut_short_without_a_length_is_resumed_not_taken_as_whole(remote, http_server, tmp_path, caplog):
    http_server.set_fault("m/model.bin", "no_length_drop_once")  # half, then the connection closes
    with caplog.at_level("INFO", logger="actionrec.download"):
        path = fetch(remote, tmp_path)
    assert path.read_bytes() == DATA
    assert [r for _, r in http_server.requests] == [None, f"bytes={len(DATA) // 2}-"]
    assert caplog.messages == [
        f"m/model.bin from {remote.url}: body ended at 500.0 KB of 1000.0 KB; retry 1/4 in 0.5 s"
    ]


def test_a_pinned_file_sent_whole_without_a_length_takes_one_request(remote, http_server, tmp_path):
    http_server.set_fault("m/model.bin", "no_length")
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert len(http_server.requests) == 1


def test_a_pinned_file_sent_compressed_takes_one_request(remote, http_server, tmp_path):
    """A gzip body's Content-Length is not the file's: a whole file decoded is whole, not cut short."""
    http_server.set_fault("m/model.bin", "gzip")
    waits = []
    assert fetch(remote, tmp_path, sleep=waits.append).read_bytes() == DATA
    assert len(http_server.requests) == 1
    assert waits == [], "the whole file was taken for a dropped connection and retried"


def test_a_complete_but_shorter_body_is_another_file_not_a_dropped_connection(remote, http_server, tmp_path):
    http_server.add("m/model.bin", DATA[:1000])  # announced and sent whole: the server holds other bytes
    with pytest.raises(ChecksumMismatchError, match="size and hash mismatch"):
        fetch(remote, tmp_path)
    assert len(http_server.requests) == 1  # refused at once, not resumed as if the connection had dropped


def test_a_resumed_download_s_bar_starts_where_the_part_ends(remote, http_server, tmp_path, capsys):
    http_server.set_fault("m/model.bin", "drop_once")
    fetch(remote, tmp_path, progress=True)
    first, second = capsys.readouterr().err.rstrip("\n").split("\n")  # one bar per attempt
    count = r"\| ([\d.]+[kM]?)/0\.98M"
    kept = re.findall(count, first)[-1]  # what the dropped attempt left in the part
    assert kept != "0.00" and re.findall(count, second)[0] == kept  # the second bar starts there
    assert re.findall(count, second)[-1] == "0.98M"


def test_a_body_that_cannot_be_decoded_fails_naming_the_error(http_server, tmp_path):
    url = http_server.add("v/garbled.mp4", DATA)
    http_server.set_fault("v/garbled.mp4", "bad_gzip")  # labelled gzip, but not gzip
    with pytest.raises(DownloadError) as info:
        get_url(url, tmp_path)
    message = str(info.value)
    assert message.startswith(f"cannot download {url}: ContentDecodingError: ")
    assert "failed to decode" in message and list(tmp_path.glob("*.mp4")) == []


def test_a_full_disk_while_writing_says_how_far_it_got_and_that_it_resumes(remote, tmp_path, monkeypatch):
    from actionrec import download

    open_part = download._open_part

    def onto_a_full_disk(*args, **kwargs):
        os.close(open_part(*args, **kwargs))  # the part exists, empty; every write fails as on a full disk
        return os.open("/dev/full", os.O_WRONLY)

    monkeypatch.setattr(download, "_open_part", onto_a_full_disk)
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path)
    part = tmp_path / "m/model.bin.part"
    assert str(info.value) == (
        f"the disk is full while writing {part} (0 B of 1000.0 KB); free some space and run again (it resumes)"
    )


def test_downloaded_files_get_the_usual_mode_never_executable(http_server, tmp_path):
    url = http_server.add("v/mode.mp4", DATA)
    old = os.umask(0o022)
    try:
        path = get_url(url, tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # 0o666 less the umask, as any new file


def test_a_rival_that_recreates_the_part_file_at_once_is_named_as_the_cause(remote, http_server, tmp_path, monkeypatch):
    part = tmp_path / "m/model.bin.part"
    real_unlink = os.unlink

    def unlink_then_rival_recreates(path, *args, **kwargs):
        try:
            real_unlink(path, *args, **kwargs)
        finally:
            if str(path) == str(part):
                open(path, "wb").close()  # another process creating the same partial download

    monkeypatch.setattr(os, "unlink", unlink_then_rival_recreates)
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path)
    assert str(info.value) == (
        f"cannot download m/model.bin: something else keeps creating {part} in the cache folder; "
        "check who else writes there, or use a folder of your own"
    )


@pytest.mark.parametrize("change", ["grown", "link", "fifo"])
@pytest.mark.timeout(30)  # opening a FIFO for writing without O_NONBLOCK waits forever for a reader
def test_a_part_file_changed_while_resuming_is_never_written_and_the_download_starts_over(
    remote, http_server, tmp_path, caplog, change
):
    part = tmp_path / "m/model.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:1000])
    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"v" * 1000)  # as long as the head: appending to it would look like a resume

    def change_meanwhile(_path, rng):
        if rng is None:
            return
        if change == "grown":
            with open(part, "ab") as f:
                f.write(b"another writer")
        else:
            part.unlink()
            part.symlink_to(victim) if change == "link" else os.mkfifo(part)

    http_server.on_request = change_meanwhile
    with caplog.at_level("INFO", logger="actionrec.download"):
        assert fetch(remote, tmp_path, retries=1).read_bytes() == DATA
    assert victim.read_bytes() == b"v" * 1000
    assert caplog.messages == [
        f"m/model.bin from {remote.url}: the partial file changed while resuming; starting over; retry 1/1 in 0.5 s"
    ]
    assert [r for _, r in http_server.requests] == ["bytes=1000-", None] and leftovers(tmp_path) == [
        "m/model.bin",
        "victim.bin",
    ]


def test_a_partial_download_of_another_user_is_not_resumed(remote, http_server, tmp_path, monkeypatch):
    part = tmp_path / "m/model.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:1000])
    mine = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: mine + 1)  # every file here is now someone else's
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert http_server.ranged() == []


def test_a_stale_resume_offset_past_the_end_starts_over(http_server, tmp_path, caplog):
    url, validator = plant_resume(http_server, tmp_path, "v/shrunk.mp4", b"Mon, 01 Jan 2024 00:00:00 GMT")
    part = validator.with_name(validator.name.removesuffix(".validator"))
    part.write_bytes(DATA + b"more than the server has")
    with caplog.at_level("INFO", logger="actionrec.download"):
        path = get_url(url, tmp_path)
    assert path.read_bytes() == DATA and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert caplog.messages == [
        f"{url}: server rejected the resume offset (HTTP 416); starting over; retry 1/4 in 0.5 s"
    ]


def test_a_link_at_the_final_name_of_a_url_is_downloaded_again_with_a_warning(http_server, tmp_path, caplog):
    import hashlib

    url = http_server.add("v/linked.mp4", DATA)
    (tmp_path / "elsewhere.mp4").write_bytes(b"not this download")
    final = tmp_path / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".mp4")
    final.symlink_to(tmp_path / "elsewhere.mp4")
    with caplog.at_level("INFO", logger="actionrec.download"):  # and nothing else is logged
        assert get_url(url, tmp_path).read_bytes() == DATA
    assert caplog.messages == [f"{final} is a symbolic link, not a download of {url}; downloading again"]
    assert (tmp_path / "elsewhere.mp4").read_bytes() == b"not this download"


@pytest.mark.parametrize(
    ("path", "suffix"),
    [
        ("v/Clip.MP4", ".mp4"),
        ("v/clip", ".bin"),
        ("v/clip.x", ".x"),
        ("v/clip.abcde", ".abcde"),
        ("v/clip.abcdef", ".bin"),
        ("v/clip.-a", ".bin"),
        ("v/clip.tar.gz", ".gz"),
    ],
)
def test_a_url_is_kept_under_its_hash_and_its_own_short_suffix(http_server, tmp_path, path, suffix):
    import hashlib

    url = http_server.add(path, DATA[:100])
    assert get_url(url, tmp_path).name == hashlib.sha256(url.encode()).hexdigest()[:24] + suffix


def test_a_body_of_announced_length_is_cached_without_probing(http_server, tmp_path):
    from actionrec.errors import VideoOpenError

    probed = []

    def reject(path):
        probed.append(path)
        raise VideoOpenError("not a video")

    url = http_server.add("v/announced.mp4", DATA)
    assert get_url(url, tmp_path, probe=reject).read_bytes() == DATA
    assert probed == []


def test_a_url_the_http_stack_cannot_parse_is_a_final_error_naming_it_without_secrets(tmp_path):
    remote = RemoteFile("m/a.bin", "https://storage.example/m/a.bin", 10, "ab" * 48, "sha384")
    with pytest.raises(DownloadError) as info:  # port out of range: requests refuses it before connecting
        fetch(remote, tmp_path, url="http://viewer:hunter2pw@127.0.0.1:99999/m/a.bin?token=s3cr3t")
    assert str(info.value) == (
        "cannot download m/a.bin from http://***@127.0.0.1:99999/m/a.bin: "
        "InvalidURL: Failed to parse: http://***@127.0.0.1:99999/m/a.bin"
    )
    with pytest.raises(DownloadError) as info:
        get_url("http://127.0.0.1:99999/v.mp4", tmp_path)
    assert str(info.value) == (
        "cannot download http://127.0.0.1:99999/v.mp4: InvalidURL: Failed to parse: http://127.0.0.1:99999/v.mp4"
    )


def test_a_complete_part_file_of_a_pinned_file_is_verified_without_a_request(remote, http_server, tmp_path):
    part = tmp_path / "m/model.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA)  # the whole file arrived; the run stopped before the rename
    assert fetch(remote, tmp_path).read_bytes() == DATA
    assert http_server.requests == [] and leftovers(tmp_path) == ["m/model.bin"]


@pytest.mark.parametrize("fault", [None, "no_length"])
def test_a_url_exactly_at_the_size_limit_is_downloaded(http_server, tmp_path, fault):
    url = http_server.add("v/at-limit.mp4", DATA)
    http_server.set_fault("v/at-limit.mp4", fault)
    assert get_url(url, tmp_path, max_bytes=len(DATA)).read_bytes() == DATA


def test_a_download_asks_for_the_files_own_bytes_not_a_compressed_form(remote, http_server, tmp_path):
    # sizes, limits and Range offsets count the file's bytes: a gzip answer would count others
    fetch(remote, tmp_path)
    get_url(remote.url, tmp_path / "v")
    assert [(e or "").lower() for e in http_server.accept_encodings] == ["identity", "identity"]


def test_a_file_answered_without_a_content_type_is_downloaded(http_server, tmp_path):
    http_server.content_type = None
    url = http_server.add("v/untyped.mp4", DATA)
    assert get_url(url, tmp_path).read_bytes() == DATA


def test_a_body_declared_identity_counts_as_announced_and_is_not_probed(http_server, tmp_path):
    from actionrec.errors import VideoOpenError

    def reject(path):
        raise VideoOpenError("not a video")

    http_server.extra_headers = {"Content-Encoding": " Identity"}
    url = http_server.add("v/identity.mp4", DATA)
    assert get_url(url, tmp_path, probe=reject).read_bytes() == DATA


@pytest.mark.parametrize("answer", ["416", "another-range", "another-version"])
def test_a_part_file_removed_by_someone_else_during_a_resume_is_no_error(http_server, tmp_path, answer):
    http_server.etags = None  # the date validator: the "another-version" answer changes its date
    if answer == "another-range":
        url = http_server.add("m/gone.bin", DATA)
        http_server.set_fault("m/gone.bin", "wrong_range")
        remote = RemoteFile("m/gone.bin", url, len(DATA), sha(DATA), "sha384")
        part = tmp_path / "m/gone.bin.part"
        run = lambda: fetch(remote, tmp_path)  # noqa: E731
        validator = None
    else:
        url, validator = plant_resume(http_server, tmp_path, "v/gone.mp4", b"Mon, 01 Jan 2024 00:00:00 GMT")
        part = validator.with_name(validator.name.removesuffix(".validator"))
        if answer == "416":
            part.write_bytes(DATA + b"more than the server has")
        else:
            http_server.honour_if_range = False
            http_server.last_modified = "Tue, 02 Jan 2024 00:00:00 GMT"
        run = lambda: get_url(url, tmp_path)  # noqa: E731

    def remove_meanwhile(_path, rng):
        if rng is not None:
            part.unlink(missing_ok=True)
            if validator is not None:
                validator.unlink(missing_ok=True)

    http_server.on_request = remove_meanwhile
    assert run().read_bytes() == DATA


def test_a_part_file_removed_while_its_body_streams_in_is_reported_as_nothing_kept(remote, http_server, tmp_path):
    import time

    part = tmp_path / "m/model.bin.part"

    def remove_before_the_drop(_path):
        deadline = time.monotonic() + 30  # a hang guard: the client creates it on the answer's headers
        while not part.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        part.unlink()

    http_server.set_fault("m/model.bin", "drop_once")
    http_server.on_drop = remove_before_the_drop
    with pytest.raises(DownloadError) as info:
        fetch(remote, tmp_path, retries=0)
    assert str(info.value) == (
        f"downloading m/model.bin from {remote.url} failed after 1 attempt "
        "(last: connection dropped after 0 B: ChunkedEncodingError); "
        "Check the network or the mirror (--base-url / AR_MODEL_BASE_URL), then run again"
    )


def test_fetch_files_takes_each_file_through_its_own_mirror_in_order(http_server, tmp_path):
    model_bytes, labels_bytes = b"model weights " * 100, b"label one\nlabel two\n"
    http_server.add("models/m/a.bin", model_bytes)
    http_server.add("data/org/repo/sha/labels.txt", labels_bytes)
    remotes = [  # canonical URLs nothing listens on: only the mirrors can serve them
        RemoteFile("m/a.bin", "https://h/x/models_bin/1/m/a.bin", len(model_bytes), sha(model_bytes), "sha384"),
        RemoteFile(
            "labels/l.txt", "https://raw.githubusercontent.com/org/repo/sha/labels.txt", len(labels_bytes),
            sha(labels_bytes), "sha384",
        ),
    ]  # fmt: skip
    paths = fetch_files(
        remotes, cache_dir=tmp_path, model_base_url=f"{http_server.url}/models/",
        data_base_url=f"{http_server.url}/data", progress=False, sleep=lambda s: None, timeout_s=(2, 1),
    )  # fmt: skip
    assert paths == [tmp_path / "m/a.bin", tmp_path / "labels/l.txt"]
    assert [p.read_bytes() for p in paths] == [model_bytes, labels_bytes]
    assert [p for p, _ in http_server.requests] == ["/models/m/a.bin", "/data/org/repo/sha/labels.txt"]
    paths[1].unlink()
    with pytest.raises(OfflineError):  # the options reach every fetch: offline touches no network
        fetch_files(
            remotes, cache_dir=tmp_path, model_base_url=f"{http_server.url}/models/",
            data_base_url=f"{http_server.url}/data", offline=True, progress=False,
        )  # fmt: skip
    assert len(http_server.requests) == 2 and paths[0].read_bytes() == model_bytes
