"""A ``127.0.0.1`` HTTP server serving files from memory, with fault injection.

Faults (per path, set with :meth:`FaultServer.set_fault`):

- ``"wrong_bytes"``: same length, other bytes;
- ``"truncate"``: announces the full length, sends half, closes (every time);
- ``"drop_once"``: like ``truncate`` on the first request only, then honours ``Range``;
- ``"ignore_range"``: always answers 200 with the whole body (after a first dropped request);
- ``"404"``, ``"500"``, or any other status code: that status every time; ``"500_once"`` and
  ``"429_once"`` fail one request with it, then work;
- ``"stall"``: sends the headers and a few bytes, then sleeps past any client timeout;
- ``"html"``: answers 200 with an HTML page instead of the file (as :attr:`FaultServer.html_type`);
- ``"slow"``: sends 16 KB every 50 ms (to kill a client mid-download);
- ``"wrong_range"``: drops the first request mid-file, then answers a ``Range`` request with 206
  and the whole body labelled ``bytes 0-`` (another range than asked for);
- ``"chunked"``: the whole body with ``Transfer-Encoding: chunked`` and no ``Content-Length``;
- ``"no_length"``: the whole body with neither, ended by closing the connection (HTTP/1.0 style);
- ``"no_length_drop_once"``: the first request gets half the body that way (no length, closed: the
  client cannot tell it from the end), then ``Range`` is honoured with lengths;
- ``"endless"``: no length, the file's bytes sent over and over (an MJPEG camera, a radio), until
  the client goes away or :attr:`FaultServer.endless_max_bytes` are sent;
- ``"gzip"``: the body gzip-compressed (whatever the client's ``Accept-Encoding``), with the
  compressed size as ``Content-Length`` (a misconfigured server, or a decompression bomb);
- ``"bad_gzip"``: labelled gzip, but the body is not gzip (it cannot be decoded).

With a fault set, ``Range`` is ignored for the last three (they answer 200 with the whole body).

Every request is logged as ``(path, range_header_or_None)`` in :attr:`FaultServer.requests`, and
its ``If-Range`` header (or ``None``) in :attr:`FaultServer.if_ranges`, its ``Accept-Encoding`` in
:attr:`FaultServer.accept_encodings`. A file's answer carries :attr:`FaultServer.content_type` (``None``:
no ``Content-Type``) and :attr:`FaultServer.extra_headers`. :attr:`FaultServer.on_request`,
when set, is called with ``(path, range_header_or_None)`` before each answer (a test acting on the
client's files while its request is open); :attr:`FaultServer.on_drop` with ``(path,)`` after half a
dropped body is sent, before the connection closes.
Responses carry an ``ETag`` of the current bytes (:attr:`FaultServer.etags`: strong, weak or none),
and a ``Range`` request whose ``If-Range`` names another version gets the whole file (200) unless
:attr:`FaultServer.honour_if_range` is off.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FaultServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.if_ranges: list[str | None] = []
        self.endless_max_bytes = 64 * 1024**2  # an "endless" body stops here (a test on old code ends)
        self.endless_sent = 0  # bytes of the last "endless" body sent
        self._served: dict[str, int] = {}
        self.stall_s = 5.0
        self.etags: str | None = "strong"  # "strong", "weak" (W/"...") or None
        self.honour_if_range = True  # False: a CDN that honours Range but ignores If-Range
        self.last_modified: str | None = "Mon, 01 Jan 2024 00:00:00 GMT"  # sent with every file
        self.html_type = "text/html"  # the Content-Type of the "html" fault's page
        self.on_request = None  # called with (path, range) before each answer
        self.on_drop = None  # called with (path,) after half a dropped body is sent, before closing
        self.date: str | None = None  # the Date header of every answer (None: the current time)
        self.accept_encodings: list[str | None] = []
        self.content_type: str | None = "application/octet-stream"
        self.extra_headers: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                server._handle(self)

            def date_time_string(self, timestamp=None) -> str:  # the Date header
                return server.date or super().date_time_string(timestamp)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # shutdown() waits for serve_forever to look again: every 50 ms, not its default 0.5 s per test
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, rel_path: str, data: bytes) -> str:
        """Serve ``data`` at ``/rel_path``; returns the full URL."""
        self.files["/" + rel_path.lstrip("/")] = data
        return f"{self.url}/{rel_path.lstrip('/')}"

    def add_tree(self, root: Path, prefix: str = "") -> None:
        for p in root.rglob("*"):
            if p.is_file():
                self.add(f"{prefix}{p.relative_to(root).as_posix()}", p.read_bytes())

    def set_fault(self, rel_path: str, fault: str | None) -> None:
        key = "/" + rel_path.lstrip("/")
        if fault is None:
            self.faults.pop(key, None)
        else:
            self.faults[key] = fault

    def ranged(self) -> list[tuple[str, str]]:
        return [(p, r) for p, r in self.requests if r]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- request handling -------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        rng = h.headers.get("Range")
        self.requests.append((path, rng))
        self.if_ranges.append(h.headers.get("If-Range"))
        self.accept_encodings.append(h.headers.get("Accept-Encoding"))
        if self.on_request is not None:
            self.on_request(path, rng)
        count = self._served.get(path, 0)
        self._served[path] = count + 1
        fault = self.faults.get(path)
        data = self.files.get(path)
        if data is None or fault == "404":
            return self._send(h, 404, b"not found")
        if fault in ("500_once", "429_once") and count == 0:
            return self._send(h, int(fault[:3]), b"try again")
        if fault is not None and fault.isdigit():
            return self._send(h, int(fault), b"refused")
        if fault == "html":
            return self._send(h, 200, b"<!doctype html><html><body>Sign in</body></html>", self.html_type)
        if fault in ("chunked", "no_length", "endless"):
            return self._send_unannounced(h, data, fault)
        if fault == "no_length_drop_once" and count == 0:
            return self._send_unannounced(h, data[: len(data) // 2], "no_length")
        if fault in ("gzip", "bad_gzip"):
            import gzip

            body = gzip.compress(data) if fault == "gzip" else b"not gzip at all " * 64
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Encoding", "gzip")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        if fault == "wrong_bytes":
            data = bytes((b + 1) % 256 for b in data[:4096]) + data[4096:]
        start = 0
        etag = f'"{hashlib.sha1(data).hexdigest()}"'
        if self.etags == "weak":
            etag = "W/" + etag
        if rng and self.honour_if_range and h.headers.get("If-Range") not in (None, etag, self.last_modified):
            rng = None  # the client holds the head of another version: send the whole file
        if rng and fault == "wrong_range":
            h.send_response(206)
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Content-Range", f"bytes 0-{len(data) - 1}/{len(data)}")
            h.end_headers()
            h.wfile.write(data)
            return
        if rng and fault != "ignore_range":
            m = re.fullmatch(r"bytes=(\d+)-", rng)
            if m:
                start = int(m.group(1))
                if start >= len(data):
                    return self._send(h, 416, b"")
        body = data[start:]
        h.send_response(206 if start else 200)
        if self.content_type is not None:
            h.send_header("Content-Type", self.content_type)
        for name, value in self.extra_headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Accept-Ranges", "bytes")
        if self.etags:
            h.send_header("ETag", etag)
        if self.last_modified:
            h.send_header("Last-Modified", self.last_modified)
        h.end_headers()
        if fault == "stall":
            h.wfile.write(body[:10])
            h.wfile.flush()
            time.sleep(self.stall_s)
            h.close_connection = True
            return
        if fault == "slow":
            for i in range(0, len(body), 16384):
                h.wfile.write(body[i : i + 16384])
                h.wfile.flush()
                time.sleep(0.05)
            return
        drop = fault == "truncate" or (fault in ("drop_once", "ignore_range", "wrong_range") and count == 0)
        if drop:
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            if self.on_drop is not None:
                self.on_drop(path)
            h.close_connection = True
            return
        h.wfile.write(body)

    def _send_unannounced(self, h: BaseHTTPRequestHandler, data: bytes, fault: str) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        if fault == "chunked":
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = fault != "chunked"
        if fault == "chunked":
            for i in range(0, len(data), 65536):
                piece = data[i : i + 65536]
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            h.wfile.write(b"0\r\n\r\n")
            return
        if fault == "no_length":
            h.wfile.write(data)
            return
        self.endless_sent = 0
        try:
            while self.endless_sent < self.endless_max_bytes:
                h.wfile.write(data)
                self.endless_sent += len(data)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: what we expect
            pass

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "text/plain") -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
