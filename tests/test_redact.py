"""Secrets in source names: credentials and query strings never reach outputs, exports or errors."""

import pytest

from actionrec.download import download_url
from actionrec.errors import DownloadError, VideoOpenError
from actionrec.redact import redact_text, redact_url
from actionrec.results import Timeline
from actionrec.video import resolve_source
from tests.support.cli import run_actionrec
from tests.support.videos import make_video

SECRETS = ("viewer", "hunter2pw", "s3cr3tTOKEN", "fragSECRET")


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("https://viewer:hunter2pw@example.org/v.mp4?token=s3cr3tTOKEN", "https://***@example.org/v.mp4"),
        ("http://viewer@example.org:8080/a/v.mp4#fragSECRET", "http://***@example.org:8080/a/v.mp4"),
        ("rtsp://admin:pw@192.168.1.5:554/live?channel=1&key=k", "rtsp://***@192.168.1.5:554/live"),
        ("http://u:p@[2001:db8::1]:8443/v.mp4?x=1", "http://***@[2001:db8::1]:8443/v.mp4"),
        ("http://[::1]:8000/v.mp4", "http://[::1]:8000/v.mp4"),
        ("https://u:p@ss@host/v.mp4", "https://***@host/v.mp4"),  # userinfo ends at the last @
        ("https://host/people/a@b.mp4", "https://host/people/a@b.mp4"),  # an @ in the path is no userinfo
        ("https://host?user=a@b", "https://host"),
        ("HTTPS://Host/v.mp4?sig=abc", "HTTPS://Host/v.mp4"),
        ("s3+https://key:secret@bucket/x", "s3+https://***@bucket/x"),
        ("  https://u:p@h/v  ", "https://***@h/v"),
        ("data/clips/a@b.mp4", "data/clips/a@b.mp4"),  # no scheme: a path, unchanged
        ("/home/me/v.mp4?x=1", "/home/me/v.mp4?x=1"),
        ("user:pw@host/v.mp4", "user:pw@host/v.mp4"),
        ("C:\\videos\\clip.mp4", "C:\\videos\\clip.mp4"),
        ("camera 0", "camera 0"),
        ("", ""),
    ],
)
def test_redact_url_masks_userinfo_and_drops_query_and_fragment(given, shown):
    assert redact_url(given) == shown


def test_redact_text_removes_every_leftover_part():
    url = "http://viewer:hunter2pw@h:1/v.mp4?token=s3cr3tTOKEN#fragSECRET"
    text = f"Failed to parse: {url}; url: /v.mp4?token=s3cr3tTOKEN (viewer:hunter2pw)"
    out = redact_text(text, url)
    assert out == "Failed to parse: http://***@h:1/v.mp4; url: /v.mp4?*** (***)"
    assert redact_text("nothing here", "data/v.mp4") == "nothing here"


def test_api_names_hide_the_secrets():
    url = "https://viewer:hunter2pw@example.org/v.mp4?token=s3cr3tTOKEN"
    assert resolve_source(url, fetch=False).display == "https://***@example.org/v.mp4"
    assert resolve_source("rtsp://viewer:hunter2pw@cam/live?token=s3cr3tTOKEN").display == "rtsp://***@cam/live"
    timeline = Timeline(url, ("a",), (), window_s=1.0, stride_s=0.5, step_s=0.0625, clip_len=16, top_k=1)
    assert timeline.source == "https://***@example.org/v.mp4"
    with pytest.raises(VideoOpenError) as info:
        resolve_source("ftp://viewer:hunter2pw@example.org/v.mp4?token=s3cr3tTOKEN")
    assert "'ftp://***@example.org/v.mp4'" in str(info.value)
    assert not any(s in str(info.value) for s in SECRETS)


def test_download_errors_hide_the_secrets(http_server, tmp_path):
    base = http_server.url.replace("http://", "http://viewer:hunter2pw@")
    for url in (f"{base}/missing.mp4?token=s3cr3tTOKEN#fragSECRET", "http://viewer:hunter2pw@[::1/v?token=s3cr3tTOKEN"):
        with pytest.raises(DownloadError) as info:
            download_url(url, dest_dir=tmp_path, progress=False, retries=0)
        assert not any(s in str(info.value) for s in SECRETS), str(info.value)
        assert "***@" in str(info.value)
    http_server.add("v.mp4", b"x" * 100)
    http_server.set_fault("v.mp4", "500")
    with pytest.raises(DownloadError, match=r"downloading http://\*\*\*@127\.0\.0\.1:\d+/v\.mp4 failed") as info:
        download_url(f"{base}/v.mp4?token=s3cr3tTOKEN", dest_dir=tmp_path, progress=False, retries=0)
    assert not any(s in str(info.value) for s in SECRETS)


def test_cli_analyze_of_a_url_with_credentials_and_token_shows_and_exports_neither(
    tiny_model_dir, tiny_labels_file, http_server, tmp_path
):
    def red(i, t, img):
        img[:] = (20, 20, 230)

    clip = make_video(tmp_path / "red.mp4", fps=25, duration_s=2.0, size_wh=(160, 120), paint=red)
    http_server.add("clips/red.mp4", clip.read_bytes())
    base = http_server.url.replace("http://", "http://viewer:hunter2pw@")
    good = f"{base}/clips/red.mp4?token=s3cr3tTOKEN#fragSECRET"
    bad = f"{base}/clips/missing.mp4?token=s3cr3tTOKEN"
    out, data = tmp_path / "out", tmp_path / "data"
    flags = ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--out", str(out), "--no-progress"]
    r = run_actionrec(
        "analyze", good, bad, *flags, "--formats", "json,csv,vtt,mp4", env={"AR_DATA_DIR": str(data)}, timeout=300
    )
    assert r.returncode == 1, r.stderr
    shown = f"{http_server.url.replace('http://', 'http://***@')}/clips/red.mp4"
    assert r.stdout.startswith(f"{shown}: 3 windows over 2.0 s"), r.stdout
    assert f"FAILED {shown.replace('red', 'missing')}: " in r.stderr and "HTTP 404" in r.stderr
    assert "Traceback" not in r.stderr
    for secret in SECRETS:
        assert secret not in r.stdout and secret not in r.stderr, secret
    written = sorted(p.name for p in out.iterdir())
    assert written == ["red.annotated.mp4", "red.csv", "red.json", "red.vtt"]
    for path in [*out.iterdir(), *data.rglob("*")]:  # exports, the embedding cache, the download
        if path.is_file():
            blob = path.read_bytes()
            assert not any(s.encode() in blob for s in SECRETS), path
    assert f'"source": "{shown}"' in (out / "red.json").read_text()


def test_notebook_clip_errors_hide_the_secrets(http_server, tmp_path, monkeypatch):
    from actionrec.notebook.session import clip_for

    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path))
    base = http_server.url.replace("http://", "http://viewer:hunter2pw@")
    for video in (f"{base}/missing.mp4?token=s3cr3tTOKEN", "ftp://viewer:hunter2pw@h/v.mp4?token=s3cr3tTOKEN"):
        with pytest.raises(VideoOpenError, match=r"^AR_VIDEO='(http|ftp)://\*\*\*@") as info:
            clip_for(video, progress=False)
        assert not any(s in str(info.value) for s in SECRETS), str(info.value)
