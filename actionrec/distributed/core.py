"""The distributed runner's data types: what a worker is given and what it hands back.

- :class:`ModelPayload`: the verified model files as bytes, put once into Ray's object store by the
  driver; every worker node writes them into a folder of its own (:meth:`ModelPayload.materialize`).
- :class:`WorkerConfig`: how every worker compiles and analyses (device, sampling, settings).
- :class:`VideoFailure`: a video a worker could not analyse (its error, as the local run raises it).
- :class:`WorkerLostError`: a video whose worker died on every attempt.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write
from ..errors import ActionRecError
from ..models.files import ModelFiles
from ..pipeline.options import RecognizerOptions

FORWARDED_ENV_PREFIX = "AR_"
"""Workers run with the driver's ``AR_*`` settings (precision, file decoder, data and cache folders)."""


class WorkerLostError(ActionRecError):
    """The worker analysing a video died (crashed, killed, its node lost) on every attempt."""


class RemoteError(ActionRecError):
    """A worker's error that could not be sent back as it was (it does not pickle): its type and text."""


@dataclass(frozen=True)
class ModelPayload:
    """One model's IR files as bytes, so workers never download or need the driver's folders.

    Attributes:
        model, precision: the model family and precision (as in :class:`~actionrec.models.ModelFiles`).
        files: ``{relative path: bytes}`` of the encoder and decoder ``.xml`` and ``.bin``.
        labels: the class names, in decoder output order (read on the driver).
        digest: SHA-256 over the paths and bytes: names the folder the files are written to.
        encoder_id: the driver's :attr:`~actionrec.models.ActionModels.encoder_id` of these files
            (``""``: none). The workers key their embedding cache entries with it, not with their
            own copies' paths, so on a shared file system a later local run (or another
            worker) finds what they stored.
    """

    model: str
    precision: str
    files: dict[str, bytes] = field(repr=False)
    labels: tuple[str, ...]
    digest: str
    encoder_id: str = ""

    @classmethod
    def from_files(cls, files: ModelFiles, *, labels: tuple[str, ...], encoder_id: str = "") -> ModelPayload:
        """Read ``files``' encoder and decoder IRs (``.xml`` and ``.bin``) into memory.

        ``encoder_id``: the driver's compiled models' (see the attribute).

        Raises:
            OSError: a file cannot be read.
        """
        data: dict[str, bytes] = {}
        for part, xml in (("encoder", files.encoder_xml), ("decoder", files.decoder_xml)):
            for f in (xml, xml.with_suffix(".bin")):
                data[f"{part}/{f.name}"] = f.read_bytes()
        h = hashlib.sha256()
        for name in sorted(data):
            h.update(name.encode() + b"\0" + data[name])
        return cls(
            model=files.model,
            precision=files.precision,
            files=data,
            labels=labels,
            digest=h.hexdigest(),
            encoder_id=encoder_id,
        )

    @property
    def size_mb(self) -> float:
        """Megabytes of IR files."""
        return sum(len(b) for b in self.files.values()) / 1e6

    def materialize(self, root: str | os.PathLike[str] | None = None) -> ModelFiles:
        """Write the files under ``root/<digest>/`` (once per node: kept when already complete).

        Args:
            root: a node-local folder (default: the system temp folder's ``actionrec-ray-models``).

        Returns:
            The :class:`~actionrec.models.ModelFiles` of the written IRs (``verified``: the
            driver resolved them, verified or the user's own).

        Raises:
            ExportError: the folder cannot be written.
        """
        base = Path(root if root is not None else Path(tempfile.gettempdir()) / "actionrec-ray-models") / self.digest
        for name, data in self.files.items():
            target = base / name
            if not (target.is_file() and target.stat().st_size == len(data)):
                with atomic_write(target, "wb") as f:  # actors of one node may race: each rename is whole
                    f.write(data)
        xmls = {name.split("/")[0]: base / name for name in self.files if name.endswith(".xml")}
        return ModelFiles(
            model=self.model,
            precision=self.precision,
            encoder_xml=xmls["encoder"],
            decoder_xml=xmls["decoder"],
            labels_path=None,
            verified=False,
        )


@dataclass(frozen=True)
class WorkerConfig:
    """How every worker compiles the models and analyses (the same on every node).

    Attributes:
        device: OpenVINO device of the workers.
        encoder_device, decoder_device: where each model runs (``None``: ``device``).
        options: window, stride, top-k, smoothing (as the driver's recognizer).
        cpus: cores per worker: OpenVINO's inference threads and OpenCV's threads.
        env: settings applied to each worker process (the driver's ``AR_*`` variables).
    """

    device: str
    options: RecognizerOptions
    encoder_device: str | None = None
    decoder_device: str | None = None
    cpus: int = 1
    env: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def driver_env() -> dict[str, str]:
        """The driver's ``AR_*`` variables, which the workers get."""
        return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIX)}


@dataclass(frozen=True)
class VideoFailure:
    """A video a worker could not analyse.

    Attributes:
        error: the exception as the local run raises it (or a :class:`RemoteError` with its type
            and text when it does not pickle).
    """

    error: BaseException

    @classmethod
    def of(cls, exc: BaseException) -> VideoFailure:
        """Wrap ``exc``, replaced by a :class:`RemoteError` when it would not survive pickling."""
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = RemoteError(f"{type(exc).__name__}: {exc}")
        return cls(error=exc)
