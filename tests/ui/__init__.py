"""Real-UI tests: JupyterLab in Debian's headless Chromium (harness in ``conftest.py``)."""
