"""Model resolution (cache, mirror, model dir, offline), labels, and compiled-model facts."""

import json

import numpy as np
import pytest

from actionrec.errors import DeviceNotAvailableError, LabelsError, ModelNotFoundError, OfflineError
from actionrec.models import check_device, compile_models, load_labels, registry, resolve_model
from tests.conftest import shared_path
from tests.support.manifests import spec_for_model_dir


@pytest.fixture
def mirrored(tiny_model_dir, tiny_labels_file, http_server, monkeypatch):
    """The registry entry points at tiny models served by the local mirror."""
    spec = spec_for_model_dir(tiny_model_dir, tiny_labels_file)
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    http_server.add_tree(tiny_model_dir, "omz/action-recognition-0001/")
    http_server.add(f"data/test/labels/{tiny_labels_file.name}", tiny_labels_file.read_bytes())
    return dict(base_url=f"{http_server.url}/omz/", data_base_url=f"{http_server.url}/data/")


def test_mirror_fetch_then_offline_load_with_network_unreachable(mirrored, http_server, tmp_path):
    files = resolve_model(precision="FP16", cache_dir=tmp_path / "cache", progress=False, **mirrored)
    assert files.verified and files.encoder_xml.is_file()
    assert (
        files.encoder_xml == tmp_path / "cache/action-recognition-0001-encoder/FP16/action-recognition-0001-encoder.xml"
    )
    http_server.close()  # the network is now unreachable: a second run must not need it
    again = resolve_model(precision="FP16", cache_dir=tmp_path / "cache", progress=False, **mirrored)
    assert again == files
    models = compile_models(again, device="CPU", cache_dir=tmp_path / "cache")
    assert (models.clip_len, models.input_size_hw, models.embedding_dim, models.num_classes) == (
        16,
        (224, 224),
        512,
        400,
    )
    assert models.labels[:3] == ("blue", "green", "red")


def test_offline_flag_with_empty_cache_fails_clearly(mirrored, tmp_path):
    with pytest.raises(OfflineError, match=r"action-recognition-0001-encoder/FP16.*offline mode is on"):
        resolve_model(precision="FP16", cache_dir=tmp_path, offline=True, progress=False, **mirrored)


def test_model_dir_uses_files_in_place_without_download(tiny_model_dir, tiny_labels_file):
    files = resolve_model(precision="FP16-INT8", model_dir=tiny_model_dir, labels=tiny_labels_file)
    assert not files.verified
    assert files.decoder_xml.parent == tiny_model_dir / "action-recognition-0001-decoder/FP16-INT8"


def test_model_dir_missing_files_names_the_layout(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"OMZ layout DIR/action-recognition-0001-encoder/FP16/"):
        resolve_model(precision="FP16", model_dir=tmp_path, labels=tmp_path / "x.txt")


def test_env_model_dir_is_honoured(tiny_model_dir, tiny_labels_file, monkeypatch):
    monkeypatch.setenv("AR_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("AR_LABELS", str(tiny_labels_file))
    assert resolve_model(precision="FP32").encoder_xml.is_relative_to(tiny_model_dir)


def test_labels_json_text_and_count_check(tmp_path):
    j = tmp_path / "l.json"
    j.write_text(json.dumps({"1": "b", "0": "a", "2": "c"}))
    assert load_labels(j) == ("a", "b", "c")
    t = tmp_path / "l.txt"
    t.write_text("Safe driving\nTexting left\n\n")
    assert load_labels(t) == ("Safe driving", "Texting left")
    with pytest.raises(LabelsError, match="holds 2 labels but the decoder outputs 9 classes"):
        load_labels(t, num_classes=9)
    gap = tmp_path / "gap.json"
    gap.write_text(json.dumps({"0": "a", "2": "c"}))
    with pytest.raises(LabelsError, match="without gaps"):
        load_labels(gap)


def test_wrong_label_count_fails_at_compile(tiny_model_dir, tmp_path):
    labels = tmp_path / "nine.txt"
    labels.write_text("\n".join(f"l{i}" for i in range(9)))
    files = resolve_model(precision="FP16", model_dir=tiny_model_dir, labels=labels)
    with pytest.raises(LabelsError, match="holds 9 labels but the decoder outputs 400"):
        compile_models(files, cache_dir=tmp_path)


def test_shared_kinetics_labels_are_in_model_order():
    p = shared_path("omz", "action-recognition-0001", "kinetics400-id2label.json")
    labels = load_labels(p, num_classes=400)
    assert labels[:4] == ("abseiling", "air drumming", "answering questions", "applauding")
    assert labels[6] == "arm wrestling" and labels[-1] == "zumba"


def test_unknown_device_lists_available():
    with pytest.raises(DeviceNotAvailableError, match=r"'NPU' is not available here; available: CPU.*AUTO"):
        check_device("NPU")
    assert check_device("AUTO") == "AUTO"
    assert check_device("cpu") == "CPU"


def test_compiled_tiny_models_are_colour_dependent(tiny_model_dir, tiny_labels_file, tmp_path):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    models = compile_models(files, cache_dir=tmp_path, hint="LATENCY")
    for channel, label in enumerate(("blue", "green", "red")):
        x = np.zeros((1, 3, 224, 224), np.float32)
        x[0, channel] = 255
        emb = models.encoder(x)[0].reshape(1, 1, -1)
        logits = models.decoder(np.repeat(emb, 16, axis=1))[0]
        assert models.labels[int(logits.argmax())] == label


def _copy_models(src, dest):
    import shutil

    shutil.copytree(src, dest)
    return dest


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_an_unreadable_ir_names_its_file_whichever_part_it_is(part, tiny_model_dir, tiny_labels_file, tmp_path):
    # Encoder and decoder compile at once, the encoder straight from its file: either one broken
    # still says which file OpenVINO cannot read, not a bare RuntimeError from the other thread.
    model_dir = _copy_models(tiny_model_dir, tmp_path / "models")
    files = resolve_model(precision="FP32", model_dir=model_dir, labels=tiny_labels_file)
    xml = files.encoder_xml if part == "encoder" else files.decoder_xml
    xml.write_text("<net><layers><this is not an IR")
    with pytest.raises(ModelNotFoundError, match=rf"OpenVINO cannot read .*{part}\.xml: .*fetch again"):
        compile_models(files, cache_dir=tmp_path / "cache", hint="LATENCY")


def test_decoder_id_follows_the_decoder_file_in_one_process(tiny_model_dir, tiny_labels_file, tmp_path):
    # The decoder's content id is hashed once per process for the same file (the notebook compiles
    # for files, then for live), but a decoder rewritten in place must get a new id: decoder
    # outputs cached for the old one must never be read for the new one.
    model_dir = _copy_models(tiny_model_dir, tmp_path / "models")
    files = resolve_model(precision="FP32", model_dir=model_dir, labels=tiny_labels_file)
    first = compile_models(files, cache_dir=tmp_path / "cache", hint="THROUGHPUT")
    again = compile_models(files, cache_dir=tmp_path / "cache", hint="LATENCY")
    assert again.decoder_id == first.decoder_id != ""
    fp16 = resolve_model(precision="FP16", model_dir=model_dir, labels=tiny_labels_file)
    for suffix in (".xml", ".bin"):  # another valid decoder (FP16-compressed weights) under the FP32 name
        files.decoder_xml.with_suffix(suffix).write_bytes(fp16.decoder_xml.with_suffix(suffix).read_bytes())
    changed = compile_models(files, cache_dir=tmp_path / "cache", hint="LATENCY")
    assert changed.decoder_id == compile_models(fp16, cache_dir=tmp_path / "cache").decoder_id != first.decoder_id


@pytest.mark.parametrize("hint", ["LATENCY", "THROUGHPUT"])
def test_compiling_from_the_cache_leaves_the_process_locale_as_it_was(hint, tiny_model_dir, tiny_labels_file, tmp_path):
    """OpenVINO's compile cache sets the locale to "C" and back: two compiles at once left it at "C".

    Then Python's default text encoding is ASCII for the rest of the process (``open()``,
    ``subprocess.run(text=True)``): the layout test's import-linter output failed to decode.
    """
    import locale

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    before = locale.setlocale(locale.LC_ALL)
    for _ in range(30):  # the first compile fills the cache, the others load from it (a race: many tries)
        compile_models(files, cache_dir=tmp_path, hint=hint)
        assert locale.setlocale(locale.LC_ALL) == before


def test_a_compile_waits_while_another_process_compiles_into_the_same_cache(tiny_model_dir, tiny_labels_file, tmp_path):
    """Two processes writing one compile cache broke its blobs (two Ray workers starting together):
    "filesystem error: cannot set permissions: No such file or directory [...blob]"."""
    import subprocess
    import sys
    import threading

    files = resolve_model(precision="FP16", model_dir=tiny_model_dir, labels=tiny_labels_file)
    cache = tmp_path / "cache"
    (cache / "compile_cache").mkdir(parents=True)
    holder = subprocess.Popen(  # another process compiling: holds the folder's lock until its stdin closes
        [sys.executable, "-c", (
            "import sys, pathlib\n"
            "from actionrec.models.devices import compile_lock\n"
            f"with compile_lock(pathlib.Path({str(cache / 'compile_cache')!r})):\n"
            "    print('held', flush=True)\n"
            "    sys.stdin.read()\n"
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        done: list = []
        worker = threading.Thread(target=lambda: done.append(compile_models(files, cache_dir=cache)), daemon=True)
        worker.start()
        worker.join(timeout=2.0)
        assert worker.is_alive() and not done, "compiled into a cache another process is writing"
        assert not list((cache / "compile_cache").glob("*.blob"))
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    worker.join(timeout=60)
    assert len(done) == 1 and done[0].num_classes == 400
    assert list((cache / "compile_cache").glob("*.blob")), "the compile went on once the other process let go"


def test_a_file_system_without_locks_compiles_unlocked(tiny_model_dir, tiny_labels_file, tmp_path, monkeypatch):
    """filelock raises NotImplementedError where flock is missing (some network mounts): compile anyway."""
    import filelock

    from actionrec.models.devices import compile_lock

    def no_flock(self, *args, **kwargs):
        raise NotImplementedError("FileSystem does not appear to support flock")

    monkeypatch.setattr(filelock.FileLock, "acquire", no_flock)
    files = resolve_model(precision="FP16", model_dir=tiny_model_dir, labels=tiny_labels_file)
    assert compile_models(files, cache_dir=tmp_path).num_classes == 400
    with pytest.raises(ValueError) as info, compile_lock(tmp_path):
        raise ValueError("a compile error")
    assert info.value.__context__ is None  # not reported "during handling of" the lock's NotImplementedError
