"""Loading a model for serving: ONNX Runtime where it can serve the model, PyTorch otherwise."""

from __future__ import annotations

import logging
from pathlib import Path

from knowledge_base.encoders.base import TextEncoder
from knowledge_base.encoders.onnx_encoder import OnnxEncoder
from knowledge_base.encoders.onnx_export import export_onnx
from knowledge_base.encoders.onnx_files import onnx_ready
from knowledge_base.encoders.torch_encoder import Encoder

log = logging.getLogger(__name__)


def load_encoder(
    model_path: str | Path, backend: str = "onnx", allow_hub: bool = False, threads: int = 0
) -> TextEncoder:
    """The model served by `backend`. With "onnx", a model without a current export is
    exported first (once; it is kept next to the weights); a model ONNX Runtime cannot serve
    (another pooling, a read-only directory, a hub id) is served by PyTorch, and says why."""
    path = Path(model_path)
    if backend == "onnx" and (path / "modules.json").is_file():
        try:
            if not onnx_ready(path):
                log.info("no ONNX export of %s yet: building it (once)", path)
                return export_onnx(path, threads=threads)
            return OnnxEncoder(path, threads=threads)
        except Exception as error:  # any failure of export or runtime: PyTorch still serves
            log.warning("ONNX Runtime cannot serve %s (%s); PyTorch serves it", path, error)
    return Encoder(model_path, allow_hub=allow_hub)
