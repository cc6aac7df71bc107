"""OpenVINO runtime: the compiled encoder and decoder, each on its own device.

The cached ``Core``, the device checks and each device's compile settings are
:mod:`actionrec.models.devices` (re-exported here). What is read from or changed in the IR graphs
themselves (the decoder's pooled feature, a dynamic encoder batch) is :mod:`actionrec.models.graph`.

Example:
    >>> files = resolve_model("action-recognition-0001")             # doctest: +SKIP
    >>> models = compile_models(files, device="CPU", hint="THROUGHPUT")  # doctest: +SKIP
    >>> models.clip_len, models.input_size_hw                        # doctest: +SKIP
    (16, (224, 224))
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import settings
from ..atomic import private_dir
from ..errors import LabelsError, ModelNotFoundError
from ..results import describe_devices
from . import devices
from .devices import VIRTUAL_DEVICES, available_devices, check_device, compile_lock, get_core  # noqa: F401 (re-exported)
from .files import ModelFiles
from .graph import any_batch, feature_output, per_sample, pooled
from .labels import check_labels, count_mismatch, load_labels

HINTS = ("LATENCY", "THROUGHPUT", "LIVE")
FILE_BATCH = 4  # encoder samples per file request on a CPU with AVX-512 (see cpu_file_batch)
INT8_FILE_BATCH = 2  # the same for a quantized (INT8) encoder: within its memory budget


def cpu_file_batch(features: Mapping[str, bool] | None = None, *, precision: str = "FP16") -> int:
    """Encoder samples per file request on this CPU for an IR of ``precision``.

    A rule from the instruction set and the precision, not a calibration:

    - AVX2 only: 1. The encoder's throughput is the same at batch 1 and 8 there while the batch-8
      requests hold ~90 MB more (peak RSS of ``analyze`` at FP16 on a 2-core AVX2 EPYC: 409 MB at
      batch 1, 502 MB at 8).
    - AVX-512, FP32/FP16: :data:`FILE_BATCH` (4): 5-10 % over batch 1. 2-core Xeon with AMX, FP16,
      paired runs: in f32 (as AVX-512 without AMX) 8 is as fast as 4 and peaks 46 MB higher; in bf16
      (AMX) 8 is 5.7 % faster but 24 MB higher, over the FP16 budget of 400 MB on 10 minutes (README).
    - AVX-512, an INT8 IR (``FP16-INT8``): :data:`INT8_FILE_BATCH` (2). On a 2-core AVX-512 EPYC
      (VNNI), 1 minute of 720p, proxy models, interleaved runs: the same wall time at 2, 4 and 8
      (medians 14.9, 14.8, 14.1 s; batch 1: 16.7 s), peak RSS 300-303 MB at 2, 313-317 MB at 4,
      339-343 MB at 8; a 10-minute file adds its embeddings (~20 MB), so only batch 2 keeps it
      within the INT8 budget of 330 MB.

    The batch is part of the embedding cache key, so entries are never shared between batches.

    Args:
        features: CPU feature flags (``{"AVX512F": True, ...}``); default: numpy's detection of this CPU
            (the AVX-512 batch when that is unavailable, as before the rule).
        precision: the IR's precision (``ModelFiles.precision``).
    """
    if features is None:
        try:
            from numpy._core._multiarray_umath import __cpu_features__ as features
        except ImportError:  # numpy moved its private table: keep the batch measured first
            features = {"AVX512F": True}
    if not features.get("AVX512F"):
        return 1
    return INT8_FILE_BATCH if "INT8" in precision.upper() else FILE_BATCH


@dataclass(frozen=True)
class ActionModels:
    """A compiled encoder/decoder pair with the facts read from them.

    Attributes:
        encoder, decoder: ``openvino.CompiledModel`` objects.
        labels: class names in decoder output order.
        clip_len: embeddings per decoder call (16 for the OMZ models), read from the decoder.
        input_size_hw: encoder input (height, width), read from the encoder.
        embedding_dim: encoder output features (512), read from the encoder.
        device, hint, precision, model: how they were compiled; ``device`` is the encoder's
            (:attr:`encoder_device`), the one the embeddings depend on.
        encoder_id: identifies the encoder IR files (path, size, modification time), so caches of
            embeddings never mix two different IRs with the same name.
        encoder_batch: samples per encoder request in file analysis: :func:`cpu_file_batch` (or
            the ``encoder_batch`` asked for) when compiled for files on a CPU (the encoder then
            accepts any batch size; single frames still work), else 1.
        inference_precision: the precision the compiled encoder really computes in (``"f32"``,
            ``"bf16"``, ``"f16"``): a CPU with AMX or AVX-512 BF16 runs bf16 unless told otherwise,
            and the embeddings differ (see :func:`encoder_facts`). ``""`` when not read.
        execution_devices: the real devices behind the encoder (``AUTO`` resolves to e.g.
            ``("CPU",)``); ``()`` when not read.
        openvino_version: the OpenVINO build that compiled them (``openvino.get_version()``).
        feature_dim: values of the decoder's pooled feature per window (the tensor feeding its
            classifier, averaged over time: :func:`feature_output`), the decoder's second output;
            0 when the decoder has no such tensor (custom-action heads then cannot be used).
        feature_name: that tensor's name in the decoder graph (``"670"`` in the OMZ decoders).
        decoder_id: identifies the decoder IR (a BLAKE2b of its ``.xml`` and ``.bin``), so decoder
            outputs cached for one decoder are never used for another, and a custom-action head
            trained on one decoder's features is refused on another.
        decoder_device: where the decoder runs (``""`` when made: the encoder's ``device``).
        decoder_precision: the precision the compiled decoder computes in (as
            ``inference_precision`` for the encoder); ``""`` when not read.
    """

    encoder: Any = field(repr=False)
    decoder: Any = field(repr=False)
    labels: tuple[str, ...]
    clip_len: int
    input_size_hw: tuple[int, int]
    embedding_dim: int
    device: str
    hint: str
    precision: str
    model: str
    encoder_id: str = ""
    encoder_batch: int = 1
    inference_precision: str = ""
    execution_devices: tuple[str, ...] = ()
    openvino_version: str = ""
    feature_dim: int = 0
    feature_name: str = ""
    decoder_id: str = ""
    decoder_device: str = ""
    decoder_precision: str = ""

    def __post_init__(self) -> None:
        if not self.decoder_device:
            object.__setattr__(self, "decoder_device", self.device)

    @property
    def encoder_device(self) -> str:
        """Where the encoder runs (the same as :attr:`device`)."""
        return self.device

    @property
    def devices_text(self) -> str:
        """``"CPU"``, or ``"GPU encoder, CPU decoder"`` when the two run on different devices."""
        return describe_devices(self.device, self.decoder_device)

    @property
    def num_classes(self) -> int:
        """Classes the decoder outputs (the number of labels)."""
        return len(self.labels)

    def optimal_requests(self) -> int:
        """How many encoder requests to keep in flight (the plugin's own number)."""
        return int(self.encoder.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))


def compile_models(
    files: ModelFiles,
    *,
    device: str = settings.DEFAULT_DEVICE,
    hint: str = "THROUGHPUT",
    labels: tuple[str, ...] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    inference_precision: str | None = None,
    encoder_batch: int | None = None,
    encoder_device: str | None = None,
    decoder_device: str | None = None,
) -> ActionModels:
    """Compile the encoder and the decoder, each on its device, with a performance ``hint``.

    One after the other (see the note in the code on the process locale), each from the compile
    cache after the first time, with the decoder's content id hashed meanwhile. Each device gets
    its own configuration (:func:`actionrec.models.devices.device_config`): CPU pinning off for a
    file encoder on a CPU only, a precision hint only where the device takes it.

    Args:
        files: from :func:`actionrec.models.resolve_model`.
        device: ``CPU``, ``GPU``, ``NPU``, ``AUTO`` (or ``AUTO:GPU,CPU``): where both models run
            unless ``encoder_device`` / ``decoder_device`` say otherwise.
        hint: ``THROUGHPUT`` for files, ``LIVE`` for live sources (on a CPU the throughput hint's
            streams with one sample per request, elsewhere ``LATENCY``:
            :func:`~actionrec.models.devices.performance_hint`), or ``LATENCY``.
        labels: class names; default: read from ``files.labels_path``.
        cache_dir: root of the compile cache (``<cache_dir>/compile_cache``), default ``model/``.
        inference_precision: e.g. ``"f32"`` to force f32 where the CPU would run bf16; default
            ``AR_INFERENCE_PRECISION`` (:func:`actionrec.settings.inference_precision`), else the
            device's own (an NPU always computes in its own).
        encoder_batch: samples per encoder request for files (``THROUGHPUT`` with the encoder on a
            CPU; other hints and devices take 1: an NPU needs static shapes); default
            :func:`cpu_file_batch`, the rule for this CPU.
        encoder_device: where the encoder runs (default ``device``), e.g. ``GPU``.
        decoder_device: where the decoder runs (default ``device``), e.g. ``CPU`` for the small decoder.

    Raises:
        DeviceNotAvailableError, ModelNotFoundError, LabelsError.
    """
    if hint not in HINTS:
        raise ValueError(f"hint must be one of {HINTS}, got {hint!r}")
    if encoder_batch is not None and not (isinstance(encoder_batch, int) and encoder_batch >= 1):
        raise ValueError(f"encoder_batch={encoder_batch!r} must be >= 1 samples per request (or None: this CPU's rule)")
    inference_precision = settings.inference_precision(inference_precision)
    enc_device = devices.check_device(encoder_device or device)
    dec_device = devices.check_device(decoder_device or device)
    core = devices.get_core()
    compile_cache = settings.cache_dir(cache_dir) / "compile_cache"
    private_dir(compile_cache)  # model/ is a cache of the user's: private (see private_dir for Windows)
    # Files decode video on the same cores: pinned encoder threads starve the decoder threads
    # (measured here, whole pipeline unpinned: ~10 % more video frames/s at batch 1, 2–5 % at 4).
    # A live source decodes (and draws) on them too.
    config = devices.device_config(
        enc_device, hint=hint, cache_dir=compile_cache, inference_precision=inference_precision,
        unpinned=hint in ("THROUGHPUT", "LIVE"),
    )  # fmt: skip
    # Same hint for the decoder: files decode many windows through an AsyncInferQueue (throughput),
    # live sources one window at a time. Its threads stay pinned: in file analysis the decoder runs
    # after the video is decoded, with no decoder threads to starve.
    decoder_config = devices.device_config(
        dec_device, hint=hint, cache_dir=compile_cache, inference_precision=inference_precision
    )
    # The decoder's id is hashed while the models compile. The two compiles stay one after the
    # other: OpenVINO's compile cache sets the process locale to "C" and back around its work, and
    # two compiles in two threads left the whole process in "C" (ASCII text I/O) most of the time.
    # Other processes on the same cache (Ray workers, a second kernel) wait: see compile_lock.
    with compile_lock(compile_cache), ThreadPoolExecutor(max_workers=1, thread_name_prefix="actionrec-hash") as pool:
        decoder_id_job = pool.submit(_content_id, files.decoder_xml)
        # Files with the encoder on a CPU: several samples per request (see actionrec.pipeline.encoders).
        file_batch = 1
        if hint == "THROUGHPUT" and enc_device == "CPU":
            file_batch = cpu_file_batch(precision=files.precision) if encoder_batch is None else encoder_batch
        encoder, batch, enc_in, enc_out = _compile_encoder(
            core, files.encoder_xml, enc_device, config, batch=file_batch
        )
        decoder, feature, dec_in, dec_out = _compile_decoder(core, files.decoder_xml, dec_device, decoder_config)
        decoder_id = decoder_id_job.result()
    if len(enc_in) != 4 or len(dec_in) != 3 or dec_in[2] != _numel(enc_out):
        raise ModelNotFoundError(
            f"{files.encoder_xml.name} / {files.decoder_xml.name} do not form an encoder/decoder "
            f"pair: encoder {list(enc_in)} -> {list(enc_out)}, decoder {list(dec_in)} -> "
            f"{list(dec_out)}; expected [1,3,H,W] -> [1,D,1,1] and [1,T,D] -> [1,C]"
        )
    feature_dim = int(feature.get_partial_shape()[-1].get_length()) if feature is not None else 0

    num_classes = int(dec_out[-1])
    if labels is None:
        if files.labels_path is None:
            raise ModelNotFoundError(
                f"no labels for model {files.model!r}: pass --labels PATH (or set AR_LABELS) with "
                f'{num_classes} labels, one per line or JSON {{"0": "name", ...}}'
            )
        labels = load_labels(files.labels_path, num_classes=num_classes, model=files.model)
    else:
        labels = check_labels(labels, origin="labels")
        if len(labels) != num_classes:
            raise LabelsError(f"{len(labels)} {count_mismatch(num_classes, model=files.model)}")
    import openvino as ov

    asked = config.get("INFERENCE_PRECISION_HINT"), decoder_config.get("INFERENCE_PRECISION_HINT")
    precision_used, devices_used = encoder_facts(core, encoder, requested_precision=asked[0])
    decoder_precision, _ = encoder_facts(core, decoder, requested_precision=asked[1])
    return ActionModels(
        encoder=encoder,
        decoder=decoder,
        labels=tuple(labels),
        clip_len=int(dec_in[1]),
        input_size_hw=(int(enc_in[2]), int(enc_in[3])),
        embedding_dim=int(dec_in[2]),
        device=enc_device,
        hint=hint,
        precision=files.precision,
        model=files.model,
        encoder_id=_file_id(files.encoder_xml),
        encoder_batch=batch,
        inference_precision=precision_used,
        execution_devices=devices_used,
        openvino_version=ov.get_version(),
        feature_dim=feature_dim,
        feature_name=feature.get_node().get_friendly_name() if feature is not None else "",
        decoder_id=decoder_id,
        decoder_device=dec_device,
        decoder_precision=decoder_precision,
    )


def encoder_facts(core: Any, compiled: Any, *, requested_precision: str | None = None) -> tuple[str, tuple[str, ...]]:
    """What a compiled model really runs on: its inference precision and its execution devices.

    The precision is the compiled model's ``INFERENCE_PRECISION_HINT`` (a CPU plugin reports the
    one it chose, e.g. ``bf16`` on a CPU with AMX). A virtual device (``AUTO``) does not report it:
    then it is the one requested, else the default of the real device behind it. ``AUTO`` may run
    the first requests on the CPU while a GPU compiles, so the devices are those of the moment
    (read once, at compile time): an analysis during which ``AUTO`` moves to another device is
    keyed by the first one. Name the device (``CPU``, ``GPU``) for embeddings of one device only.

    Args:
        core: the ``openvino.Core`` it was compiled with.
        compiled: an ``openvino.CompiledModel``.
        requested_precision: the ``inference_precision`` it was compiled with, if any.

    Returns:
        ``(precision, devices)``, e.g. ``("f32", ("CPU",))``; a fact the plugin will not tell is
        ``"unknown"`` (precision) or ``()`` (devices).
    """
    try:
        devices = tuple(str(d) for d in compiled.get_property("EXECUTION_DEVICES"))
    except RuntimeError:
        devices = ()
    try:
        return _type_name(compiled.get_property("INFERENCE_PRECISION_HINT")), devices
    except RuntimeError:  # AUTO: "not supported property INFERENCE_PRECISION_HINT"
        pass
    if requested_precision:
        return requested_precision.lower(), devices
    defaults = []
    for device in devices:
        try:
            defaults.append(_type_name(core.get_property(device, "INFERENCE_PRECISION_HINT")))
        except RuntimeError:
            defaults.append("unknown")
    return ",".join(defaults) or "unknown", devices


def _type_name(value: Any) -> str:
    """``<Type: 'float32'>`` -> ``"f32"`` (an ``openvino.Type``); other values as text."""
    name = getattr(value, "get_type_name", None)
    return str(name() if callable(name) else value)


def _compile_encoder(core, xml: Path, device: str, config: dict, *, batch: int) -> tuple[Any, int, list, list]:
    """The compiled encoder, its batch and its input/output shapes (a batch-1 model's).

    With ``batch`` > 1 the model is read and given a dynamic batch (:func:`any_batch`), kept only
    when a batch gives what its samples give alone (:func:`per_sample`). At batch 1 (a live hint,
    a CPU without AVX-512) OpenVINO compiles the file itself: from the compile cache that skips
    reading the graph into Python and hashing it for the cache key.
    """
    if batch > 1:
        model = _read(core, xml)
        enc_in, enc_out = list(model.input(0).get_shape()), list(model.output(0).get_shape())
        if any_batch(model):
            encoder = core.compile_model(model, device, config)
            if per_sample(encoder, batch):
                return encoder, batch, enc_in, enc_out
            model = _read(core, xml)  # a batch mixes samples: back to the file's own batch
        return core.compile_model(model, device, config), 1, enc_in, enc_out
    try:
        encoder = core.compile_model(str(xml), device, config)
    except RuntimeError:  # say what is wrong with the file (or the device) as for a read model
        encoder = core.compile_model(_read(core, xml), device, config)
    return encoder, 1, list(encoder.input(0).get_shape()), list(encoder.output(0).get_shape())


def _compile_decoder(core, xml: Path, device: str, config: dict) -> tuple[Any, Any, list, list]:
    """The compiled decoder, its pooled feature (``None``: none found) and its input/output shapes.

    The pooled feature before the classifier becomes the decoder's second output (custom heads).
    """
    model = _read(core, xml)
    dec_in, dec_out = list(model.input(0).get_shape()), list(model.output(0).get_shape())
    feature = feature_output(model)
    if feature is not None:
        model.add_outputs([pooled(feature)])  # averaged over time inside the graph: [1, F]
    return core.compile_model(model, device, config), feature, dec_in, dec_out


def _read(core, xml: Path):
    try:
        return core.read_model(str(xml))
    except RuntimeError as exc:
        raise ModelNotFoundError(
            f"OpenVINO cannot read {xml}: {str(exc).splitlines()[0]}. Delete it and fetch again, "
            "or check that the .bin beside it belongs to this .xml"
        ) from None


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _content_id(xml: Path) -> str:
    """BLAKE2b-160 of an IR's ``.xml`` and ``.bin`` bytes (``""`` when a file is missing).

    Hashed once per process for the same files (path, size, modification time): the notebook
    compiles the same decoder for files and for live.
    """
    stamps = []
    for f in (xml, xml.with_suffix(".bin")):
        if not f.is_file():
            return ""
        st = f.stat()
        stamps.append((str(f.resolve()), st.st_size, st.st_mtime_ns))
    return _hash_files(tuple(stamps))


@functools.lru_cache(maxsize=16)
def _hash_files(stamps: tuple[tuple[str, int, int], ...]) -> str:
    import hashlib

    h = hashlib.blake2b(digest_size=20)
    for name, _size, _mtime in stamps:
        with open(name, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _file_id(xml: Path) -> str:
    parts = []
    for f in (xml, xml.with_suffix(".bin")):
        st = f.stat() if f.exists() else None
        parts.append(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}" if st else f"{f}:missing")
    return "|".join(parts)
