"""Scale-out on Ray: many videos over a cluster's workers, long videos split by time.

- :mod:`~actionrec.distributed.core`: :class:`ModelPayload` (the model files through Ray's object
  store), :class:`WorkerConfig`, :class:`VideoFailure`, :class:`WorkerLostError`
- :mod:`~actionrec.distributed.worker`: :class:`VideoWorker`, the actor that compiles the models once
- :mod:`~actionrec.distributed.runner`: :func:`ray_session` (a local runtime or a cluster) and
  :func:`analyze_on_ray` (one task per video, retries when a worker dies, Ctrl+C cancels)

Ray is an optional dependency (``pip install 'actionrec[ray]'``): importing this package does not
import it; :func:`ray_session` says how to install it when it is missing. See docs/distributed.md.
"""

from .core import ModelPayload, RemoteError, VideoFailure, WorkerConfig, WorkerLostError
from .runner import MAX_ATTEMPTS, analyze_on_ray, ray_session
from .worker import VideoWorker

__all__ = [
    "MAX_ATTEMPTS",
    "ModelPayload",
    "RemoteError",
    "VideoFailure",
    "VideoWorker",
    "WorkerConfig",
    "WorkerLostError",
    "analyze_on_ray",
    "ray_session",
]
