"""MLflow models-from-code entry point, logged with every model: it names the pyfunc class.

Logging a file instead of a pickled object keeps registered models loadable by any version of
the project that still has `ClassifierModel`.
"""

from mlflow.models import set_model

from classifiers.pyfunc import ClassifierModel

set_model(ClassifierModel())
