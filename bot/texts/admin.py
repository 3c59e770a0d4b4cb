"""What the bot says to admins, in Russian (HTML parse mode): alerts, the base, the model."""

from __future__ import annotations

from html import escape

UNANSWERED = "❓ Вопрос без ответа (запрос #{query_id}):\n«{question}»"
NOT_HELPFUL = "👎 Статья «{title}» не помогла (запрос #{query_id}):\n«{question}»"
NONE_FIT = "🤷 Ни одна из предложенных статей не подошла (запрос #{query_id}):\n«{question}»"


def unanswered(query_id: int, question: str) -> str:
    return UNANSWERED.format(query_id=query_id, question=escape(question))


def not_helpful(query_id: int, question: str, title: str) -> str:
    return NOT_HELPFUL.format(query_id=query_id, question=escape(question), title=escape(title))


def none_fit(query_id: int, question: str) -> str:
    return NONE_FIT.format(query_id=query_id, question=escape(question))
