"""Counts model constructions in every Python process a test run starts, and puts a stand-in
model into those that ask for one.

The test run puts this folder on PYTHONPATH, so each child process (`faqbot run`, a training)
imports it at start-up, as Python does with any `sitecustomize` module; the run's own process
calls `install()` from tests/conftest.py. Each construction of a sentence-transformers model or
an ONNX Runtime session appends one line to the file named by FAQBOT_TEST_MODEL_LOADS, and the
run prints the total at its end (a model load costs seconds: the issue "tests with teeth" caps
them). A process started with FAQBOT_TEST_STAND_IN_MODEL=1 serves `stand_in_model`'s
TrigramEncoder wherever faqbot would load a model (see that module).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

ENV = "FAQBOT_TEST_MODEL_LOADS"
# Set to 1 in a child process's environment: it serves the stand-in model (stand_in_model.py).
STAND_IN_ENV = "FAQBOT_TEST_STAND_IN_MODEL"
# module -> (class, what a line calls it)
_TARGETS = {
    "sentence_transformers.sentence_transformer.model": ("SentenceTransformer", "torch"),
    "onnxruntime.capi.onnxruntime_inference_collection": ("InferenceSession", "onnx"),
}
# The module whose `load_encoder` a process with a stand-in model replaces.
_LOADING = "knowledge_base.encoders.loading"


def _note(kind: str) -> None:
    path = os.environ.get(ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
            log.write(f"{os.getpid()} {kind} {test}\n")


def _patch(module: ModuleType) -> None:
    if module.__name__ == _LOADING:
        from stand_in_model import load_stand_in

        module.load_encoder = load_stand_in  # type: ignore[attr-defined]
        return
    name, kind = _TARGETS[module.__name__]
    cls = getattr(module, name, None)
    if cls is None or getattr(cls, "_faqbot_counted", False):
        return
    original = cls.__init__

    def counted(self: Any, *args: Any, **kwargs: Any) -> None:
        _note(kind)
        original(self, *args, **kwargs)

    cls.__init__ = counted
    cls._faqbot_counted = True


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    # This module may be imported twice in one process (as `sitecustomize` at start and as
    # tests.fakes.model_loads.sitecustomize by the tests): one finder is enough, and none may
    # ask another, which would ask it back.
    faqbot_counting = True

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _TARGETS and not (fullname == _LOADING and _stand_in_wanted()):
            return None
        for finder in sys.meta_path:
            if getattr(finder, "faqbot_counting", False):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def _stand_in_wanted() -> bool:
    return bool(os.environ.get(STAND_IN_ENV))


def install() -> None:
    """Count from now on: modules already imported are patched, the others when imported."""
    for name in _TARGETS:
        if name in sys.modules:
            _patch(sys.modules[name])
    if not any(getattr(finder, "faqbot_counting", False) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


if os.environ.get(ENV):
    install()
