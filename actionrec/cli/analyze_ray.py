"""``analyze --ray``: the flags, and the analyses of the inputs on Ray for :func:`~actionrec.cli.analyze.run_analyze`.

:func:`analyses` yields, per input in input order, a function returning its timeline (or raising
the error the local run raises), so the export, summary and ``FAILED`` lines of ``analyze`` are the
same code with and without ``--ray``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

from .common import devices_from_args


def add_ray_args(p: argparse.ArgumentParser) -> None:
    """``--ray``, ``--ray-address ADDRESS``, ``--workers N``, ``--chunk-s SECONDS`` (docs/distributed.md)."""
    p.add_argument(
        "--ray",
        action="store_true",
        help="analyse the inputs on Ray workers, one task per video (a local runtime unless --ray-address)",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="with --ray: 'auto' (the cluster of `ray start` on this machine) or ray://HOST:PORT; "
        "default: a local runtime on 127.0.0.1",
    )
    p.add_argument(
        "--workers", type=_positive, metavar="N", help="with --ray: worker actors (default: the cluster's CPUs)"
    )
    p.add_argument(
        "--chunk-s",
        type=_seconds,
        metavar="SECONDS",
        help="with --ray: split a local video longer than this into chunks of about this many seconds, "
        "one task each, merged into the unsplit result (default 120; 0: never split)",
    )


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of workers; e.g. 4")
    return n


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0; e.g. 120 (0: never split)")
    return value


def check_ray_args(args: argparse.Namespace) -> None:
    """``--ray-address`` / ``--workers`` without ``--ray`` are a mistake worth one clear line.

    Raises:
        ActionRecError: naming the flag and the fix.
    """
    from ..errors import ActionRecError

    flags = (("--ray-address", args.ray_address), ("--workers", args.workers), ("--chunk-s", args.chunk_s))
    for flag, value in flags:
        if value is not None and not args.ray:
            raise ActionRecError(f"{flag} needs --ray (analyse on Ray workers); add --ray or leave {flag} out")


def analyses(args: argparse.Namespace, recognizer, files, items: list[str]) -> Iterator[tuple[str, Callable]]:
    """``(item, analyse)`` per input, in input order; ``analyse()`` returns its timeline or raises its error.

    Without ``--ray``: ``analyse`` runs :meth:`Recognizer.analyze` here, when called. With ``--ray``:
    the inputs run on the workers meanwhile (a long local file in chunks, ``--chunk-s``), and
    ``analyse`` applies the head, top-k and smoothing to the decoder outputs the workers sent back
    (a chunked file's merged first, so smoothing crosses its chunk edges), as the local run does.
    """
    if not args.ray:
        for item in items:
            yield (
                item,
                lambda item=item: recognizer.analyze(
                    item, progress=not args.no_progress, cache=not args.no_cache, max_download_mb=args.max_download_mb
                ),
            )
        return
    from ..distributed import ModelPayload, VideoFailure, WorkerConfig, analyze_on_ray, ray_session
    from ..pipeline.chunks import DEFAULT_CHUNK_S

    payload = ModelPayload.from_files(files, labels=recognizer.models.labels, encoder_id=recognizer.models.encoder_id)
    config = WorkerConfig(**devices_from_args(args), options=recognizer.options, env=WorkerConfig.driver_env())
    chunk_s = DEFAULT_CHUNK_S if args.chunk_s is None else args.chunk_s
    with ray_session(args.ray_address, num_cpus=args.workers, verbose=getattr(args, "verbose", False)):
        outcomes = analyze_on_ray(
            items,
            payload=payload,
            config=config,
            workers=args.workers,
            cache=not args.no_cache,
            max_download_mb=args.max_download_mb,
            progress=not args.no_progress,
            chunk_s=chunk_s or None,
            grid=recognizer.grid,
        )
        for i, out in outcomes:
            yield items[i], lambda out=out: _timeline(recognizer, out, VideoFailure)


def _timeline(recognizer, out, failure_type):
    if isinstance(out, failure_type):
        raise out.error
    return recognizer.timeline(out)
