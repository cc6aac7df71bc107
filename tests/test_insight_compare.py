"""A/B compare: configurations in processes of their own, agreement with the reference, shared embeddings.

The tiny models' FP16 and FP16-INT8 IRs are the same graph (identical outputs: agreement 1.0); a
model folder whose FP16-INT8 decoder swaps "red" and "green" disagrees exactly on the red windows
of the blue-then-red clip. Speeds are printed, never asserted; the memory floor is loose (a
process that imported OpenVINO holds far more than 20 MB).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.cli import run_actionrec
from tests.support.insight_models import build_permuted_decoder, write_model_dir
from tests.support.tiny_models import build_decoder

RED, GREEN = 2, 1


def blue_then_red(index: int, t: float, img: np.ndarray) -> None:
    img[:] = (200, 60, 40) if t < 2.0 else (40, 60, 200)


@pytest.fixture(scope="module")
def clip(video_factory):
    return video_factory("compare_blue_then_red.mp4", fps=25, duration_s=4.0, paint=blue_then_red)


@pytest.fixture(scope="module")
def same_precisions(clip, tiny_model_dir, tiny_labels_file, tmp_path_factory):
    """FP16 and FP16-INT8 (identical tiny IRs), and FP16 at another stride (same encoder set-up).

    Module-scoped, so it runs before the per-test isolated environment: the compile cache is
    given explicitly and the embedding cache is the comparison's own (``cache=False``).
    """
    from actionrec.insight import CompareConfig, compare

    configs = [
        CompareConfig(precision="FP16"),
        CompareConfig(precision="FP16-INT8"),
        CompareConfig(precision="FP16", stride_s=0.25),
        CompareConfig(precision="FP16", device="GPU"),  # no GPU here: skipped with the reason
    ]
    cc = tmp_path_factory.mktemp("compile_cache")
    return compare(clip, configs=configs, model_dir=tiny_model_dir, labels=tiny_labels_file, cache=False, cache_dir=cc)


def test_identical_outputs_agree_fully(same_precisions):
    print(same_precisions.to_text())
    ref, _, finer = same_precisions.runs
    assert [r.config.name for r in same_precisions.runs] == ["FP16 CPU", "FP16-INT8 CPU", "FP16 CPU 1/0.25s"]
    assert same_precisions.agreements[0] is None
    ag = same_precisions.agreements[1]
    assert (ag.windows, ag.top1_agreement, ag.spearman) == (ref.windows, 1.0, pytest.approx(1.0))
    assert ag.mean_abs_prob_diff < 1e-6
    # another stride: windows paired by centre; the same decoder on the same embeddings
    assert finer.windows == 2 * ref.windows - 1 and same_precisions.agreements[2].top1_agreement == 1.0
    assert same_precisions.agreements[2].windows == ref.windows
    for run in same_precisions.runs:
        assert run.peak_rss_mb > 20 and run.frames_decoded == 100 and run.compile_s >= 0


def test_embeddings_are_shared_where_the_encoder_set_up_is_the_same(same_precisions):
    ref, int8, finer = same_precisions.runs
    assert not ref.embeddings_cached and not int8.embeddings_cached  # another precision: encoded again
    assert finer.embeddings_cached and finer.encoder_ms == 0.0  # same precision, device and window: reused
    assert "(cached)" in same_precisions.to_text().splitlines()[4]


def test_an_absent_device_is_skipped_with_the_reason(same_precisions):
    ((name, reason),) = same_precisions.skipped
    assert name == "FP16 GPU" and "'GPU' is not available here; available: CPU" in reason
    assert "skipped FP16 GPU: device 'GPU' is not available here" in same_precisions.to_text()


def test_different_outputs_agree_less_and_the_cli_prints_and_writes_the_table(tmp_path, clip, tiny_labels_file):
    root = write_model_dir(
        tmp_path / "m", {"FP16": build_decoder, "FP16-INT8": lambda: build_permuted_decoder((RED, GREEN))}
    )
    out = tmp_path / "out"
    proc = run_actionrec(
        "compare", str(clip), "--precisions", "FP16,FP16-INT8", "--model-dir", str(root),
        "--labels", str(tiny_labels_file), "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    print(proc.stdout)
    header, ref_row, int8_row = proc.stdout.splitlines()[1:4]
    assert header.split()[:4] == ["configuration", "windows", "top-1", "agree"]
    assert ref_row.split()[:3] == ["FP16", "CPU", "(ref)"]
    doc = json.loads((out / "compare_blue_then_red.compare.json").read_text())
    assert doc["schema"] == "actionrec.compare/1" and doc["reference"] == "FP16 CPU"
    ag = doc["configurations"][1]["agreement"]
    agree = np.array(ag["window_agree"])
    centres = np.array(ag["window_times_s"])
    # the blue windows agree, the red ones (red wins there) are "green" for the swapped decoder
    assert agree[centres < 1.5].all() and not agree[centres > 2.6].any()
    assert 0.0 < ag["top1_agreement"] < 1.0 and ag["mean_abs_prob_diff"] > 0.05 and ag["spearman"] < 1.0
    assert int8_row.split()[:4] == ["FP16-INT8", "CPU", "7", f"{ag['top1_agreement']:.3f}"]
    assert (out / "compare_blue_then_red.compare.png").read_bytes().startswith(b"\x89PNG")


def test_a_failing_configuration_names_itself(tmp_path, clip, tiny_labels_file):
    from actionrec.errors import CompareError
    from actionrec.insight import CompareConfig, compare

    root = write_model_dir(tmp_path / "m", {"FP16": build_decoder, "FP32": build_decoder})
    (root / "action-recognition-0001-decoder" / "FP32" / "action-recognition-0001-decoder.bin").write_bytes(b"x")
    configs = [CompareConfig(precision="FP16"), CompareConfig(precision="FP32")]
    with pytest.raises(CompareError, match=r"configuration FP32 CPU failed \(exit code 1\): ModelNotFoundError"):
        compare(clip, configs=configs, model_dir=root, labels=tiny_labels_file, cache=False)


def test_fewer_than_two_configurations_is_refused():
    from actionrec.insight import CompareConfig, compare

    with pytest.raises(ValueError, match="two or more distinct configurations, got FP16 CPU, FP16 CPU"):
        compare("clip.mp4", configs=[CompareConfig(), CompareConfig()])
    with pytest.raises(ValueError, match=r"window_s and stride_s must be > 0 seconds, got 1\.0, 0"):
        CompareConfig(stride_s=0)


def test_agreement_measures():
    from actionrec.insight import agreement, spearman

    rng = np.random.default_rng(1)
    a = rng.dirichlet(np.ones(20), size=6)
    centres = np.arange(6) * 0.5 + 0.5
    same = agreement(a, centres, a.copy(), centres)
    assert (same.top1_agreement, same.mean_abs_prob_diff, same.spearman) == (1.0, 0.0, 1.0)
    b = a[:, ::-1].copy()  # every ranking reversed
    other = agreement(a, centres, b, centres)
    assert other.spearman < 0 and other.mean_abs_prob_diff > 0
    assert spearman(np.array([0.2, 0.2, 0.6]), np.array([0.1, 0.1, 0.8])) == 1.0
