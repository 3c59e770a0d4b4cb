"""What the bot writes: long articles fit one Telegram message, user text is escaped."""

from __future__ import annotations

from html import unescape

from bot.texts import user as texts


def _visible(html: str) -> str:
    return unescape(
        html.replace("<b>", "").replace("</b>", "").replace("<i>", "").replace("</i>", "")
    )


def test_a_long_article_is_cut_to_fit_one_message_with_its_rating_note() -> None:
    html = texts.article("Регламент", "Шаг & ещё шаг. " * 1000)
    shown = _visible(html + texts.FEEDBACK_NOT_HELPFUL_NOTE)
    assert texts.MESSAGE_LIMIT - 20 < len(shown) <= texts.MESSAGE_LIMIT
    assert html.endswith(texts.CUT_MARK)
    assert "&amp;" in html and "& " not in html


def test_emoji_count_twice_toward_the_limit_as_telegram_counts_them() -> None:
    html = texts.article("Регламент", "🔑 ключ. " * 1000)
    shown = _visible(html + texts.FEEDBACK_NOT_HELPFUL_NOTE)
    assert texts.utf16_length(shown) <= texts.MESSAGE_LIMIT
    assert texts.utf16_length(shown) > texts.MESSAGE_LIMIT - 20


def test_a_short_article_is_shown_whole_with_its_markup_escaped() -> None:
    html = texts.article("Ошибка <403>", "Проверьте a < b & c > d")
    assert html == "<b>Ошибка &lt;403&gt;</b>\n\nПроверьте a &lt; b &amp; c &gt; d"


def test_the_greeting_names_the_topics_only_when_there_are_some() -> None:
    assert "Темы: IT, HR." in texts.greeting(5, ["IT", "HR"])
    assert "Темы" not in texts.greeting(0, [])
