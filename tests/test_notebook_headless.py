"""The tutorial notebook, run headless (nbclient) as a user would run it, twice in one kernel.

The kernel sees tiny colour-dependent models (``AR_MODEL_DIR``, ``AR_LABELS``; the driver model's
beside them, with ``AR_DRIVER_LABELS``), a 4 s synthetic
video that is blue for 2 s then red (``AR_VIDEO``) and ``AR_MAX_SECONDS=3``; it runs from a temp
copy of the project files, so the run writes into the copy's ``data/`` and ``model/``, never the
repository's. No network is used. Also here: the notebook's hygiene (stripped outputs, tagged
parameters cell, short cells), its lazy imports, and the plotting and upload helpers in-process.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from support.notebooks import tiny_parameters, with_parameters
from support.tiny_models import tiny_driver_labels

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "action_recognition.ipynb"
MAX_SECONDS = 3.0
HEAVY = ("openvino", "ipywidgets", "anywidget", "matplotlib", "IPython", "cv2")


def blue_then_red(index: int, t: float, img: np.ndarray) -> None:
    img[:] = (200, 60, 40) if t < 2.0 else (40, 60, 200)  # BGR


def copy_project(dest: Path) -> Path:
    """The files a user's checkout needs to run the notebook, copied to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "actionrec", dest / "actionrec", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "notebook_utils.py", dest)
    shutil.copy2(NOTEBOOK, dest)
    return dest


def _texts(cell) -> tuple[str, str, list[str]]:
    """(stdout, stderr, other outputs' text/plain + text/html) of one executed cell."""
    out, err, data = [], [], []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            (out if o["name"] == "stdout" else err).append(o["text"])
        elif o["output_type"] == "error":
            err.append(f"{o['ename']}: {o['evalue']}")
        else:
            data += [str(o["data"].get(k, "")) for k in ("text/plain", "text/html")]
    return "".join(out), "".join(err), data


def _cell(nb, snippet: str):
    matches = [c for c in nb.cells if c.cell_type == "code" and snippet in c.source]
    assert len(matches) == 1, f"expected one code cell containing {snippet!r}, found {len(matches)}"
    return matches[0]


def _seconds(cell) -> float:
    timing = cell.metadata["execution"]  # recorded by nbclient
    start, end = (datetime.fromisoformat(timing[k]) for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir, tiny_labels_file, tiny_driver_labels_file, video_factory):
    """The notebook executed twice ("Run All" twice) in one kernel: (first, second, project copy)."""
    import nbformat
    from nbclient import NotebookClient

    project = copy_project(tmp_path_factory.mktemp("project"))
    video = video_factory("blue_then_red.mp4", fps=25, duration_s=4.0, paint=blue_then_red)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AR_")}
    env.update(
        AR_MODEL_DIR=str(tiny_model_dir),
        AR_LABELS=str(tiny_labels_file),
        AR_DRIVER_LABELS=str(tiny_driver_labels_file),
        AR_VIDEO=str(video),
        AR_MAX_SECONDS=str(MAX_SECONDS),
        PYTHONPATH=str(project),
        # Any attempt to reach the network fails fast instead of passing unnoticed.
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        NO_PROXY="",
    )
    nb = with_parameters(nbformat.read(project / NOTEBOOK.name, as_version=4), tiny_parameters(project, video=video))
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(project)}})
    done = []
    with client.setup_kernel(env=env, cwd=str(project)):
        for _ in range(2):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            done.append(copy.deepcopy(nb))
    return done[0], done[1], project


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("run", [0, 1], ids=["first", "second"])
def test_notebook_runs_headless_and_shows_results(runs, run):
    nb, project = runs[run], runs[2]
    for cell in nb.cells:
        if cell.cell_type == "code":
            _, err, _ = _texts(cell)
            assert err == "", f"error output in cell {cell.source[:60]!r}:\n{err}"

    assert "top-1: red (" in _texts(_cell(nb, "nu.decode_window"))[0]
    summary = _texts(_cell(nb, "recognizer.analyze(clip)"))[0]
    assert re.search(r"blue\s+\(\d+%\)[\s\S]*red\s+\(\d+%\)", summary), summary
    assert "Longest certain segment" in summary

    timeline_plot = "plot_timeline(timeline, top_n=5, threshold=THRESHOLD)"
    for snippet in ("show_frame_with_crop", "window_strip", "embedding_heatmap", "topk_bars", timeline_plot):
        outputs = _cell(nb, f"nu.{snippet}").outputs
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{snippet} shows no picture"

    out = project / "data" / "out"
    doc = json.loads((out / "blue_then_red.json").read_text())
    assert [s["label"] for s in doc["segments"] if not s["uncertain"]] == ["blue", "red"]
    assert (out / "blue_then_red.csv").read_text().startswith("window,start_s,end_s")
    assert "blue" in (out / "blue_then_red.vtt").read_text()
    assert (out / "blue_then_red.annotated.mp4").stat().st_size > 1000
    links = "".join(_texts(_cell(nb, "nu.file_links"))[2])
    assert 'href="data/out/blue_then_red.json"' in links
    view = "application/vnd.jupyter.widget-view+json"  # the timeline widget constructs without a front end
    assert any(view in o.get("data", {}) for o in _cell(nb, 'video=paths["mp4"], threshold=THRESHOLD)').outputs)
    assert any(view in o.get("data", {}) for o in _cell(nb, "lanes=[grouped, custom], events=events").outputs)

    # Step 9: the colour groups of the injected parameters, from the cached decoder outputs
    grouped = _texts(_cell(nb, "nu.load_groups"))
    assert "groups: colours.json -> cool, warm, other" in grouped[0], grouped[0]
    assert re.search(r"cool\s+\(\d+%\)[\s\S]*warm\s+\(\d+%\)", grouped[0]), grouped[0]
    assert any("image/png" in o.get("data", {}) for o in _cell(nb, "nu.load_groups").outputs)
    widget = "application/vnd.jupyter.widget-view+json"
    assert any(widget in o.get("data", {}) for o in _cell(nb, "nu.GroupEditor").outputs)
    # Step 11: the red event (red from 2 s to 4 s), its thumbnail, the markers
    table = "".join(_texts(_cell(nb, "nu.detect_events"))[2])
    assert "red" in table and "data:image/jpeg;base64," in table, table[:500]
    rows = (out / "blue_then_red.events.csv").read_text().splitlines()[1:]
    assert [r.split(",")[1:4] for r in rows] == [["red", "2", "4"]], rows  # red from 2 s to the end
    assert (out / "blue_then_red.events" / "1.jpg").stat().st_size > 500
    assert any("image/png" in o.get("data", {}) for o in _cell(nb, "events=events)").outputs)

    # Step 10: two custom actions learnt from time ranges of the clip, checked leave-one-example-out
    learnt = _texts(_cell(nb, "nu.train_actions"))[0]
    assert "sky, fire (+ unknown)" in learnt and "4 of 4" in learnt, learnt
    assert sum("image/png" in o.get("data", {}) for o in _cell(nb, "nu.example_thumbnails").outputs) == 2
    custom = _texts(_cell(nb, "nu.CustomActions.load"))[0]
    assert re.search(r"sky\s+\(\d+%\)[\s\S]*fire\s+\(\d+%\)", custom), custom
    assert json.loads((out / "my-actions.json").read_text())["format"] == "actionrec.actions/1"

    # Step 14: which frames mattered, from the embeddings cached in step 8; step 15: FP16 against FP16-INT8
    explained = _texts(_cell(nb, "nu.explain("))[0]
    assert "window #3 1.50–2.50 s:" in explained and "embeddings: from the cache" in explained, explained
    assert "replaced by the neighbour" in explained and "moments over the video (7 windows)" in explained
    assert any("image/png" in o.get("data", {}) for o in _cell(nb, "nu.explain(").outputs)
    compared = _texts(_cell(nb, "nu.compare("))[0]  # the tiny FP16 and FP16-INT8 IRs are the same graph
    assert re.search(r"FP16-INT8 CPU\s+7\s+1\.000\s+0\.0000\s+1\.000", compared), compared
    assert any("image/png" in o.get("data", {}) for o in _cell(nb, "nu.compare(").outputs)

    # Another model: the driver model (its tiny IRs beside the main ones) with its own 9 labels, same clip
    described = _texts(_cell(nb, "nu.fetch_labels(DRIVER_MODEL"))[0]
    assert "compiled driver-action-recognition-adas-0002 FP16 on CPU" in described and "→ 9 classes" in described
    assert f"its 9 labels: {', '.join(tiny_driver_labels())}\n" in described, described
    driven = _texts(_cell(nb, "nu.Recognizer(driver, options=options)"))[0]
    assert re.search(r"driver blue\s+\(\d+%\)[\s\S]*driver red\s+\(\d+%\)", driven), driven
    assert any("image/png" in o.get("data", {}) for o in _cell(nb, "nu.plot_timeline(driver_timeline").outputs)

    choice = _texts(_cell(nb, "nu.choose_live_source"))[0]
    assert "Live source: the video file blue_then_red.mp4, played in real time." in choice
    assert "browser camera: no-front-end" in choice
    live = _cell(nb, "player.play")
    assert "stopped by max_seconds reached; no front end" in _texts(live)[0]
    assert _seconds(live) < MAX_SECONDS + 4.0, f"the live cell ran {_seconds(live):.1f} s"

    doctor = "".join(_texts(_cell(nb, "nu.doctor"))[2])
    assert re.search(r"^check\s+verdict\s+detail", doctor, re.MULTILINE)
    assert re.search(r"browser camera\s+SKIP\s+no front end", doctor)
    assert "decode H.264" in doctor


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_run_all_twice_gives_the_same_answers(runs):
    first, second, _ = runs
    for snippet in ("nu.decode_window", "recognizer.analyze(clip)", "nu.video_summary"):
        assert _texts(_cell(first, snippet))[0] == _texts(_cell(second, snippet))[0]


def test_notebook_is_committed_clean_and_thin():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    for name in ("AR_MODEL_DIR", "AR_MODEL_BASE_URL", "AR_PRECISION", "AR_DEVICE", "AR_VIDEO", "AR_MAX_SECONDS"):
        assert name in code[0].source
    for c in code:
        limit = 20 if c is code[0] else 15  # the parameters cell is a list of settings, one per line
        assert len(c.source.splitlines()) <= limit, f"cell too long: {c.source[:60]!r}"
        assert not c.outputs and c.execution_count is None
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and kinds.count("markdown") >= len(code) - 2
    check = subprocess.run([sys.executable, "-m", "nbstripout", "--verify", str(NOTEBOOK)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_notebook_utils_imports_nothing_heavy_until_used():
    code = (
        "import sys, notebook_utils as nu; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules)); "
        "nu.plot_timeline; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
    with pytest.raises(AttributeError, match="has no attribute 'nope'; available"):
        import notebook_utils

        notebook_utils.nope  # noqa: B018


# -- helpers behind the cells, in-process ---------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    from actionrec.models import compile_models, resolve_model

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"))


def test_hand_made_window_matches_the_engine(models, video_factory):
    from actionrec.notebook import session
    from actionrec.pipeline import Recognizer

    path = video_factory("blue_then_red.mp4", fps=25, duration_s=4.0, paint=blue_then_red)
    window = session.sample_window(path, models=models, start_s=2.0)
    prediction = session.decode_window(models, session.encode_window(models, window), window=window)
    timeline = Recognizer(models).analyze(path, progress=False, cache=False)
    engine = timeline.predictions[window.window_index]
    assert (window.window_index, window.start_s, window.end_s) == (4, 2.0, 3.0)
    assert prediction.labels == engine.labels
    assert np.allclose(prediction.scores, engine.scores, atol=1e-5)
    late = session.sample_window(path, models=models, start_s=30.0)  # past the end: the last full window
    assert late.window_index == len(timeline) - 1


def test_encode_window_rows_follow_the_frames_across_a_change(models, video_factory):
    # The frames go through several requests at once; each row must still be its own frame's
    # embedding (a window across the blue-to-red change: blue rows first, then red ones).
    from actionrec.notebook import session
    from actionrec.pipeline.preprocess import preprocess

    path = video_factory("blue_then_red.mp4", fps=25, duration_s=4.0, paint=blue_then_red)
    window = session.sample_window(path, models=models, start_s=1.5)
    rows = session.encode_window(models, window)
    request = models.encoder.create_infer_request()
    alone = [
        np.asarray(request.infer({0: preprocess(f.image_bgr, input_hw=models.input_size_hw).tensor})[0]).reshape(-1)
        for f in window.frames
    ]
    assert rows.shape == (16, models.embedding_dim) and rows.dtype == np.float32
    assert np.allclose(rows, np.stack(alone), atol=1e-5)
    assert not np.allclose(rows[0], rows[-1])  # the window does span the change


def test_upload_panel_shows_analysis_or_a_clear_error(models, video_factory, tmp_path):
    import ipywidgets

    from actionrec.notebook.panels import UploadPanel

    class FakeUpload(ipywidgets.HTML):  # the browser side is tested in tests/ui
        def on_upload(self, callback):
            self.callback = callback

    upload = FakeUpload()
    panel = UploadPanel(models, threshold=0.3, out_dir=tmp_path / "out", upload=upload)
    video = video_factory("blue_then_red.mp4", fps=25, duration_s=4.0, paint=blue_then_red)
    result = upload.callback(video).result(timeout_s=120)  # the analysis runs in a worker thread
    assert result is not None and (tmp_path / "out" / "blue_then_red.annotated.mp4").is_file()
    shown = [o["data"] for o in panel.output.outputs]
    assert "blue" in shown[0]["text/html"] and "image/png" in shown[1]
    assert "application/vnd.jupyter.widget-view+json" in shown[-1]  # the upload under its timeline widget

    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video")
    assert panel.analyse(junk) is None
    (shown,) = [o["data"]["text/html"] for o in panel.output.outputs]
    assert "notes.mp4 could not be analysed." in shown and "VideoOpenError" in shown and "ffmpeg -i" in shown


def test_timeline_plot_and_video_views(models, video_factory, tmp_path):
    from actionrec.notebook import display
    from actionrec.pipeline import Recognizer

    video = video_factory("blue_then_red.mp4", fps=25, duration_s=4.0, paint=blue_then_red)
    timeline = Recognizer(models).analyze(video, progress=False, cache=False)
    fig = display.plot_timeline(timeline, top_n=3, threshold=0.3)
    top, bottom = fig.axes
    assert {line.get_label() for line in top.get_lines()} == {"blue", "red", "brightening", "threshold 30%"}
    assert [t.get_text() for t in bottom.texts] == ["blue 97%", "uncertain", "red 97%"]
    assert fig._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="top_n must be >= 1"):
        display.plot_timeline(timeline, top_n=0)

    inside = tmp_path / "data" / "clip.mp4"
    inside.parent.mkdir()
    shutil.copy(video, inside)
    assert 'src="data/clip.mp4"' in display.video_html(inside, base_dir=tmp_path).data
    elsewhere = display.video_html(video, base_dir=tmp_path / "data").data
    assert 'src="data:video/mp4;base64,' in elsewhere
    links = display.file_links({"mp4": inside, "json": tmp_path / "gone.json"}, base_dir=tmp_path).data
    assert '<a href="data/clip.mp4"' in links and "gone.json" in links and "missing" in links
    with pytest.raises(FileNotFoundError, match="no video at"):
        display.video_html(tmp_path / "nothing.mp4")
