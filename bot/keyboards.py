"""Inline keyboards and the callback data they carry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.texts import user as texts
from knowledge_base.search import Match

# A Telegram button label may be long, but a row looks broken past ~60 characters.
BUTTON_TITLE_LIMIT = 60


# Database ids: forged data outside this range fails the filter instead of the database.
RowId = Annotated[int, Field(ge=1, lt=2**63)]


class Rate(CallbackData, prefix="r"):
    """👍/👎 under an article shown for a query."""

    query_id: RowId
    article_id: RowId
    label: Annotated[int, Field(ge=-1, le=1)]  # 0 is refused by the feedback service


class Pick(CallbackData, prefix="p"):
    """A suggested article pressed by the user."""

    query_id: RowId
    article_id: RowId


class NoneFit(CallbackData, prefix="n"):
    """«Нет подходящего» under suggestions."""

    query_id: RowId


def rating(query_id: int, article_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=texts.BUTTON_HELPFUL,
        callback_data=Rate(query_id=query_id, article_id=article_id, label=1),
    )
    builder.button(
        text=texts.BUTTON_NOT_HELPFUL,
        callback_data=Rate(query_id=query_id, article_id=article_id, label=-1),
    )
    builder.adjust(2)
    return builder.as_markup()


def suggestions(query_id: int, matches: Sequence[Match]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for match in matches:
        builder.button(
            text=_short(match.title),
            callback_data=Pick(query_id=query_id, article_id=match.article_id),
        )
    builder.button(text=texts.BUTTON_NONE_FIT, callback_data=NoneFit(query_id=query_id))
    builder.adjust(1)
    return builder.as_markup()


def _short(title: str) -> str:
    return title if len(title) <= BUTTON_TITLE_LIMIT else title[: BUTTON_TITLE_LIMIT - 1] + "…"
