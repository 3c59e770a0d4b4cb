"""Which model answers, with which thresholds and lexical weight: at start and at each change."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from knowledge_base.encoders.base import TextEncoder, recommended_lexical_weight
from knowledge_base.encoders.base_models import MULTILINGUAL_E5, RECOMMENDED_THRESHOLDS
from knowledge_base.encoders.loading import load_encoder
from knowledge_base.search.snapshot import Thresholds
from knowledge_base.training.registry import ActiveModel, ModelRegistry

# Used when neither the settings nor the model directory name thresholds (a hub id, say):
# those of the default model family, multilingual e5.
FALLBACK_THRESHOLDS = Thresholds(**RECOMMENDED_THRESHOLDS[MULTILINGUAL_E5])


async def active_model(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> ActiveModel:
    """The model that should answer: the active trained version, else MODEL__PATH."""
    async with session_factory() as session:
        registry = ModelRegistry(session, settings.model.models_dir)
        return await registry.active_model(settings.model.resolved_path())


async def load_model(settings: Settings, path: Path) -> TextEncoder:
    """The model in `path`, loaded in a worker thread: loading must not block the event loop."""
    return await asyncio.to_thread(
        load_encoder,
        path,
        settings.model.backend,
        settings.model.allow_hub,
        settings.model.threads,
    )


def resolve_thresholds(settings: Settings, encoder: TextEncoder) -> Thresholds:
    """The bands of the settings, else those the model directory recommends, else the
    fallbacks."""
    recommended = encoder.recommended
    answer = settings.search.answer_threshold
    suggest = settings.search.suggest_threshold
    return Thresholds(
        answer=answer
        if answer is not None
        else recommended.get("answer", FALLBACK_THRESHOLDS.answer),
        suggest=(
            suggest
            if suggest is not None
            else recommended.get("suggest", FALLBACK_THRESHOLDS.suggest)
        ),
    )


def resolve_lexical_weight(settings: Settings, encoder: TextEncoder) -> float:
    """SEARCH__LEXICAL_WEIGHT if set, else the model's recommendation, else off."""
    configured = settings.search.lexical_weight
    if configured is not None:
        return configured
    recommended = recommended_lexical_weight(encoder.path)
    return 0.0 if recommended is None else recommended
