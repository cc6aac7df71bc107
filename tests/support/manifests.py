"""Test manifests: registry entries whose sizes and hashes are those of files made by the tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from actionrec.download import RemoteFile
from actionrec.models import PRECISIONS, ModelSpec, get_model

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


def substituted_spec(model_dir: Path, model: str, *, labels: RemoteFile | None = None) -> ModelSpec:
    """The registry's own entry for ``model``, with the sizes and hashes of the tiny IRs in ``model_dir``.

    Names and URLs stay the pinned ones (the FP16-INT8 files of the driver model under ``2022.3``),
    so a mirror serves them under the registry's paths and the download checks what it always
    checks; only the expected bytes are those of the tiny files. ``labels``: another labels entry
    (default: the pinned one, real URL and SHA-256).
    """
    real = get_model(model)
    files = tuple(
        remote_for(model_dir / f.name, f.name, f.url, f.algorithm)
        for f in real.model_files
        if (model_dir / f.name).exists()
    )
    return ModelSpec(model, labels or real.labels, real.num_classes, files)


def serve_spec(server, spec: ModelSpec, model_dir: Path, *, labels_data: bytes | None = None) -> dict[str, str]:
    """Serve ``spec``'s files (from ``model_dir``) and labels (``labels_data``) under their pinned paths.

    Returns:
        ``{"base_url": ..., "data_base_url": ...}``: the mirror URLs for :func:`actionrec.models.resolve_model`
        (``--base-url`` / ``--data-base-url``).
    """
    for f in spec.model_files:
        server.add("omz/" + f.url.split("models_bin/1/", 1)[1], (model_dir / f.name).read_bytes())
    if labels_data is not None:
        server.add("data/" + spec.labels.url.split(f"{RAW}/", 1)[1], labels_data)
    return {"base_url": f"{server.url}/omz/", "data_base_url": f"{server.url}/data/"}


def write_registry_override(path: Path, *specs: ModelSpec) -> Path:
    """``specs`` as JSON for ``tests/support/registry_hook`` (the same substitution in a subprocess)."""
    import json

    def row(f: RemoteFile) -> list:
        return [f.name, f.url, f.size_bytes, f.digest, f.algorithm]

    doc = {
        s.name: {"labels": row(s.labels), "num_classes": s.num_classes, "files": [row(f) for f in s.model_files]}
        for s in specs
    }
    path.write_text(json.dumps(doc))
    return path
