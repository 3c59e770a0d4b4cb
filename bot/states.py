"""Every StatesGroup of the bot: the steps where it waits for an admin's next message."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class AddArticle(StatesGroup):
    """/add: the new article's title, its text, other phrasings, then the preview (from which
    «Выбрать тему» waits for a category pressed or typed)."""

    title = State()
    body = State()
    phrasings = State()
    preview = State()
    category = State()


class EditArticle(StatesGroup):
    """Waiting for the admin's next message: a new title, a new body, phrasings or a new
    category; then (title, body, phrasings) for «Сохранить» under the preview."""

    title = State()
    body = State()
    phrasings = State()
    category = State()
    preview = State()


class ChooseArticle(StatesGroup):
    """/unanswered: waiting for words that find the article to attach a group to."""

    words = State()
