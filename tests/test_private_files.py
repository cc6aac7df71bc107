"""Cache folders are shared ground: a planted link never makes the package write into its target,
and the folders the package creates for its caches are private to the user (issue 12, item 9)."""

import contextlib
import os
import re
import stat

import pytest

from actionrec import settings
from actionrec.atomic import atomic_write
from actionrec.download import RemoteFile, download_url, fetch_file
from actionrec.errors import DownloadError
from actionrec.video import resolve_source
from tests.conftest import sha

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links and modes as on POSIX")

DATA = bytes(range(256)) * 4000  # 1 MB
SECRET = b'"etag-looking-secret"\n'


@pytest.fixture
def victim(tmp_path):
    """A file of the user's outside every cache folder, which no download may change or read out."""
    path = tmp_path / "elsewhere" / "victim.txt"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def quiet(**kw):
    return {"progress": False, "sleep": lambda s: None, "timeout_s": (2, 1)} | kw


def url_file(dest, url, suffix=".mp4"):
    """Where :func:`download_url` keeps ``url`` (named by the URL's SHA-256)."""
    import hashlib

    return dest / (hashlib.sha256(url.encode()).hexdigest()[:24] + suffix)


def mode_of(path):
    return stat.S_IMODE(path.stat().st_mode)


# -- planted links -----------------------------------------------------------------------------------


def test_fetch_file_never_appends_to_a_link_planted_at_the_part_path(http_server, tmp_path, victim):
    url = http_server.add("m/model.bin", DATA)
    remote = RemoteFile("m/model.bin", url, len(DATA), sha(DATA), "sha384")
    cache = tmp_path / "cache"
    (cache / "m").mkdir(parents=True)
    (cache / "m" / "model.bin.part").symlink_to(victim)
    path = fetch_file(remote, cache_dir=cache, **quiet())
    assert victim.read_bytes() == SECRET
    assert not path.is_symlink() and path.read_bytes() == DATA
    assert http_server.ranged() == [], "the link's target is no partial download to resume from"


def test_the_part_is_written_through_the_descriptor_it_was_opened_as_not_by_its_name(
    http_server, tmp_path, victim, monkeypatch
):
    """A link planted at the part path once the part is open is never written through."""
    from actionrec import download

    url = http_server.add("m/model.bin", DATA)
    remote = RemoteFile("m/model.bin", url, len(DATA), sha(DATA), "sha384")
    cache = tmp_path / "cache"
    part = cache / "m" / "model.bin.part"
    open_part = download._open_part
    planted = []

    def open_then_plant(*args, **kwargs):
        fd = open_part(*args, **kwargs)
        if not planted:  # another process swaps a link in under the open file's name
            part.unlink()
            part.symlink_to(victim)
            planted.append(part)
        return fd

    monkeypatch.setattr(download, "_open_part", open_then_plant)
    with contextlib.suppress(DownloadError):  # what arrived went to the open file; the check refuses the link
        fetch_file(remote, cache_dir=cache, **quiet())
    assert planted and victim.read_bytes() == SECRET, "the download was written into the link's target"


def test_fetch_file_never_appends_to_a_hard_link_at_the_part_path(http_server, tmp_path, victim):
    url = http_server.add("m/model.bin", DATA)
    remote = RemoteFile("m/model.bin", url, len(DATA), sha(DATA), "sha384")
    cache = tmp_path / "cache"
    (cache / "m").mkdir(parents=True)
    os.link(victim, cache / "m" / "model.bin.part")
    path = fetch_file(remote, cache_dir=cache, **quiet())
    assert victim.read_bytes() == SECRET and path.read_bytes() == DATA


def test_a_link_at_the_final_path_is_replaced_not_written_through(http_server, tmp_path, victim):
    url = http_server.add("m/model.bin", DATA)
    remote = RemoteFile("m/model.bin", url, len(DATA), sha(DATA), "sha384")
    cache = tmp_path / "cache"
    (cache / "m").mkdir(parents=True)
    (cache / "m" / "model.bin").symlink_to(victim)
    path = fetch_file(remote, cache_dir=cache, **quiet())
    assert victim.read_bytes() == SECRET
    assert not path.is_symlink() and path.read_bytes() == DATA


def test_download_url_never_writes_through_a_link_at_the_part_path(http_server, tmp_path, victim):
    url = http_server.add("v/clip.mp4", DATA)
    dest = tmp_path / "downloads"
    dest.mkdir()
    part = url_file(dest, url).with_suffix(".mp4.part")
    part.symlink_to(victim)
    path = download_url(url, dest_dir=dest, **quiet())
    assert victim.read_bytes() == SECRET
    assert path.read_bytes() == DATA and sorted(p.name for p in dest.iterdir()) == [path.name]


def test_a_link_at_the_validator_path_is_neither_read_nor_written(http_server, tmp_path, victim):
    url = http_server.add("v/clip.mp4", DATA)
    dest = tmp_path / "downloads"
    dest.mkdir()
    final = url_file(dest, url)
    final.with_suffix(".mp4.part").write_bytes(DATA[:1000])  # a head of ours, resumable
    final.with_suffix(".mp4.part.validator").symlink_to(victim)
    path = download_url(url, dest_dir=dest, **quiet())
    assert victim.read_bytes() == SECRET, "the server's ETag was written into the link's target"
    assert SECRET.strip().decode() not in http_server.if_ranges, "the target's text went to the server"
    assert path.read_bytes() == DATA and sorted(p.name for p in dest.iterdir()) == [path.name]


def test_a_link_planted_at_the_validator_path_after_its_removal_stops_the_download(
    http_server, tmp_path, victim, monkeypatch
):
    """The validator is created new (``O_EXCL``, no link followed), not opened by name after the unlink.

    Another process planting a link between the removal of the old validator and the creation of
    the new one gets its target written to if the file is opened by name: the download stops
    instead, naming the path, and the target keeps its bytes.
    """
    import pathlib

    url = http_server.add("v/clip.mp4", DATA)
    dest = tmp_path / "downloads"
    dest.mkdir()
    validator = url_file(dest, url).with_suffix(".mp4.part.validator")
    unlink = pathlib.Path.unlink

    def unlink_then_plant(self, missing_ok=False):
        unlink(self, missing_ok=missing_ok)
        if self == validator:
            self.symlink_to(victim)  # the other process, right after the removal

    monkeypatch.setattr(pathlib.Path, "unlink", unlink_then_plant)
    with pytest.raises(DownloadError, match=f"^cannot download {re.escape(str(validator))}: something else keeps"):
        download_url(url, dest_dir=dest, **quiet())
    assert victim.read_bytes() == SECRET, "the server's ETag was written through the planted link"


def test_download_url_does_not_hand_out_a_link_planted_at_its_final_name(http_server, tmp_path, victim):
    url = http_server.add("v/clip.mp4", DATA)
    dest = tmp_path / "downloads"
    dest.mkdir()
    url_file(dest, url).symlink_to(victim)
    path = download_url(url, dest_dir=dest, **quiet())
    assert not path.is_symlink() and path.read_bytes() == DATA
    assert victim.read_bytes() == SECRET


def test_an_upload_replaces_a_link_planted_at_its_name(video_factory, victim):
    import hashlib

    data = video_factory("private_upload.mp4", fps=10, duration_s=0.5, size_wh=(64, 48)).read_bytes()
    uploads = settings.data_dir("uploads")
    uploads.mkdir(parents=True)
    (uploads / (hashlib.sha256(data).hexdigest()[:24] + ".mp4")).symlink_to(victim)
    stored = resolve_source(data).value
    assert not stored.is_symlink() and stored.read_bytes() == data
    assert victim.read_bytes() == SECRET


def test_atomic_write_never_writes_through_a_link_swapped_in_for_its_temp_file(tmp_path, victim, monkeypatch):
    """Another user of a shared folder replaces the new temporary file with a link to a victim."""
    import actionrec.atomic as atomic_module

    real_open = os.open

    def open_then_swap(path, flags, *args):
        fd = real_open(path, flags, *args)
        if flags & os.O_CREAT:  # the attacker acts right after the temp file appears
            os.unlink(path)
            os.symlink(victim, path)
        return fd

    monkeypatch.setattr(atomic_module.os, "open", open_then_swap)
    target = tmp_path / "shared" / "upload.bin"
    with atomic_write(target, "wb") as f:
        f.write(b"the upload")
    assert victim.read_bytes() == SECRET


# -- private folders -----------------------------------------------------------------------------------


def test_cache_folders_the_package_creates_are_private(http_server, tmp_path, umask_022, video_factory):
    url = http_server.add("m/model.bin", DATA)
    cache = tmp_path / "new" / "model"
    fetch_file(RemoteFile("m/sub/model.bin", url, len(DATA), sha(DATA), "sha384"), cache_dir=cache, **quiet())
    assert [mode_of(p) for p in (tmp_path / "new", cache, cache / "m", cache / "m" / "sub")] == [0o700] * 4

    dest = tmp_path / "dl" / "downloads"
    download_url(http_server.add("v/a.mp4", DATA), dest_dir=dest, **quiet())
    assert mode_of(dest) == mode_of(dest.parent) == 0o700

    data = video_factory("private_dirs.mp4", fps=10, duration_s=0.5, size_wh=(64, 48)).read_bytes()
    resolve_source(data)  # stored under data/uploads
    with atomic_write(settings.data_dir("cache") / "entry.npz", "wb") as f:  # as the embedding cache writes
        f.write(b"npz")
    assert mode_of(settings.data_dir()) == mode_of(settings.data_dir("uploads")) == 0o700
    assert mode_of(settings.data_dir("cache")) == 0o700

    with atomic_write(settings.data_dir("out") / "clip.json", "w") as f:  # exports are the user's to share
        f.write("{}")
    assert mode_of(settings.data_dir("out")) == 0o755


def test_the_compile_cache_folder_is_private(tiny_model_dir, tiny_labels_file, tmp_path, umask_022):
    from actionrec.models.files import resolve_model
    from actionrec.models.runtime import compile_models

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    compile_models(files, cache_dir=tmp_path / "model", hint="LATENCY")
    assert mode_of(tmp_path / "model") == mode_of(tmp_path / "model" / "compile_cache") == 0o700


def test_private_dir_leaves_existing_folders_alone(tmp_path, umask_022):
    from actionrec.atomic import private_dir

    (tmp_path / "shared").mkdir(mode=0o755)
    private_dir(tmp_path / "shared" / "a" / "b")
    assert mode_of(tmp_path / "shared") == 0o755
    assert mode_of(tmp_path / "shared" / "a") == mode_of(tmp_path / "shared" / "a" / "b") == 0o700
