"""The notebook's few-shot step: the sample-clip examples, the confusion matrix, the thumbnails."""

import numpy as np
import pytest

from actionrec.heads import ActionExample, ActionsEvaluation, ExampleResult
from actionrec.notebook.actions_panel import (
    SAMPLE_RANGES,
    describe_actions,
    example_thumbnails,
    plot_confusion,
    sample_examples,
    upload_examples,
)
from tests.support.videos import solid


def evaluation():
    a = [ActionExample("waving", f"w{i}.mp4") for i in range(3)] + [
        ActionExample("clapping", f"c{i}.mp4") for i in range(2)
    ]
    predicted = ["waving", "waving", "unknown", "clapping", "waving"]
    results = tuple(ExampleResult(e, 4, p, 0.8) for e, p in zip(a, predicted, strict=True))
    return ActionsEvaluation(actions=("waving", "clapping"), results=results)


def test_sample_examples_are_three_ranges_of_each_sample_clip(tmp_path):
    clips = {"arm_wrestling": tmp_path / "a.mp4", "flipping_pancake": tmp_path / "p.mkv"}
    got = sample_examples(clips)
    assert [(e.action, e.source, e.start_s, e.end_s) for e in got] == [
        (action, str(clips[sample]), start, end)
        for action, (sample, ranges) in SAMPLE_RANGES.items()
        for start, end in ranges
    ]
    assert [e.describe() for e in upload_examples("waving", ["u/1.mp4", "u/2.mp4"])] == [
        "waving=u/1.mp4",
        "waving=u/2.mp4",
    ]


def test_the_confusion_matrix_shows_every_count_and_the_accuracy():
    ev = evaluation()
    fig = plot_confusion(ev)
    ax = fig.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells == {(i, j): str(n) for i, row in enumerate(ev.confusion) for j, n in enumerate(row)}
    assert cells[(0, 2)] == "1" and cells[(1, 0)] == "1"  # a waving example unknown, a clapping one taken for waving
    assert [t.get_text() for t in ax.get_xticklabels()] == ["waving", "clapping", "unknown"]
    assert ax.get_title() == "leave-one-example-out: 3 of 5 right (60%)"
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_thumbnails_show_each_example_at_the_middle_of_its_range(video_factory):
    def halves(index, t, img):
        img[:] = (0, 0, 200) if t < 1.0 else (200, 0, 0)  # red, then blue after 1 s

    path = video_factory("panel-halves.mp4", fps=30, duration_s=2.0, size_wh=(160, 120), paint=halves)
    grey = video_factory("panel-grey.mp4", fps=30, duration_s=1.0, size_wh=(160, 120), paint=solid((90, 90, 90)))
    examples = [
        ActionExample("red", str(path), 0.0, 0.8),
        ActionExample("blue", str(path), 1.2, 2.0),
        ActionExample("grey", str(grey)),
    ]
    fig = example_thumbnails(examples, columns=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3
    means = [ax.images[0].get_array()[60:, :, :].reshape(-1, 3).mean(axis=0) for ax in shown]  # RGB, below the stamp
    assert np.argmax(means[0]) == 0 and np.argmax(means[1]) == 2  # red at 0.4 s, blue at 1.6 s
    assert [ax.get_title().splitlines()[0] for ax in shown] == ["red", "blue", "grey"]
    assert shown[0].get_title().splitlines()[1] == "panel-halves.mp4 0-0.8 s"
    assert shown[2].get_title().splitlines()[1] == "panel-grey.mp4 whole clip"
    with pytest.raises(ValueError, match="no examples"):
        example_thumbnails([])


def test_describe_actions_names_the_classes_the_model_and_the_evaluation(
    tiny_model_dir, tiny_labels_file, video_factory
):
    from actionrec.heads import train_actions
    from actionrec.models import compile_models, resolve_model
    from actionrec.pipeline import Recognizer

    models = compile_models(resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file))
    clips = {
        name: video_factory(f"panel-{name}.mp4", fps=30, duration_s=3.0, size_wh=(160, 120), paint=solid(bgr))
        for name, bgr in (("red", (0, 0, 200)), ("blue", (200, 0, 0)))
    }
    examples = [f"{name}={path}@{a}-{b}" for name, path in clips.items() for a, b in ((0, 1.5), (1.5, 3))]
    head = train_actions(Recognizer(models), examples)
    text = describe_actions(head)
    assert text.splitlines()[0] == "actions: red, blue: red, blue (+ unknown)"
    assert "trained on 4 examples (" in text and "action-recognition-0001 FP32" in text
    assert "4 of 4 examples right (accuracy 100%)" in text
    fig = example_thumbnails(head)
    assert len([ax for ax in fig.axes if ax.images]) == 4
