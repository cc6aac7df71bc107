"""Analyse many videos on Ray: one task per video on actors that compile the models once.

The driver (this process) resolves and verifies the models, puts their bytes once into Ray's object
store (:class:`~actionrec.distributed.core.ModelPayload`) and starts one
:class:`~actionrec.distributed.worker.VideoWorker` actor per worker; each actor writes the files
into a folder of its node (once per node) and compiles them. Each video is one task on an idle actor.
The driver only collects the decoder outputs, in input order, for the caller to turn into timelines
and exports; it shows one progress bar for the whole cluster (videos, video seconds).

Failures:

- a video the worker cannot analyse comes back as a :class:`~actionrec.distributed.core.VideoFailure`
  (the same error the local run raises); the other videos go on;
- a worker that dies (crash, ``kill``, a lost node) is replaced, and its video is given to an idle
  worker again, at most ``max_attempts`` times in all; then the video is a failure with a
  :class:`~actionrec.distributed.core.WorkerLostError` saying why;
- Ctrl+C (``KeyboardInterrupt``) kills the actors, so no task goes on, and propagates.

Example:
    >>> with ray_session(None, num_cpus=2):                                        # doctest: +SKIP
    ...     for i, out in analyze_on_ray(["a.mp4", "b.mp4"], payload=payload, config=config):
    ...         print(i, out.num_windows)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ActionRecError
from .core import ModelPayload, VideoFailure, WorkerConfig, WorkerLostError
from .worker import VideoWorker

MAX_ATTEMPTS = 3
"""Tries per video when its worker dies (the first run and two retries)."""
LOCAL_HOST = "127.0.0.1"
_POLL_S = 0.5  # ray.wait timeout: Ctrl+C is noticed between waits


def import_ray():
    """The ``ray`` module, or an :class:`ActionRecError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ActionRecError(
            "--ray needs Ray, which is not installed: pip install 'actionrec[ray]' (or pip install 'ray>=2.40')"
        ) from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None, *, num_cpus: int | None = None, verbose: bool = False) -> Iterator[Any]:
    """Use the Ray runtime already connected, else connect to ``address``, else start a local one.

    Args:
        address: ``None`` for a local runtime (bound to 127.0.0.1, no dashboard, usage statistics
            off); ``"auto"`` (the cluster this machine belongs to, ``ray start``) or
            ``"ray://host:port"`` (Ray Client) for a cluster.
        num_cpus: cores of a local runtime (default: this machine's).
        verbose: show the workers' own output (warnings, logs) on this terminal.

    Yields:
        The ``ray`` module; the runtime is shut down on exit when this call started or connected it.

    Raises:
        ActionRecError: Ray is not installed, or the cluster cannot be reached (the message says
            what was tried).
    """
    ray = import_ray()
    if ray.is_initialized():  # a caller's runtime (tests, a notebook): used, never shut down here
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    kwargs: dict[str, Any] = {"log_to_driver": verbose, "configure_logging": verbose}
    if address is None:
        kwargs |= {
            "address": "local",
            "num_cpus": num_cpus,
            "include_dashboard": False,
            "_node_ip_address": LOCAL_HOST,
        }
    else:
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray runtime"
        raise ActionRecError(
            f"cannot start or reach {where}: {exc}; for a cluster run `ray start --head` on one machine "
            "and use --ray-address auto there (or ray://HOST:10001 elsewhere); without --ray-address a "
            "local runtime is started"
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus(ray) -> int:
    """Whole CPUs of the connected cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def analyze_on_ray(
    items: Sequence[str],
    *,
    payload: ModelPayload,
    config: WorkerConfig,
    workers: int | None = None,
    cache: bool = True,
    max_download_mb: float | None = None,
    progress: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
    worker_cls: type = VideoWorker,
) -> Iterator[tuple[int, Any]]:
    """Analyse ``items`` on the connected Ray runtime (see :func:`ray_session`), one task per video.

    Args:
        items: video paths (local paths are sent absolute: every node must see them, e.g. on a
            shared file system) or URLs (each worker downloads its own).
        payload: the model files, put once into the object store.
        config: how the workers compile and analyse.
        workers: actors to start (default: the cluster's CPUs / ``config.cpus``).
        cache: use each worker's embedding cache.
        max_download_mb: a URL input's download limit.
        progress: show the cluster's progress bar (videos and video seconds).
        max_attempts: tries per video when its worker dies.
        worker_cls: :class:`VideoWorker` or a subclass of it.

    Yields:
        ``(index in items, DecodedWindows | VideoFailure)`` in input order, each as soon as it and
        every one before it are done.

    Raises:
        ActionRecError: no worker could start (e.g. the models do not compile on the workers).
        KeyboardInterrupt: Ctrl+C; every actor is killed first.
    """
    ray = import_ray()
    n_workers = workers or max(1, cluster_cpus(ray) // config.cpus)
    n_workers = max(1, min(n_workers, len(items)))
    actor_cls = ray.remote(num_cpus=config.cpus, max_restarts=0)(worker_cls)
    payload_ref = ray.put(payload)
    sent = [_absolute(item) for item in items]

    def start() -> Any:
        return actor_cls.remote(payload_ref, config)

    actors = [start() for _ in range(n_workers)]
    bar = _Progress(len(items), enabled=progress)
    try:
        _check_ready(ray, actors)
        bar.set_workers(len(actors))
        pending: deque[int] = deque(range(len(items)))
        attempts = [0] * len(items)
        idle = list(actors)
        inflight: dict[Any, tuple[Any, int]] = {}
        done: dict[int, Any] = {}
        emitted = 0
        replaced = 0
        while emitted < len(items):
            while pending and idle:
                actor, i = idle.pop(), pending.popleft()
                attempts[i] += 1
                ref = actor.analyze.remote(sent[i], cache=cache, max_download_mb=max_download_mb)
                inflight[ref] = (actor, i)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=_POLL_S) if inflight else ([], [])
            for ref in ready:
                actor, i = inflight.pop(ref)
                try:
                    out = ray.get(ref)
                except _lost_errors(ray) as exc:
                    actors.remove(actor)
                    replaced += 1
                    if replaced > max_attempts * n_workers:
                        raise ActionRecError(
                            f"{replaced} Ray workers died in this run (last: {_reason(exc)}); stopping"
                        ) from None
                    fresh = start()
                    actors.append(fresh)
                    idle.append(fresh)
                    if attempts[i] < max_attempts:
                        pending.appendleft(i)
                    else:
                        done[i] = VideoFailure(
                            WorkerLostError(
                                f"the Ray worker analysing it died {_times(attempts[i])} (last: {_reason(exc)}); "
                                "analyse this file alone without --ray to see what stops the process"
                            )
                        )
                        bar.video_done(0.0)
                    continue
                idle.append(actor)
                done[i] = _renamed(out, sent[i], items[i])
                bar.video_done(0.0 if isinstance(out, VideoFailure) else out.duration_s)
            while emitted in done:
                bar.clear()  # the caller's lines (summaries, FAILED) start on a line of their own
                yield emitted, done.pop(emitted)
                bar.refresh()
                emitted += 1
    finally:
        bar.close()
        for actor in actors:  # Ctrl+C, an error or the end: no task keeps running
            ray.kill(actor, no_restart=True)


def _check_ready(ray, actors: list) -> None:
    """Wait for the actors to compile; the first one's failure raises an :class:`ActionRecError`."""
    try:
        ray.get([a.ready.remote() for a in actors])
    except _lost_errors(ray) as exc:
        raise ActionRecError(f"the Ray workers could not start: {_reason(exc)}") from None
    except ray.exceptions.RayTaskError as exc:
        raise ActionRecError(f"the Ray workers could not load the models: {_reason(exc)}") from None


def _lost_errors(ray) -> tuple[type[BaseException], ...]:
    e = ray.exceptions
    return (e.RayActorError, e.WorkerCrashedError, e.NodeDiedError, e.ObjectLostError, e.OwnerDiedError)


def _reason(exc: BaseException) -> str:
    """The first informative lines of a Ray error, on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and not lines:
        return f"{type(cause).__name__}: {cause}"
    return "; ".join(line.rstrip(".") for line in lines[:2]) if lines else type(exc).__name__


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _absolute(item: str) -> str:
    """A local file's absolute path (workers do not share this process's working folder)."""
    if "://" in item or item.isdigit():
        return item
    p = Path(item)
    return str(p.absolute()) if p.exists() else item


def _renamed(out: Any, sent: str, item: str) -> Any:
    """Name the result as the local run names it (``item``, not the absolute path sent)."""
    if sent != item and not isinstance(out, VideoFailure) and out.source == sent:
        return dataclasses.replace(out, source=item)
    return out


class _Progress:
    """One bar for the cluster: videos done, video seconds done and their rate."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="video", desc="videos on Ray", disable=not enabled, leave=True)
        self.video_s = 0.0
        self.t_start = time.perf_counter()
        self.workers = 0

    def set_workers(self, n: int) -> None:
        self.workers = n
        self.t_start = time.perf_counter()  # start-up (compiling on the workers) excluded
        self.bar.set_postfix_str(f"{n} workers")

    def video_done(self, seconds: float) -> None:
        self.video_s += seconds
        rate = self.video_s / max(time.perf_counter() - self.t_start, 1e-9)
        self.bar.set_postfix_str(f"{self.video_s:.0f} video s, {rate:.1f} video s/s, {self.workers} workers")
        self.bar.update(1)

    def clear(self) -> None:
        self.bar.clear()

    def refresh(self) -> None:
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
