"""Test hook: a ``python -m actionrec`` subprocess with registry facts substituted for tiny files.

On ``PYTHONPATH`` (with the checkout), Python imports this module at start-up. When
``ACTIONREC_TEST_REGISTRY`` names a JSON file written by
:func:`tests.support.manifests.write_registry_override`, its entries replace the registry's
(same names and URLs, the tiny files' sizes and hashes), as ``monkeypatch.setitem(registry.MODELS,
...)`` does in-process. Without the variable it does nothing. Never part of the product.
"""

import json
import os

_path = os.environ.get("ACTIONREC_TEST_REGISTRY")
if _path:
    from actionrec.download import RemoteFile
    from actionrec.models import registry

    with open(_path, encoding="utf-8") as _f:
        for _name, _entry in json.load(_f).items():
            registry.MODELS[_name] = registry.ModelSpec(
                _name,
                RemoteFile(*_entry["labels"]),
                _entry["num_classes"],
                tuple(RemoteFile(*row) for row in _entry["files"]),
            )
