"""actionrec: human action recognition with OpenVINO (OMZ action-recognition-0001).

The engine behind ``action_recognition.ipynb``, usable without Jupyter
(``python -m actionrec --help``). Modules, one per concern:

- :mod:`actionrec.models.registry`: model and data facts (URLs, sizes, hashes)
- :mod:`actionrec.download`: verified, resumable downloads
- :mod:`actionrec.models`: resolve model files, load labels
- :mod:`actionrec.models.runtime`: OpenVINO core, devices, compiled models
- :mod:`actionrec.cli`: the command line
"""

__version__ = "0.1.0"
