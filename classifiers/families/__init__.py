"""The model families. Each module declares one family and registers it; importing this package imports every module
in it, so a new family is one module here (their heavy dependencies, torch and transformers, load only when used)."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
