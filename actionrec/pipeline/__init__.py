"""From frames to predictions: preprocessing, time-based sampling, the file and live recognizers.

- :mod:`~actionrec.pipeline.options`: :class:`RecognizerOptions` (window, stride, top-k, smoothing)
- :mod:`~actionrec.pipeline.encoded`: :class:`EncodedVideo`, per-grid-sample embeddings of one video
- :mod:`~actionrec.pipeline.preprocess` and :mod:`~actionrec.pipeline.sampling`: crop, resize, the
  sampling grid
- :mod:`~actionrec.pipeline.files`: :class:`Recognizer` (whole files), whose decode ‖ encode stages
  are :class:`FileEncoder` (:mod:`~actionrec.pipeline.stages`); :mod:`~actionrec.pipeline.live`:
  :class:`LiveRecognizer`
- :mod:`~actionrec.pipeline.encoders` (batched async encoder requests),
  :mod:`~actionrec.pipeline.jobs` (async requests whose callback errors are raised once, on the
  caller's thread), :mod:`~actionrec.pipeline.cache` (embeddings on disk)
"""

from .cache import EmbeddingCache
from .encoded import EncodedVideo
from .encoders import EncoderQueue
from .files import Recognizer, run_decoder
from .live import LiveRecognizer
from .options import RecognizerOptions
from .preprocess import Preprocessed, crop_rect, preprocess
from .sampling import GridSampler, NearestFrameFilter, Sample, SamplingGrid
from .stages import FileEncoder

__all__ = [
    "EmbeddingCache",
    "EncodedVideo",
    "EncoderQueue",
    "FileEncoder",
    "GridSampler",
    "LiveRecognizer",
    "NearestFrameFilter",
    "Preprocessed",
    "Recognizer",
    "RecognizerOptions",
    "Sample",
    "SamplingGrid",
    "crop_rect",
    "preprocess",
    "run_decoder",
]
