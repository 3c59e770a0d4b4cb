"""Counts model constructions in every Python process a test run starts.

The test run puts this folder on PYTHONPATH, so each child process (`faqbot run`, a training)
imports it at start-up, as Python does with any `sitecustomize` module; the run's own process
calls `install()` from tests/conftest.py. Each construction of a sentence-transformers model or
an ONNX Runtime session appends one line to the file named by FAQBOT_TEST_MODEL_LOADS, and the
run prints the total at its end (a model load costs seconds: the issue "tests with teeth" caps
them).
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
# module -> (class, what a line calls it)
_TARGETS = {
    "sentence_transformers.sentence_transformer.model": ("SentenceTransformer", "torch"),
    "onnxruntime.capi.onnxruntime_inference_collection": ("InferenceSession", "onnx"),
}


def _note(kind: str) -> None:
    path = os.environ.get(ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {kind}\n")


def _patch(module: ModuleType) -> None:
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
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def install() -> None:
    """Count from now on: modules already imported are patched, the others when imported."""
    for name in _TARGETS:
        if name in sys.modules:
            _patch(sys.modules[name])
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


if os.environ.get(ENV):
    install()
