"""The models: what to download (registry), the files on disk and their labels, the OpenVINO runtime.

- :mod:`~actionrec.models.registry`: every model file's URL, size and SHA-384; pinned labels and clips
- :mod:`~actionrec.models.files`: :func:`resolve_model` (verified cache or ``--model-dir``), labels files
- :mod:`~actionrec.models.labels`: :func:`load_labels`, :func:`check_labels` (one printable line per class)
- :mod:`~actionrec.models.devices`: one cached ``openvino.Core``, :func:`check_device`, each device's
  compile settings (:func:`device_config`: CPU, GPU, NPU, AUTO)
- :mod:`~actionrec.models.runtime`: :func:`compile_models` (the encoder and the decoder, each on its device)
- :mod:`~actionrec.models.graph`: graph surgery before compiling (the decoder's pooled feature, a
  dynamic encoder batch)
"""

from .devices import device_config
from .files import ModelFiles, fetch_labels, fetch_sample, resolve_model
from .labels import check_labels, load_labels
from .registry import DEFAULT_SAMPLE, MODELS, PRECISIONS, SAMPLE_CLIPS, ModelSpec, get_model, get_sample
from .runtime import (
    FILE_BATCH,
    HINTS,
    INT8_FILE_BATCH,
    ActionModels,
    available_devices,
    check_device,
    compile_models,
    cpu_file_batch,
    get_core,
)

__all__ = [
    "DEFAULT_SAMPLE",
    "FILE_BATCH",
    "HINTS",
    "INT8_FILE_BATCH",
    "MODELS",
    "PRECISIONS",
    "SAMPLE_CLIPS",
    "ActionModels",
    "ModelFiles",
    "ModelSpec",
    "available_devices",
    "check_device",
    "check_labels",
    "compile_models",
    "cpu_file_batch",
    "device_config",
    "fetch_labels",
    "fetch_sample",
    "get_core",
    "get_model",
    "get_sample",
    "load_labels",
    "resolve_model",
]
