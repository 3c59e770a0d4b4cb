"""Fine-tunes a sentence-transformers model on (question, title[, rejected title]) rows."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge_base.encoders.base import model_prompts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingRow:
    """One training example: a question, the title of its article, and rejected titles."""

    query: str
    title: str
    negatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hyperparameters:
    """The seed's recipe by default: MNRL (scale 20, cosine), 2 epochs, batch 8, lr 5e-5."""

    epochs: float = 2.0
    batch_size: int = 8
    learning_rate: float = 5e-5
    seed: int = 42
    warmup_ratio: float = 0.0
    scale: float = 20.0
    # The word-embedding table (250,000 tokens × 384 for multilingual e5) is 80% of the weights;
    # updating it costs most of every step on a CPU, and a few hundred questions cannot teach
    # it much. The transformer layers above it still learn.
    freeze_embeddings: bool = True


@dataclass(frozen=True)
class FineTuneReport:
    steps: int
    seconds: float
    final_loss: float | None


@dataclass(frozen=True)
class _Prompts:
    """The prompts a model was trained with ("" for none)."""

    query: str
    passage: str


class TrainableModel:
    """The model a training loads once: judged before training, trained in place, judged
    again and exported, so one training holds one copy of it and loads it once."""

    def __init__(self, base: Path, params: Hyperparameters) -> None:
        self.base = base
        self.model, self.prompts = _load_model(base, params)


def fine_tune(
    trainable: TrainableModel,
    rows: Sequence[TrainingRow],
    output: Path,
    params: Hyperparameters,
    *,
    threads: int,
    progress: bool = True,
) -> FineTuneReport:
    """Train `trainable` in place with MultipleNegativesRankingLoss and save it to `output`.

    The steps follow sentence-transformers' own training examples.
    """
    import time

    import torch

    started = time.monotonic()
    torch.set_num_threads(max(1, threads))

    # 1. The model to fine-tune: the active one, loaded from its local directory.
    model = trainable.model
    # 2. The data: (question, title) pairs, and triplets with a title a user rejected.
    train_dataset = _dataset(rows)
    # 3. The loss: every other title in the batch is a negative for a question.
    loss = _loss(model, params)
    # 4. Arguments: the model's prompts on each column; no title twice in one batch.
    scratch = output / ".trainer"
    args = _arguments(params, trainable.prompts, scratch, progress)
    # 5. Train.
    steps, final_loss = _train(model, args, train_dataset, loss)
    model.eval()
    # 6. Save, and undo what sentence-transformers drops on the way.
    model.save(str(output))
    _restore_model_args(trainable.base, output)
    _remove_tree(scratch)
    return FineTuneReport(steps=steps, seconds=time.monotonic() - started, final_loss=final_loss)


def _load_model(base: Path, params: Hyperparameters) -> tuple[Any, _Prompts]:
    """The model in `base`, on the CPU in float32, and its prompts.

    Eager attention, as the ONNX export needs it (see onnx_export._load_model): the trained
    model is exported as it is in memory, not loaded again.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(base),
        device="cpu",
        local_files_only=True,
        model_kwargs={"dtype": "float32", "attn_implementation": "eager"},
    )
    query_prompt, passage_prompt = model_prompts(base, model.prompts)
    if query_prompt or passage_prompt:
        # Saved with the model, so the trained copy keeps them whatever its name.
        model.prompts = {
            "query": query_prompt,
            "passage": passage_prompt,
            "document": passage_prompt,
        }
    if params.freeze_embeddings:
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding) and module.num_embeddings > 1000:
                module.weight.requires_grad_(False)
    return model, _Prompts(query_prompt, passage_prompt)


def _dataset(rows: Sequence[TrainingRow]) -> Any:
    """(anchor, positive) pairs, and (anchor, positive, negative) triplets where a user
    rejected an article for that question. MNRL takes either; one dataset each."""
    from datasets import Dataset, DatasetDict

    pairs = [r for r in rows if not r.negatives]
    triplets = [(r, negative) for r in rows for negative in r.negatives]
    datasets: dict[str, Any] = {}
    if pairs:
        datasets["pairs"] = Dataset.from_dict(
            {"anchor": [r.query for r in pairs], "positive": [r.title for r in pairs]}
        )
    if triplets:
        datasets["triplets"] = Dataset.from_dict(
            {
                "anchor": [r.query for r, _ in triplets],
                "positive": [r.title for r, _ in triplets],
                "negative": [negative for _, negative in triplets],
            }
        )
    return next(iter(datasets.values())) if len(datasets) == 1 else DatasetDict(datasets)


def _loss(model: Any, params: Hyperparameters) -> Any:
    """MNRL: every other title in the batch is a negative for a question."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.util import cos_sim

    return MultipleNegativesRankingLoss(model, scale=params.scale, similarity_fct=cos_sim)


def _arguments(params: Hyperparameters, prompts: _Prompts, scratch: Path, progress: bool) -> Any:
    """The model's own prompts on each column; no title twice in one batch, so an article is
    never its own in-batch negative."""
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    column_prompts = {
        column: prompt
        for column, prompt in (
            ("anchor", prompts.query),
            ("positive", prompts.passage),
            ("negative", prompts.passage),
        )
        if prompt
    }
    return SentenceTransformerTrainingArguments(
        output_dir=str(scratch),
        num_train_epochs=params.epochs,
        per_device_train_batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=params.warmup_ratio,  # a float below 1 is a ratio in transformers 5
        seed=params.seed,
        data_seed=params.seed,
        prompts=column_prompts or None,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="steps",
        logging_steps=25,
        report_to="none",
        disable_tqdm=not progress,
        use_cpu=True,
        dataloader_num_workers=0,
    )


def _train(model: Any, args: Any, train_dataset: Any, loss: Any) -> tuple[int, float | None]:
    """Run the trainer; the number of steps it took and its last logged loss."""
    from sentence_transformers import SentenceTransformerTrainer

    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train_dataset, loss=loss
    )
    # The trainer prints its progress and loss lines to stdout; stdout belongs to the command's
    # result (`faqbot train --json`).
    with contextlib.redirect_stdout(sys.stderr):
        result = trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return int(result.global_step), float(losses[-1]) if losses else None


def _restore_model_args(base: Path, output: Path) -> None:
    """sentence-transformers 6 forgets `model_args` (add_pooling_layer: false) when it saves,
    so the copy would reload with an unused, randomly initialised pooler and a warning."""
    name = "sentence_bert_config.json"
    source, target = base / name, output / name
    if not source.is_file() or not target.is_file():
        return
    model_args = json.loads(source.read_text(encoding="utf-8")).get("model_args")
    if not model_args:
        return
    config = json.loads(target.read_text(encoding="utf-8"))
    config["model_args"] = {**model_args, **config.get("model_args", {})}
    target.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _remove_tree(path: Path) -> None:
    import shutil

    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


def default_threads() -> int:
    """All cores but one, so a bot on the same machine keeps one for answering."""
    return max(1, (os.cpu_count() or 1) - 1)
