import json
import re

import pytest

from actionrec.errors import ModelNotFoundError
from actionrec.models import MODELS, PRECISIONS, SAMPLE_CLIPS, get_model
from tests.conftest import shared_path


def test_every_model_has_four_files_per_precision_with_real_urls():
    for spec in MODELS.values():
        assert spec.precisions == PRECISIONS
        for precision in PRECISIONS:
            files = spec.files(precision)
            assert [f.name.rsplit(".", 1)[1] for f in files] == ["xml", "bin", "xml", "bin"]
            for f in files:
                assert f.url.startswith("https://storage.openvinotoolkit.org/repositories/open_model_zoo/")
                assert f.url.endswith("models_bin/1/" + f.name.split("/", 1)[0].rsplit("-", 1)[0] + "/" + f.name)
                assert f.algorithm == "sha384" and len(f.digest) == 96


def test_unknown_model_and_precision_say_what_is_valid():
    with pytest.raises(ModelNotFoundError, match="valid: action-recognition-0001, driver-action"):
        get_model("action-recognition-9999")
    with pytest.raises(ModelNotFoundError, match="valid: FP32, FP16, FP16-INT8"):
        get_model("action-recognition-0001").files("INT4")


def test_weights_sizes_match_the_model_card():
    ar = get_model("action-recognition-0001")
    mb = {p: [round(f.size_bytes / 1e6, 1) for f in ar.files(p) if f.name.endswith(".bin")] for p in PRECISIONS}
    assert mb == {"FP32": [85.1, 30.2], "FP16": [42.6, 15.1], "FP16-INT8": [21.3, 7.6]}


def test_registry_matches_shared_model_yml():
    root = shared_path("omz")
    for yml in root.glob("*/*/model.yml"):
        text = yml.read_text()
        entries = re.findall(r"- name: (\S+)\n\s+size: (\d+)\n\s+checksum: (\w+)\n\s+source: (\S+)", text)
        assert entries, yml
        model = yml.parent.parent.name
        registered = {f.url: f for f in get_model(model).model_files}
        for _name, size, checksum, source in entries:
            f = registered[source]
            assert (f.size_bytes, f.digest) == (int(size), checksum)


def test_pinned_labels_hash_matches_shared_copy():
    import hashlib

    p = shared_path("omz", "action-recognition-0001", "kinetics400-id2label.json")
    assert hashlib.sha256(p.read_bytes()).hexdigest() == get_model("action-recognition-0001").labels.digest
    assert len(json.loads(p.read_text())) == 400


def test_pinned_samples_match_shared_media():
    import hashlib

    for name, shared_name in (
        ("arm_wrestling", "kinetics_arm_wrestling_340x256_28fps_h264.mp4"),
        ("flipping_pancake", "kinetics_flipping_pancake_426x240_30fps_h264_opus.mkv"),
    ):
        data = shared_path("media", shared_name).read_bytes()
        assert len(data) == SAMPLE_CLIPS[name].size_bytes
        assert hashlib.sha256(data).hexdigest() == SAMPLE_CLIPS[name].digest
