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
- :mod:`~actionrec.pipeline.chunks`: a long video in chunks of windows (:func:`plan_chunks`,
  :func:`analyze_chunk`, :func:`merge_chunks`), merged into what the unsplit run gives
"""

from .cache import EmbeddingCache
from .chunks import Chunk, ChunkWindows, analyze_chunk, merge_chunks, plan_chunks
from .encoded import EncodedVideo
from .encoders import EncoderQueue
from .files import Recognizer, run_decoder
from .live import LiveRecognizer
from .options import RecognizerOptions
from .preprocess import Preprocessed, crop_rect, preprocess
from .sampling import GridSampler, NearestFrameFilter, Sample, SamplingGrid
from .stages import FileEncoder

__all__ = [
    "Chunk",
    "ChunkWindows",
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
    "analyze_chunk",
    "crop_rect",
    "merge_chunks",
    "plan_chunks",
    "preprocess",
    "run_decoder",
]
