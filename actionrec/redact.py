"""Names of sources that are safe to show: no credentials, no query strings.

A URL may carry secrets: ``https://user:password@host/clip.mp4?token=...``, a signed link, an
``rtsp://admin:pw@camera/stream``. Every name that is displayed or exported (``VideoInfo.source``,
``Timeline.source``, the JSON export, the CLI summary and ``FAILED`` lines, error messages,
notebook outputs) goes through :func:`redact_url`: the user part (``user:password@``) becomes
``***@`` (the user name too: tokens often stand there) and the query string and fragment are
dropped, for every scheme. What is opened or downloaded is the URL as given.

Example:
    >>> redact_url("https://me:secret@example.org:8443/v.mp4?token=abc#t=3")
    'https://***@example.org:8443/v.mp4'
    >>> redact_url("data/clips/a@b.mp4")
    'data/clips/a@b.mp4'
"""

from __future__ import annotations

import re

# scheme "://" authority (up to the first / ? #) then the rest (RFC 3986, section 3).
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<authority>[^/?#]*)(?P<path>[^?#]*)(?P<rest>.*)$", re.S)
HIDDEN = "***"


def redact_url(source: str) -> str:
    """``source`` as it may be shown: a URL without its credentials, query string and fragment.

    Args:
        source: a URL (any scheme, e.g. ``https://``, ``rtsp://``) or anything else (a path, a
            description such as ``"camera 0"``), which is returned unchanged.

    Returns:
        For a URL ``scheme://[userinfo@]host[:port]/path[?query][#fragment]``:
        ``scheme://[***@]host[:port]/path``; the userinfo ends at the authority's last ``@``
        (an ``@`` in the path is kept), IPv6 hosts and ports are kept.

    Example:
        >>> redact_url("rtsp://admin:pw@[fe80::1]:554/live?channel=1")
        'rtsp://***@[fe80::1]:554/live'
    """
    match = _URL.match(source.strip()) if isinstance(source, str) else None
    if match is None:
        return source
    authority = match["authority"]
    if "@" in authority:
        authority = f"{HIDDEN}@{authority.rpartition('@')[2]}"
    return f"{match['scheme']}{authority}{match['path']}"


def redact_text(text: str, url: str) -> str:
    """``text`` (e.g. an exception message) with the secrets of ``url`` replaced by ``***``.

    Libraries put parts of the URL they were given in their messages (the whole URL, or only its
    path and query); this replaces the URL with :func:`redact_url`'s form, then any leftover
    user info, query string or fragment of it.

    Example:
        >>> redact_text("Max retries exceeded with url: /v.mp4?token=abc", "http://h/v.mp4?token=abc")
        'Max retries exceeded with url: /v.mp4?***'
    """
    match = _URL.match(url.strip()) if isinstance(url, str) else None
    if match is None:
        return text
    out = text.replace(url.strip(), redact_url(url))
    query, _, fragment = match["rest"].partition("#")
    secrets = [query[1:], fragment]  # without their "?" / "#"
    if "@" in match["authority"]:
        secrets.append(match["authority"].rpartition("@")[0])
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            out = out.replace(secret, HIDDEN)
    return out
