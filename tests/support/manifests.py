"""Test manifests: registry entries whose sizes and hashes are those of files made by the tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from actionrec.download import RemoteFile
from actionrec.models import PRECISIONS, ModelSpec

OMZ = "https://storage.openvinotoolkit.org/repositories/open_model_zoo/2023.0/models_bin/1"
RAW = "https://raw.githubusercontent.com"


def remote_for(path: Path, name: str, url: str, algorithm: str = "sha384") -> RemoteFile:
    data = path.read_bytes()
    return RemoteFile(name, url, len(data), hashlib.new(algorithm, data).hexdigest(), algorithm)


def spec_for_model_dir(model_dir: Path, labels_file: Path, model: str = "action-recognition-0001") -> ModelSpec:
    """A ModelSpec over tiny IRs in ``model_dir`` with canonical-looking OMZ/GitHub URLs."""
    files = []
    for part in ("encoder", "decoder"):
        for precision in PRECISIONS:
            for ext in ("xml", "bin"):
                name = f"{model}-{part}/{precision}/{model}-{part}.{ext}"
                if (model_dir / name).exists():
                    files.append(remote_for(model_dir / name, name, f"{OMZ}/{model}/{name}"))
    labels = remote_for(labels_file, "labels/test-labels.json", f"{RAW}/test/labels/{labels_file.name}", "sha256")
    return ModelSpec(model, labels, 400, tuple(files))
