"""OpenVINO devices: the one cached ``Core``, which devices exist here, and each device's compile settings.

:func:`check_device` accepts a device OpenVINO sees here (``CPU``, ``GPU``, ``GPU.1``, ``NPU``) or a
virtual one over them (``AUTO``, ``AUTO:GPU,CPU``) and refuses any other with what exists and what
to do. :func:`device_config` is what each compiled model gets on its device:

| setting | CPU | GPU | NPU | AUTO and other virtual devices |
|---|---|---|---|---|
| ``PERFORMANCE_HINT`` of ``LIVE`` (:func:`performance_hint`) | THROUGHPUT | LATENCY | LATENCY | LATENCY |
| ``PERFORMANCE_HINT`` of ``THROUGHPUT`` (files) and ``LATENCY`` | as asked | as asked | as asked | as asked |
| ``CACHE_DIR`` (compile cache under ``model/``) | yes | yes | yes | yes |
| ``ENABLE_CPU_PINNING=False`` (the encoder of files and of ``LIVE``) | yes | no | no | no |
| ``INFERENCE_PRECISION_HINT`` (``AR_INFERENCE_PRECISION``) | f32, bf16, f16 | f32, f16 | no (its own) | as asked |
| encoder batch > 1 (files, :func:`~actionrec.models.runtime.cpu_file_batch`) | yes | no | no (static shapes) | no |

:func:`compile_lock` lets one process at a time compile into a compile cache folder.

No GPU or NPU was at hand where this was written: their settings are tested with a fake device list
and a fake ``Core`` that records what each model was compiled with (``tests/test_devices.py``).

Example:
    >>> check_device("cpu")  # doctest: +SKIP
    'CPU'
    >>> device_config("NPU", hint="LATENCY", cache_dir="model/compile_cache")  # doctest: +SKIP
    {'PERFORMANCE_HINT': 'LATENCY', 'CACHE_DIR': 'model/compile_cache'}
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import DeviceNotAvailableError

VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")
# What a user does when OpenVINO does not list a device the machine should have.
DRIVER_HINTS = {
    "GPU": "install the Intel GPU driver for OpenVINO (Linux: intel-opencl-icd / the compute runtime; "
    "Windows: the Intel graphics driver)",
    "NPU": "on an Intel Core Ultra, install the Intel NPU driver (Linux: linux-npu-driver, and add the user "
    "to the render group; Windows: the Intel NPU driver)",
}
# INFERENCE_PRECISION_HINT values each real device takes; NPU computes in its own precision (f16).
_PRECISIONS = {"CPU": ("f32", "bf16", "f16"), "GPU": ("f32", "f16"), "NPU": ()}


@functools.cache
def get_core():
    """The process-wide ``openvino.Core`` (created once; creating one per call is slow)."""
    import openvino as ov

    return ov.Core()


def available_devices() -> list[str]:
    """Devices OpenVINO sees here, e.g. ``["CPU", "GPU.0", "NPU"]``; plus ``AUTO``."""
    return [*get_core().available_devices, "AUTO"]


def device_kind(device: str) -> str:
    """``"GPU.1"`` -> ``"GPU"``, ``"AUTO:GPU,CPU"`` -> ``"AUTO"``, ``"cpu"`` -> ``"CPU"``."""
    return device.strip().upper().partition(":")[0].split(".")[0]


def check_device(device: str) -> str:
    """Return ``device`` (upper case) when OpenVINO can use it here.

    ``AUTO`` and ``AUTO:GPU,CPU`` style names are accepted when at least one listed device exists.

    Raises:
        DeviceNotAvailableError: naming the device, what is available, and what to do.
    """
    real = list(get_core().available_devices)
    name = device.strip().upper()
    head, _, tail = name.partition(":")
    if head in VIRTUAL_DEVICES:
        wanted = [d for d in tail.split(",") if d] or real
        ok = any(_matches(d, real) for d in wanted)
        missing = [d for d in wanted if not _matches(d, real)]
    else:
        ok, missing = _matches(name, real), [name]
    if not ok:
        hints = [DRIVER_HINTS[k] for k in dict.fromkeys(map(device_kind, missing)) if k in DRIVER_HINTS]
        raise DeviceNotAvailableError(
            f"device {device!r} is not available here; available: {', '.join([*real, 'AUTO'])}. "
            f"Use CPU (always present){''.join(f', or {h}' for h in hints)}, and check "
            "`python -m actionrec doctor`"
        )
    return name


def _matches(device: str, real: list[str]) -> bool:
    return any(r == device or r.split(".")[0] == device for r in real)


def performance_hint(device: str, hint: str) -> str:
    """The OpenVINO ``PERFORMANCE_HINT`` a model gets on ``device`` for the project's ``hint``.

    ``THROUGHPUT`` and ``LATENCY`` are passed on. ``LIVE`` (a live source: one sample every
    62.5 ms, a label within 0.3 s) is ``THROUGHPUT`` on a CPU: its streams of one thread each keep up
    on a busy 2-core CPU where the latency hint's one stream of two threads drops samples (the live
    recognizer's in-flight limit keeps the wait within the latency budget); ``LATENCY`` elsewhere (a
    GPU's throughput hint batches requests: a live stream would wait for a batch to fill).

    Example:
        >>> performance_hint("CPU", "LIVE"), performance_hint("GPU.1", "LIVE"), performance_hint("GPU", "THROUGHPUT")
        ('THROUGHPUT', 'LATENCY', 'THROUGHPUT')
    """
    if hint != "LIVE":
        return hint
    return "THROUGHPUT" if device_kind(device) == "CPU" else "LATENCY"


def device_config(
    device: str,
    *,
    hint: str,
    cache_dir: str | os.PathLike[str],
    inference_precision: str | None = None,
    unpinned: bool = False,
) -> dict[str, object]:
    """The compile configuration of one model on ``device`` (see the table in the module docstring).

    Args:
        device: a checked device name (:func:`check_device`).
        hint: ``THROUGHPUT``, ``LATENCY`` or ``LIVE`` (:func:`performance_hint`).
        cache_dir: the compile cache folder (``CACHE_DIR``; CPU, GPU and NPU all cache compiled blobs).
        inference_precision: ``f32``/``bf16``/``f16`` or ``None`` (the device's own); a real device
            that does not take it (NPU; bf16 on a GPU) computes in its own precision, which
            :func:`~actionrec.models.runtime.encoder_facts` then reads back.
        unpinned: inference threads not pinned to cores (``ENABLE_CPU_PINNING=False``), CPU only: the
            encoder of a file analysis or a live source, whose decode threads share the cores.

    Returns:
        The ``core.compile_model`` configuration.
    """
    config: dict[str, object] = {"PERFORMANCE_HINT": performance_hint(device, hint), "CACHE_DIR": str(cache_dir)}
    kind = device_kind(device)
    if unpinned and kind == "CPU":
        config["ENABLE_CPU_PINNING"] = False
    if inference_precision and inference_precision.lower() in _PRECISIONS.get(kind, (inference_precision.lower(),)):
        config["INFERENCE_PRECISION_HINT"] = inference_precision
    return config


COMPILE_LOCK_NAME = ".compile.lock"


@contextlib.contextmanager
def compile_lock(compile_cache: Path) -> Iterator[None]:
    """Hold the compile cache folder's lock: one process compiles into it at a time.

    OpenVINO's compile cache is not safe for two processes writing the same entry: one reads a
    blob the other is still writing, finds it broken and deletes it, and the writer then fails
    with ``filesystem error: cannot set permissions: No such file or directory [...blob]``
    (two Ray workers starting together, two kernels). With the lock the second process waits
    and then loads the finished blob. An OS lock (``flock`` / ``LockFileEx``), released when its
    process ends, however it ends; on a file system without locks the compile goes on unlocked.
    """
    from filelock import FileLock

    lock: FileLock | None = FileLock(compile_cache / COMPILE_LOCK_NAME, mode=0o600, thread_local=False)
    try:
        lock.acquire()
    except NotImplementedError:  # no flock on this file system (some network mounts)
        lock = None  # (the compile runs outside this handler: its errors are not chained to this one)
    try:
        yield
    finally:
        if lock is not None:
            lock.release()
