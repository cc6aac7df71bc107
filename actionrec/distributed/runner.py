"""Analyse many videos on Ray: one task per video on actors that compile the models once.

The driver (this process) resolves and verifies the models, puts their bytes once into Ray's object
store (:class:`~actionrec.distributed.core.ModelPayload`) and starts one
:class:`~actionrec.distributed.worker.VideoWorker` actor per worker; each actor writes the files
into a folder of its node (once per node) and compiles them. Each video is one task on an idle actor;
a local file longer than ``chunk_s`` is split into chunks of windows on its whole grid
(:mod:`actionrec.pipeline.chunks`), one task each, whose decoder outputs the driver merges.
The driver only collects the decoder outputs, in input order, for the caller to turn into timelines
and exports; it shows one progress bar for the whole cluster (videos, video seconds).

Failures:

- a video (or one of its chunks) the worker cannot analyse comes back as a
  :class:`~actionrec.distributed.core.VideoFailure` (the same error the local run raises); the
  other videos go on;
- a worker that dies (crash, ``kill``, a lost node) is replaced, and its video is given to an idle
  worker again, at most ``max_attempts`` times in all (a chunk likewise); then the video is a failure with a
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
import re
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ActionRecError
from ..pipeline.chunks import Chunk, merge_chunks, plan_chunks
from ..pipeline.sampling import SamplingGrid
from ..video.pyav import probe
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
    for attempt in range(2 if address is None else 1):
        try:
            ray.init(**kwargs)
            break
        except Exception as exc:  # Ray raises a bare Exception when its node does not start
            if address is None and attempt == 0 and _startup_timed_out(exc):
                ray.shutdown()  # a busy machine: Ray waits 30 s for its node; start it once more
                continue
            where = f"the Ray cluster at {address!r}" if address else "a local Ray runtime"
            raise ActionRecError(
                f"cannot start or reach {where}: {type(exc).__name__}: {exc}; for a cluster run `ray start "
                "--head` on one machine and use --ray-address auto there (or ray://HOST:10001 elsewhere); "
                "without --ray-address a local runtime is started (on a busy machine its start can time out: "
                "run again)"
            ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _startup_timed_out(exc: BaseException) -> bool:
    """Ray's own words when its node did not register within its 30 s (``ray._private.node``)."""
    return "timed out during startup" in str(exc)


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
    chunk_s: float | None = None,
    grid: SamplingGrid | None = None,
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
        chunk_s: split local files longer than this (their container's duration) into chunks of
            about this many seconds of windows, one task each (``None``: never split).
        grid: the driver's sampling grid, to plan the chunks (needed with ``chunk_s``).

    Yields:
        ``(index in items, DecodedWindows | VideoFailure)`` in input order, each as soon as it and
        every one before it are done.

    Raises:
        ActionRecError: no worker could start (e.g. the models do not compile on the workers).
        ValueError: ``chunk_s`` without ``grid``.
        KeyboardInterrupt: Ctrl+C; every actor is killed first.
    """
    if chunk_s is not None and grid is None:
        raise ValueError("chunk_s needs the sampling grid (grid=recognizer.grid) to plan the chunks")
    ray = import_ray()
    sent = [_absolute(item) for item in items]
    tasks = [(i, chunk) for i in range(len(items)) for chunk in _chunks(sent[i], chunk_s, grid)]
    n_workers = workers or max(1, cluster_cpus(ray) // config.cpus)
    n_workers = max(1, min(n_workers, len(tasks)))
    actor_cls = ray.remote(num_cpus=config.cpus, max_restarts=0)(worker_cls)
    payload_ref = ray.put(payload)
    left = [0] * len(items)  # tasks of each video not done yet
    for i, _ in tasks:
        left[i] += 1

    def start() -> Any:
        return actor_cls.remote(payload_ref, config)

    actors = [start() for _ in range(n_workers)]
    bar = _Progress(len(items), enabled=progress)
    try:
        _check_ready(ray, actors)
        bar.set_workers(len(actors))
        pending: deque[int] = deque(range(len(tasks)))
        attempts = [0] * len(tasks)
        idle = list(actors)
        inflight: dict[Any, tuple[Any, int]] = {}
        parts: dict[int, list] = {}  # a chunked video's chunk outcomes so far
        done: dict[int, Any] = {}
        emitted = 0
        replaced = 0
        while emitted < len(items):
            while pending and idle:
                actor, t = idle.pop(), pending.popleft()
                attempts[t] += 1
                i, chunk = tasks[t]
                if chunk is None:
                    ref = actor.analyze.remote(sent[i], cache=cache, max_download_mb=max_download_mb)
                else:
                    ref = actor.analyze_chunk.remote(sent[i], chunk=chunk, cache=cache, max_download_mb=max_download_mb)
                inflight[ref] = (actor, t)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=_POLL_S) if inflight else ([], [])
            for ref in ready:
                actor, t = inflight.pop(ref)
                i, chunk = tasks[t]
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
                    if attempts[t] < max_attempts:
                        pending.appendleft(t)
                        continue
                    what = "it" if chunk is None else f"its windows {chunk.first_window}.."
                    out = VideoFailure(
                        WorkerLostError(
                            f"the Ray worker analysing {what} died {_times(attempts[t])} (last: {_reason(exc)}); "
                            "analyse this file alone without --ray to see what stops the process"
                        )
                    )
                else:
                    idle.append(actor)
                if chunk is not None:
                    parts.setdefault(i, []).append(out)
                    bar.seconds_done(0.0 if isinstance(out, VideoFailure) else len(out.windows) * out.decoded.stride_s)
                left[i] -= 1
                if left[i] == 0:
                    out = _merged(parts.pop(i)) if chunk is not None else out
                    done[i] = _renamed(out, sent[i], items[i])
                    seconds = 0.0 if isinstance(out, VideoFailure) or chunk is not None else out.duration_s
                    bar.video_done(seconds)
            while emitted in done:
                bar.clear()  # the caller's lines (summaries, FAILED) start on a line of their own
                yield emitted, done.pop(emitted)
                bar.refresh()
                emitted += 1
    finally:
        bar.close()
        # Ctrl+C, an error or the end: no task keeps running. A generator closed after its session
        # ended (Ctrl+C while the caller wrote a result) finds Ray shut down and its actors gone with
        # it: ray.kill would start Ray again, or hang connecting to the last cluster it recorded.
        if ray.is_initialized():
            for actor in actors:
                ray.kill(actor, no_restart=True)


def _chunks(item: str, chunk_s: float | None, grid: SamplingGrid | None) -> tuple[Chunk | None, ...]:
    """A long local file's chunks (its container's duration over ``chunk_s``); ``(None,)``: one task."""
    path = Path(item)
    if chunk_s is None or grid is None or "://" in item or not path.is_file():
        return (None,)
    facts = probe(path)
    duration = facts.duration_s if facts is not None else None
    if duration is None or duration <= chunk_s:
        return (None,)
    chunks = plan_chunks(duration_s=duration, grid=grid, chunk_s=chunk_s)
    return chunks if len(chunks) > 1 else (None,)


def _merged(outcomes: list) -> Any:
    """A chunked video's decoder outputs, or the failure of one of its chunks."""
    failures = [o for o in outcomes if isinstance(o, VideoFailure)]
    if failures:
        return failures[0]
    try:
        return merge_chunks(outcomes)
    except (ActionRecError, ValueError) as exc:  # too short after all; chunks that do not cover it
        return VideoFailure.of(exc)


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


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours the task's name
_WHERE = re.compile(r"\s*\(pid=.*\)$")  # "(pid=…, ip=…, actor_id=…, repr=…)": Ray's bookkeeping


def _reason(exc: BaseException) -> str:
    """The informative lines of a Ray error, on one line.

    A failure inside a worker comes with its traceback: Ray's header line (without its pid and
    actor id) and the traceback's last line, the exception itself. Python's ``^^^^`` markers and
    Ray's colour codes are dropped.
    """
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line and set(line) - set("^~ ")]
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and not lines:
        return f"{type(cause).__name__}: {cause}"
    if not lines:
        return type(exc).__name__
    if any(line.startswith("File ") for line in lines[1:]):  # a traceback: where, then what
        return f"{_WHERE.sub('', lines[0]).rstrip('.')}; {lines[-1]}"
    return "; ".join(line.rstrip(".") for line in lines[:2])


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
        self.seconds_done(seconds)
        self.bar.update(1)

    def seconds_done(self, seconds: float) -> None:
        """Video seconds done (a whole video's, or a chunk's windows)."""
        self.video_s += seconds
        rate = self.video_s / max(time.perf_counter() - self.t_start, 1e-9)
        self.bar.set_postfix_str(f"{self.video_s:.0f} video s, {rate:.1f} video s/s, {self.workers} workers")

    def clear(self) -> None:
        self.bar.clear()

    def refresh(self) -> None:
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
