"""``python -m actionrec fetch`` as a user runs it."""

import hashlib

from actionrec.models import get_model
from tests.support.cli import run_actionrec


def run_cli(*args, env=None):
    return run_actionrec(*args, env=env, timeout=120)


def test_fetch_wrong_bytes_exits_nonzero_names_file_and_hashes(http_server, tmp_path):
    spec = get_model("action-recognition-0001")
    first = spec.files("FP16")[0]
    rest = first.url.split("models_bin/1/", 1)[1]
    bogus = b"<?xml version='1.0'?><net name='not the real model'/>"
    http_server.add(rest, bogus)
    cache = tmp_path / "cache"
    r = run_cli(
        "fetch",
        "--model",
        spec.name,
        "--precision",
        "FP16",
        "--cache-dir",
        str(cache),
        "--base-url",
        http_server.url + "/",
        "--no-progress",
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and first.name in line
    assert first.digest in line and hashlib.sha384(bogus).hexdigest() in line
    assert not [p for p in cache.rglob("*") if p.is_file() and not p.name.endswith(".part")]


def test_fetch_with_model_dir_prints_paths(tiny_model_dir, tiny_labels_file):
    r = run_cli(
        "fetch", "--precision", "FP16-INT8", "--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file)
    )
    assert r.returncode == 0, r.stderr
    assert f"encoder: {tiny_model_dir}/action-recognition-0001-encoder/FP16-INT8/" in r.stdout
    assert "not hash-checked" in r.stdout


def test_fetch_unknown_model_one_line_error_and_verbose_traceback(tmp_path):
    r = run_cli("fetch", "--model", "nope", "--cache-dir", str(tmp_path))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "valid: action-recognition-0001" in r.stderr
    r = run_cli("--verbose", "fetch", "--model", "nope", "--cache-dir", str(tmp_path))
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_fetch_offline_with_empty_cache(tmp_path):
    r = run_cli("fetch", "--offline", "--cache-dir", str(tmp_path), env={"AR_PRECISION": "FP16-INT8"})
    assert r.returncode == 1 and "offline mode is on" in r.stderr
    assert "FP16-INT8" in r.stderr
