"""Verified, resumable downloads into a cache that never hands out an unverified file.

Bytes stream into ``<final>.part``; after the size and hash match, the part file is renamed to its
final name in one atomic step. Cache folders are shared ground: a ``.part`` file is created with
``O_EXCL`` and appended to with ``O_NOFOLLOW`` (a planted symbolic link is removed, never written
through), only a plain file of the user's own is resumed, and the folders this creates are private
to the user (:func:`~actionrec.atomic.private_dir`). Video URLs have a size limit counted on the
bytes received and stop early when the disk would fill (:func:`download_url`). A dropped
connection resumes with an HTTP ``Range`` request (and starts over cleanly if the server ignores
it); transient failures are retried with exponential backoff; every request has connect and read
timeouts. When a file is already cached and verifies,
no network access happens at all.

Not split: one streaming core (``_stream``: ``.part`` file, ``Range`` resume, ``If-Range``
validators, retries) serves both callers, the pinned :func:`fetch_file` and the unpinned
:func:`download_url`; a split would put the core and its only two callers in different files.

Example:
    >>> from actionrec.models.registry import get_model
    >>> paths = fetch_files(get_model("action-recognition-0001").files("FP16"),
    ...                     cache_dir="model", progress=False)  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import urlsplit

from . import settings
from .atomic import private_dir
from .errors import ActionRecError, ChecksumMismatchError, DownloadError, OfflineError
from .redact import redact_text, redact_url

log = logging.getLogger(__name__)

HASH_ALGORITHMS = ("sha256", "sha384")


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: where from, where to in the cache, and how to verify it.

    Attributes:
        name: POSIX path relative to the cache folder (also the mirror-relative layout).
        url: canonical download URL.
        size_bytes: exact expected size.
        digest: expected hex digest.
        algorithm: ``"sha384"`` (OMZ models) or ``"sha256"`` (pinned data).
    """

    name: str
    url: str
    size_bytes: int | None
    digest: str
    algorithm: str

    def __post_init__(self) -> None:
        if self.algorithm not in HASH_ALGORITHMS:
            raise ValueError(f"algorithm {self.algorithm!r} is not one of {HASH_ALGORITHMS}")
        expected_len = {"sha256": 64, "sha384": 96}[self.algorithm]
        if len(self.digest) != expected_len or not all(c in "0123456789abcdef" for c in self.digest):
            raise ValueError(f"{self.name}: {self.algorithm} digest must be {expected_len} hex digits")
        if self.size_bytes is not None and self.size_bytes <= 0:
            raise ValueError(f"{self.name}: size_bytes must be positive, got {self.size_bytes}")
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"{self.name}: url must be http(s), got {self.url!r}")
        if PurePosixPath(self.name).is_absolute() or ".." in PurePosixPath(self.name).parts:
            raise ValueError(f"{self.name}: name must be a relative path inside the cache")


CHUNK_BYTES = 1 << 16
DEFAULT_TIMEOUT_S = (10.0, 30.0)  # (connect, read between bytes)
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF_S = 0.5
FREE_SPACE_MARGIN_BYTES = 256 * 1024**2  # what a limited download leaves free on the disk, at least
FREE_SPACE_CHECK_BYTES = 4 * 1024**2  # the free space is checked again after every this many bytes
LIMIT_ADVICE = (
    "raise the limit (--max-download-mb / AR_MAX_DOWNLOAD_MB, or max_download_mb=), "
    "or download the file yourself and pass its path"
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX; on Windows creating a link needs privileges
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted under our name must not block open()
_BINARY = getattr(os, "O_BINARY", 0)
_MAX_VALIDATOR_CHARS = 256
# A strong ETag (RFC 9110 §8.8.3) or an IMF-fixdate: nothing else is ever sent back as If-Range.
_VALIDATOR = re.compile(r'"[\x21\x23-\x7e]*"|[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT')
_T = TypeVar("_T")
_MODEL_MARK = "models_bin/1/"
_DATA_PREFIX = "https://raw.githubusercontent.com/"


def mirror_url(url: str, *, model_base_url: str | None = None, data_base_url: str | None = None) -> str:
    """Map a canonical URL to a mirror when one is configured.

    A model URL ending in ``models_bin/1/<rest>`` maps to ``<model_base_url>/<rest>``; a pinned
    data URL ``https://raw.githubusercontent.com/<rest>`` maps to ``<data_base_url>/<rest>``.

    Example:
        >>> mirror_url("https://h/x/models_bin/1/m/a.xml", model_base_url="http://127.0.0.1:8/")
        'http://127.0.0.1:8/m/a.xml'
    """
    if model_base_url and _MODEL_MARK in url:
        _check_base_url(model_base_url, "--base-url / AR_MODEL_BASE_URL")
        return model_base_url.rstrip("/") + "/" + url.split(_MODEL_MARK, 1)[1]
    if data_base_url and url.startswith(_DATA_PREFIX):
        _check_base_url(data_base_url, "--data-base-url / AR_DATA_BASE_URL")
        return data_base_url.rstrip("/") + "/" + url[len(_DATA_PREFIX) :]
    return url


def _check_base_url(base_url: str, what: str) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(
            f"{what} is {redact_url(base_url)!r}, which is not an http(s) URL; give the mirror's root, e.g. http://127.0.0.1:8000/"
        )


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def is_verified(path: Path, remote: RemoteFile) -> bool:
    """True when ``path`` exists with the pinned size and hash."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if remote.size_bytes is not None and size != remote.size_bytes:
        return False
    return file_digest(path, remote.algorithm) == remote.digest


def fetch_file(
    remote: RemoteFile,
    *,
    cache_dir: str | os.PathLike[str],
    url: str | None = None,
    offline: bool = False,
    progress: bool = True,
    timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    backoff_s: float = DEFAULT_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Return the path of ``remote`` in ``cache_dir``, downloading and verifying it if needed.

    Args:
        remote: what to fetch (canonical URL, size, hash, cache-relative name).
        cache_dir: cache root; the file lands at ``cache_dir / remote.name``.
        url: where to download from instead of ``remote.url`` (a mirror, see :func:`mirror_url`).
        offline: never touch the network; a missing file raises :class:`OfflineError`.
        progress: show one ``tqdm.auto`` bar for the file.
        timeout_s: (connect, read) timeouts of each request, in seconds.
        retries: how many times a transient failure (connection, timeout, HTTP 5xx, short body)
            is retried; the partial file is kept and resumed.
        backoff_s: first retry delay; doubles on every retry.
        sleep: injected for tests.

    Returns:
        The verified file's path (always the same path for the same ``remote``).

    Raises:
        OfflineError: not cached and ``offline`` is set.
        ChecksumMismatchError: the server sent other bytes than pinned (size or hash).
        DownloadError: HTTP error, repeated network failure, or the disk is full.
    """
    final = Path(cache_dir) / remote.name
    if final.exists():
        if is_verified(final, remote):
            return final
        # A file under the final name that fails verification was not written by us (we rename
        # only verified files): move it aside rather than delete what someone put there.
        aside = final.with_name(final.name + ".unverified")
        os.replace(final, aside)
        log.warning("%s failed verification; moved to %s and downloading again", final, aside)
    source = url or remote.url
    shown = redact_url(source)  # mirrors may carry credentials: never in a message
    if offline:
        raise OfflineError(
            f"{remote.name} is not in the cache {Path(cache_dir)} and offline mode is on; "
            f"run once with network access (it downloads {_human(remote.size_bytes)} from {shown}) "
            + (
                "or pass a local labels file (--labels / AR_LABELS)"
                if remote.name.startswith("labels/")
                else "or point --model-dir / AR_MODEL_DIR at models already on disk"
            )
        )
    scheme = urlsplit(source).scheme
    if scheme not in ("http", "https"):
        raise DownloadError(f"cannot download {remote.name} from {shown!r}: only http(s) URLs are supported")
    _make_cache_dir(final.parent)
    part = final.with_name(final.name + ".part")
    _retrying(
        lambda: _stream(
            source, part, label=remote.name, expected_size=remote.size_bytes, progress=progress, timeout_s=timeout_s
        ),
        what=f"{remote.name} from {shown}",
        part=part,
        advice="Check the network or the mirror (--base-url / AR_MODEL_BASE_URL), then run again",
        retries=retries,
        backoff_s=backoff_s,
        sleep=sleep,
    )
    _verify_part(remote, source, part)
    os.replace(part, final)
    return final


def fetch_files(
    remotes: Iterable[RemoteFile],
    *,
    cache_dir: str | os.PathLike[str],
    model_base_url: str | None = None,
    data_base_url: str | None = None,
    **kwargs,
) -> list[Path]:
    """Fetch several files (see :func:`fetch_file`), each through its mirror when configured."""
    return [
        fetch_file(
            r,
            cache_dir=cache_dir,
            url=mirror_url(r.url, model_base_url=model_base_url, data_base_url=data_base_url),
            **kwargs,
        )
        for r in remotes
    ]


class _TransientError(Exception):
    """A failure worth retrying (the partial file is kept)."""


def _make_cache_dir(folder: Path) -> None:
    try:
        private_dir(folder)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the cache folder {folder}: {exc.strerror or exc}; choose another folder "
            "(--cache-dir / AR_CACHE_DIR for models, AR_DATA_DIR for data) or fix its permissions"
        ) from None


def _retrying(
    attempt: Callable[[], _T],
    *,
    what: str,
    part: Path,
    advice: str,
    retries: int,
    backoff_s: float,
    sleep: Callable[[float], None],
) -> _T:
    """Run one download attempt, retrying transient failures with exponential backoff; its result."""
    failures = 0
    while True:
        try:
            return attempt()
        except _TransientError as exc:
            failures += 1
            if failures > retries:
                kept = f"{_size_of(part)} kept in {part} and resumed on the next run. " if part.exists() else ""
                plural = "s" if failures > 1 else ""
                raise DownloadError(
                    f"downloading {what} failed after {failures} attempt{plural} (last: {exc}); {kept}{advice}"
                ) from None
            delay = backoff_s * 2 ** (failures - 1)
            log.info("%s: %s; retry %d/%d in %.1f s", what, exc, failures, retries, delay)
            sleep(delay)


def _stream(
    url: str,
    part: Path,
    *,
    label: str,
    expected_size: int | None = None,
    max_bytes: int | None = None,
    reject_html: bool = False,
    progress: bool,
    timeout_s: tuple[float, float],
    http_advice: str = "Check the URL; with a mirror, check that it holds this file under the same path",
    validator: Path | None = None,
) -> bool:
    """One request: write to ``part`` (resuming with ``Range``) until the body ends.

    Returns whether the body's end was announced (a ``Content-Length``, or ``expected_size``):
    ``False`` for a body that just stopped (chunked or ended by closing the connection), which a
    cut connection cannot be told apart from.

    With ``max_bytes``, the bytes received are counted (a body without ``Content-Length`` stops at
    the limit) and the download does not start, or stops, when the folder's free space falls below
    what the rest may still need (up to the limit, or the announced size) plus
    :data:`FREE_SPACE_MARGIN_BYTES`; either way the partial file is removed.

    With ``validator`` (files without a pinned hash), the response's strong ``ETag`` or its
    ``Last-Modified`` is kept in that file and a resume sends it as ``If-Range``: a server whose
    file changed in between answers with the whole new file instead of splicing its tail onto the
    old head. A partial file without a validator is not resumed but downloaded again.

    Raises ``_TransientError`` for what a retry may fix (connection, timeout, HTTP 5xx/429, a body
    cut short), :class:`DownloadError` for what it cannot (HTTP 4xx, an HTML page, too large, disk
    full). A complete body shorter than ``expected_size`` is left for verification to reject.
    """
    import requests
    from tqdm.auto import tqdm

    shown = redact_url(url)  # the URL as messages show it (no credentials, no query)
    origin = label if label in (url, shown) else f"{label} from {shown}"
    have = _own_part_size(part, label)
    if expected_size is not None and have >= expected_size:
        return True  # complete (or too long): verification decides
    headers = {"Range": f"bytes={have}-"} if have else {}
    if have and validator is not None:
        known = _read_validator(validator)
        if known:
            headers["If-Range"] = known
        else:  # nothing tells whether the server's file is still the one we have the head of
            log.info("%s: no ETag or Last-Modified to resume against; starting over", label)
            headers, have = {}, 0
    try:
        # identity: the bytes counted against sizes and limits are the bytes that land on disk
        response = requests.get(url, headers={"Accept-Encoding": "identity", **headers}, stream=True, timeout=timeout_s)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _TransientError(f"cannot connect: {type(exc).__name__}") from None
    except requests.RequestException as exc:  # bad redirect chain, invalid URL or schema...
        raise DownloadError(f"cannot download {origin}: {type(exc).__name__}: {redact_text(str(exc), url)}") from None
    who = "the server" if label in (url, shown) else shown
    with response:
        status = response.status_code
        if status == 416:  # our offset is past the end: the part file is stale
            part.unlink(missing_ok=True)
            raise _TransientError("server rejected the resume offset (HTTP 416); starting over")
        if status >= 500 or status == 429:
            raise _TransientError(f"HTTP {status} {response.reason}")
        if status >= 400:
            raise DownloadError(
                f"cannot download {label}: {who} answered HTTP {status} {response.reason}. {http_advice}"
            )
        ctype = response.headers.get("Content-Type", "")
        if reject_html and ctype.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"cannot download {label}: {who} answered HTTP {status} with an HTML page "
                f"(Content-Type {ctype}), not a file; this is usually a web page, a login or a consent page. "
                "Use the direct link to the file (e.g. 'raw' on GitHub) or download it and pass its path"
            )
        range_ok = response.headers.get("Content-Range", "").startswith(f"bytes {have}-")
        if status == 206 and not range_ok:  # another range than asked for: never splice it in
            part.unlink(missing_ok=True)
            raise _TransientError("server answered another byte range than requested; starting over")
        resumed = bool(have) and status == 206
        if resumed and validator is not None and not _same_version(headers["If-Range"], response.headers):
            # A server that honours Range but ignores If-Range: its tail belongs to another version.
            part.unlink(missing_ok=True)
            validator.unlink(missing_ok=True)
            raise _TransientError("the file changed on the server since the first attempt; starting over")
        if have and not resumed:
            log.info("%s: server ignored the Range request (or the file changed); starting over", label)
            have = 0
        if validator is not None and not resumed:
            # The old head goes before the new version's validator is kept: an interrupt in
            # between must never leave a head of one version under the validator of another.
            part.unlink(missing_ok=True)
            _keep_validator(validator, response.headers)
        announced = response.headers.get("Content-Length")
        # A compressed body (sent although we asked for identity) announces its compressed size,
        # not what it decodes to: its length counts as unannounced (the limit still counts bytes).
        coding = response.headers.get("Content-Encoding", "").strip().lower()
        plain = coding in ("", "identity")
        body_bytes = int(announced) if plain and announced is not None and announced.isdigit() else None
        total = expected_size if expected_size is not None else None if body_bytes is None else have + body_bytes
        if max_bytes is not None and total is not None and total > max_bytes:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"cannot download {label}: it is {_human(total)}, over the limit of {_human(max_bytes)}; "
                + LIMIT_ADVICE
            )
        bound = None if max_bytes is None else max_bytes if total is None else min(total, max_bytes)
        low_space = None if bound is None else _low_space(part.parent, bound - have)
        if low_space:
            part.unlink(missing_ok=True)
            raise DownloadError(f"cannot download {label}: {low_space}")
        bar = tqdm(
            total=total,
            initial=have,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=Path(urlsplit(url).path).name or label,
            disable=not progress,
            leave=True,
        )
        received, next_check = 0, FREE_SPACE_CHECK_BYTES
        try:
            fd = _open_part(part, append=resumed, have=have, label=label)
            with open(part, "ab" if resumed else "wb", opener=lambda _path, _flags: fd) as f:
                for chunk in response.iter_content(CHUNK_BYTES):
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if bound is None:
                        continue
                    if have + received > bound:
                        break
                    if received >= next_check:
                        next_check += FREE_SPACE_CHECK_BYTES
                        if low_space := _low_space(part.parent, bound - have - received):
                            break
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise _TransientError(f"connection dropped after {_size_of(part)}: {type(exc).__name__}") from None
        except requests.RequestException as exc:  # e.g. a body that fails to decompress
            raise DownloadError(
                f"cannot download {origin}: {type(exc).__name__}: {redact_text(str(exc), url)}"
            ) from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DownloadError(
                    f"the disk is full while writing {part} ({_size_of(part)} of {_human(total)}); "
                    "free some space and run again (it resumes)"
                ) from None
            raise
        finally:
            bar.close()
    size = have + received
    if low_space:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"stopped downloading {label} after {_human(size)}: {low_space}; the partial download was removed"
        )
    if max_bytes is not None and size > max_bytes:
        part.unlink(missing_ok=True)
        announced_size = "" if total is not None else " (the server announced no size)"
        raise DownloadError(
            f"cannot download {label}: it is over the limit of {_human(max_bytes)}: stopped after receiving "
            f"{_human(size)}{announced_size}, and the partial download was removed; " + LIMIT_ADVICE
        )
    complete_body = body_bytes is not None and received == body_bytes
    if total is not None and size < total and not complete_body:
        # The connection ended early; a complete but short body is another file (verify says so).
        raise _TransientError(f"body ended at {_human(size)} of {_human(total)}")
    return total is not None


def _low_space(folder: Path, rest_bytes: int) -> str | None:
    """Why ``folder`` has too little room for ``rest_bytes`` more plus the margin, or ``None``."""
    free = shutil.disk_usage(folder).free
    need = max(rest_bytes, 0) + FREE_SPACE_MARGIN_BYTES
    if free >= need:
        return None
    return (
        f"{folder} has {_human(free)} free, but the rest of this download may need up to {_human(max(rest_bytes, 0))} "
        f"and {_human(FREE_SPACE_MARGIN_BYTES)} must stay free; free some space, download into another folder "
        "(AR_DATA_DIR), or lower the limit (--max-download-mb / AR_MAX_DOWNLOAD_MB)"
    )


def _is_own_file(st: os.stat_result) -> bool:
    """A plain file with one name that belongs to this user: a partial download we may resume."""
    owner_ok = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and owner_ok


def _own_part_size(part: Path, label: str) -> int:
    """The size of ``part`` to resume from; 0 when absent, or when it is not ours (then it is removed)."""
    try:
        st = part.lstat()  # never follow a link to measure (and later append to) its target
    except FileNotFoundError:
        return 0
    if _is_own_file(st):
        return st.st_size
    log.warning("%s: %s is not a partial download of this user (a link or a shared file); replacing it", label, part)
    _remove(part, label)
    return 0


def _remove(path: Path, label: str) -> None:
    try:
        path.unlink(missing_ok=True)  # removes a link itself, never its target
    except OSError as exc:
        raise DownloadError(
            f"cannot download {label}: {path} is in the way and cannot be removed ({exc.strerror or exc}); "
            "remove it and run again"
        ) from None


def _open_part(part: Path, *, append: bool, have: int, label: str) -> int:
    """A descriptor to write ``part`` through: a new file (``O_EXCL``), or ours to append to.

    Neither follows a symbolic link: a link planted under the name since :func:`_own_part_size`
    looked is never written through.
    """
    if append:
        try:
            fd = os.open(part, os.O_WRONLY | os.O_APPEND | _NOFOLLOW | _NONBLOCK | _BINARY)
        except OSError:  # gone, or a link (ELOOP) or a FIFO put there meanwhile
            _remove(part, label)
            raise _TransientError("the partial file changed while resuming; starting over") from None
        st = os.fstat(fd)
        if _is_own_file(st) and st.st_size == have:
            return fd
        os.close(fd)
        _remove(part, label)
        raise _TransientError("the partial file changed while resuming; starting over")
    _remove(part, label)
    return _create_new(part, label)


def _create_new(path: Path, label: str) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o666)
    except FileExistsError:
        raise DownloadError(
            f"cannot download {label}: something else keeps creating {path} in the cache folder; "
            "check who else writes there, or use a folder of your own"
        ) from None


def _verify_part(remote: RemoteFile, url: str, part: Path) -> None:
    got_size = part.stat().st_size
    got = file_digest(part, remote.algorithm)
    if (remote.size_bytes is None or got_size == remote.size_bytes) and got == remote.digest:
        return
    part.unlink()
    what = "size and hash" if remote.size_bytes not in (None, got_size) else remote.algorithm
    raise ChecksumMismatchError(
        f"{remote.name} from {redact_url(url)}: {what} mismatch: expected "
        f"{_sized(remote.size_bytes)}{remote.algorithm} {remote.digest}, received "
        f"{_sized(got_size)}{remote.algorithm} {got}; the download was removed. The server or "
        "mirror holds other bytes than the pinned release: check the URL "
        "(--base-url / AR_MODEL_BASE_URL) and run again"
    )


def _sized(n: int | None) -> str:
    return "" if n is None else f"{n} bytes, "


def _size_of(path: Path) -> str:
    try:
        return _human(path.lstat().st_size)
    except FileNotFoundError:
        return _human(0)


def _human(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _keep_validator(path: Path, headers) -> None:
    """Store what identifies this version of the file for ``If-Range`` (RFC 9110 §13.1.5).

    A strong ETag; else, when the response has no ETag at all, a Last-Modified date that is strong
    (at least 1 s before the response's Date). Otherwise nothing: the next attempt starts over.
    """
    value = _strong_validator(headers)
    path.unlink(missing_ok=True)  # a link put there is removed, never written through
    if value and _VALIDATOR.fullmatch(value):
        with open(path, "w", encoding="ascii", opener=lambda _path, _flags: _create_new(path, str(path))) as f:
            f.write(value)


def _read_validator(path: Path) -> str:
    """The validator kept beside a partial download, or ``""`` when absent or not one of ours.

    Read without following a link (a link could name any file of the user's, whose text would go
    to the server as ``If-Range``), at most a few hundred characters, and only in a validator's form.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY)
    except OSError:  # absent, or a link (ELOOP)
        return ""
    with open(fd, "rb") as f:
        if not _is_own_file(os.fstat(f.fileno())):
            return ""
        text = f.read(_MAX_VALIDATOR_CHARS + 1).decode("ascii", errors="replace").strip()
    return text if _VALIDATOR.fullmatch(text) else ""


def _strong_validator(headers) -> str | None:
    from email.utils import parsedate_to_datetime

    etag = headers.get("ETag", "")
    if etag:
        return None if etag.startswith("W/") else etag  # a client holding an ETag must not send a date
    modified, date = headers.get("Last-Modified", ""), headers.get("Date", "")
    try:
        if modified and date and (parsedate_to_datetime(date) - parsedate_to_datetime(modified)).total_seconds() >= 1:
            return modified
    except (TypeError, ValueError):
        pass
    return None


def _same_version(sent: str, headers) -> bool:
    """Does a 206 answer belong to the version ``sent`` in ``If-Range`` named?"""
    current = headers.get("ETag") if sent.startswith('"') else headers.get("Last-Modified")
    return current is None or current == sent  # a 206 without the validator: the server matched it


def download_url(
    url: str,
    *,
    dest_dir: str | os.PathLike[str],
    progress: bool = True,
    max_bytes: int | None = None,
    probe: Callable[[Path], object] | None = None,
    timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    backoff_s: float = DEFAULT_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download an unpinned http(s) URL (e.g. a video the user names) once into ``dest_dir``.

    The file is named after the SHA-256 of the URL plus the URL's suffix, so the same URL maps to
    the same file and is not downloaded twice (delete the file to refresh it). Bytes stream into
    ``<name>.part`` and are renamed only once the body is complete (there is no pinned hash: a body
    as long as the server announced is the check). Dropped connections resume with ``Range`` and
    ``If-Range`` (the first response's strong ETag or Last-Modified, kept beside the ``.part``), so
    a file that changed on the server between two attempts is downloaded whole, never spliced; a
    server that sends neither gets the download started over.

    The size limit is counted on the bytes received, so a body without ``Content-Length`` (chunked,
    or an endless stream such as an MJPEG camera or a radio) stops at it; the download also does
    not start, or stops, when the free space of ``dest_dir`` falls below what the rest may still
    need (up to the limit, or the announced size when smaller) plus
    :data:`FREE_SPACE_MARGIN_BYTES` (256 MB). A body whose length was not announced may have been
    cut short by a dropped connection without anyone noticing: ``probe`` checks it before it
    becomes the cached file. A link planted under the file's name is not used but replaced.

    Args:
        url: the http(s) URL.
        dest_dir: cache folder (``data/downloads/`` for videos); created private to the user.
        progress: show a ``tqdm.auto`` bar.
        max_bytes: refuse bodies larger than this (default: ``AR_MAX_DOWNLOAD_MB``, else the upload
            limit; see :func:`actionrec.settings.max_download_bytes`).
        probe: ``probe(path)`` raises an :class:`~actionrec.errors.ActionRecError` when a body of
            unannounced length is not usable (for videos: it does not open as one); it is then
            removed and nothing is cached.
        timeout_s: (connect, read) timeouts of each request, in seconds.
        retries: retries of transient failures (connection, timeout, HTTP 5xx, short body).
        backoff_s: first retry delay; doubles on every retry.
        sleep: injected for tests.

    Returns:
        The complete file's path.

    Raises:
        DownloadError: not an http(s) URL, HTTP 4xx/5xx, an HTML page instead of a file, a body
            over ``max_bytes``, too little free disk space, a body of unannounced length that
            ``probe`` rejects, repeated network failure, or a full disk.
        ValueError: ``AR_MAX_DOWNLOAD_MB`` (or ``AR_MAX_UPLOAD_MB``) is malformed.

    Example:
        >>> download_url("https://example.org/clip.mp4", dest_dir="data/downloads")  # doctest: +SKIP
        PosixPath('data/downloads/5d2b...e1.mp4')
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL": an unclosed [
        raise DownloadError(f"cannot download {shown!r}: it is not a valid URL ({exc}); check its spelling") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(f"cannot download {shown!r}: only http:// and https:// URLs are supported")
    limit = settings.max_download_bytes() if max_bytes is None else max_bytes
    suffix = Path(parts.path).suffix.lower()
    if not (2 <= len(suffix) <= 6 and suffix[1:].isalnum()):
        suffix = ".bin"
    final = Path(dest_dir) / (hashlib.sha256(url.encode("utf-8")).hexdigest()[:24] + suffix)
    if final.is_symlink():  # not something this function wrote: download again (the rename replaces the link)
        log.warning("%s is a symbolic link, not a download of %s; downloading again", final, url)
    elif final.is_file():
        return final
    _make_cache_dir(final.parent)
    part = final.with_name(final.name + ".part")
    validator = final.with_name(final.name + ".part.validator")
    try:
        announced = _retrying(
            lambda: _stream(
                url,
                part,
                label=shown,
                max_bytes=limit,
                reject_html=True,
                progress=progress,
                timeout_s=timeout_s,
                http_advice="Check the URL (open it in a browser) or download the file yourself and pass its path",
                validator=validator,
            ),
            what=shown,
            part=part,
            advice="Check the URL and the network, then run again",
            retries=retries,
            backoff_s=backoff_s,
            sleep=sleep,
        )
        if not announced and probe is not None:
            _probe_part(url, part, probe)
        os.replace(part, final)
    finally:
        if not part.exists():  # complete, or failed for good: nothing left to resume against
            validator.unlink(missing_ok=True)
    return final


def _probe_part(url: str, part: Path, probe: Callable[[Path], object]) -> None:
    """Run ``probe`` on a body of unannounced length; remove it (and raise) when it is rejected."""
    try:
        probe(part)
    except ActionRecError as exc:
        size = _size_of(part)
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"cannot use {url}: the server sent {size} without announcing its length, so a dropped "
            f"connection cannot be told from the end, and what arrived is not usable ({exc}); nothing was "
            "kept. Run again, or download the file yourself and pass its path"
        ) from None
