"""MLflow models-from-code entry point, logged with every model: it names the pyfunc class.

Logging a file instead of a pickled object keeps registered models loadable by any version of
the project that still has `ClassifierModel`.
"""

import sys
from pathlib import Path

from mlflow.models import set_model

# What MLflow names the folder of a model's code_paths, beside its MLmodel file.
_CODE_FOLDER = "code"
_PACKAGE = "classifiers"


def _forget_another_models_package() -> None:
    """Drop the classifiers package from the module cache where another model's copy of it was imported.

    MLflow puts this model's code folder first on sys.path but keeps the modules already imported, so a process that
    loaded one registered model and then another (a notebook with news-topic and news-stance) ran the second with the
    first's copy: another version of this project where the two were trained apart, which fails on settings it does
    not know or answers by older code. The project's own package (imported by its server and commands) is kept: every
    model is loaded by it there. The first model's objects keep the modules they were built with.
    """
    loaded = sys.modules.get(_PACKAGE)
    origin = getattr(loaded, "__file__", None)
    if origin is None:
        return
    folder = Path(origin).resolve().parent.parent
    ours = Path(__file__).resolve().parent / _CODE_FOLDER
    if folder.name != _CODE_FOLDER or not (folder.parent / "MLmodel").is_file() or folder == ours:
        return
    for name in [name for name in sys.modules if name == _PACKAGE or name.startswith(f"{_PACKAGE}.")]:
        del sys.modules[name]


_forget_another_models_package()

from classifiers.pyfunc import ClassifierModel  # noqa: E402  (imported once another model's copy is forgotten)

set_model(ClassifierModel())
