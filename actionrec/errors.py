"""Exception types: one per failure a user can act on.

Every message says what was received, what is valid and what to do next.
"""

from __future__ import annotations


class ActionRecError(Exception):
    """Base class of every error this package raises on purpose."""


class DownloadError(ActionRecError):
    """A file could not be downloaded (network, HTTP status, timeout, disk)."""


class ChecksumMismatchError(DownloadError):
    """Downloaded bytes do not match the pinned size or hash."""


class OfflineError(DownloadError):
    """A file is needed that is not cached, and network access is disabled."""


class ModelNotFoundError(ActionRecError):
    """A model name, precision or model folder does not hold what is needed."""


class ModelOutputError(ModelNotFoundError):
    """A model's output at run time does not fit its pair or the labels: the files do not belong together.

    E.g. an encoder giving another number of values per sample than the decoder takes.
    """


class LabelsError(ActionRecError):
    """A labels file is malformed or does not match the decoder's output size."""


class DeviceNotAvailableError(ActionRecError):
    """The requested OpenVINO device is not present on this machine."""


class VideoOpenError(ActionRecError):
    """A video source (file, URL, camera, folder) cannot be opened."""


class VideoDecodeError(ActionRecError):
    """A video opened but no usable frames could be decoded."""


class ClipTooShortError(ActionRecError):
    """A video is shorter than one model window."""


class ExportError(ActionRecError):
    """An export (JSON, CSV, WebVTT, video) could not be written."""


class UploadError(ActionRecError):
    """An uploaded file was rejected (too large, not a video, unsafe name)."""


class AnalysisCancelledError(ActionRecError):
    """An analysis or export was stopped on request (a Cancel button, a newer upload); nothing was kept."""


class HeadError(ActionRecError):
    """A label-groups, custom-actions or event-rules file (or value) is malformed or names an unknown label."""


class HeadMismatchError(HeadError):
    """A head cannot read these models' outputs (e.g. custom actions trained on another decoder)."""


class OutsideClipError(ActionRecError, ValueError):
    """A time asked for lies outside what the clip covers (the message gives the clip's span)."""


class CompareError(ActionRecError):
    """A configuration of an A/B comparison could not be measured (its process failed, or too few remain)."""
