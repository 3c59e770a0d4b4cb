"""A long article is split into messages that each fit Telegram, rating note and all, and are
each valid Telegram HTML; together they give the whole article."""

from __future__ import annotations

from html import escape

import pytest

from bot.texts import user as texts
from tests.fakes.telegram import message_as_sent

NOTES = (texts.FEEDBACK_HELPFUL_NOTE, texts.FEEDBACK_NOT_HELPFUL_NOTE, texts.FEEDBACK_NONE_FIT_NOTE)


def _squeezed(text: str) -> str:
    """The text without its white space: splitting may drop a separator, never a character."""
    return "".join(text.split())


def _shown(parts: list[str]) -> list[str]:
    """What Telegram shows of each part; fails if it would refuse one, even with the longest
    rating note appended (the last part gets it after a press; any part may be the last)."""
    shown = []
    for part in parts:
        for note in NOTES:
            with_note = message_as_sent(part + note)
            assert texts.utf16_length(with_note) <= texts.MESSAGE_LIMIT
        text = message_as_sent(part)
        assert text.strip(), parts
        shown.append(text)
    return shown


def _paragraphs(count: int, sentences: int) -> str:
    sentence = "Откройте портал, запросите доступ <к стенду> & дождитесь письма. "
    return "\n\n".join(f"Абзац {n}. " + (sentence * sentences).rstrip() for n in range(count))


def test_a_short_article_is_one_message_as_before() -> None:
    assert texts.article_parts("Ошибка <403>", "a < b & c") == [
        texts.article("Ошибка <403>", "a < b & c")
    ]
    html = "<b>Жирно</b> и <i>курсив</i>"
    assert texts.article_parts("Т", "Жирно и курсив", html) == [texts.article("Т", "x", html)]
    assert not texts.takes_several_messages("Т", "коротко")


def test_a_10000_character_article_comes_whole_in_parts_split_between_paragraphs() -> None:
    body = _paragraphs(19, 8)
    assert 10_000 < len(body) < 10_200
    parts = texts.article_parts("Доступ к стенду", body)
    shown = _shown(parts)
    assert len(parts) == 3
    assert texts.takes_several_messages("Доступ к стенду", body)
    assert _squeezed("".join(shown)) == _squeezed("Доступ к стенду" + body)
    # Each part ends where a paragraph ends, and the next starts with the next paragraph.
    for text in shown[1:]:
        assert text.startswith("Абзац ")
    for text in shown[:-1]:
        assert text.endswith(".")
    # The title, in bold, opens the first part only; markup in the body stays escaped.
    assert parts[0].startswith("<b>Доступ к стенду</b>\n\n")
    assert all("<b>" not in part for part in parts[1:])
    assert all("&lt;к стенду&gt; &amp;" in part for part in parts)


def test_a_paragraph_longer_than_a_message_is_split_at_sentence_ends() -> None:
    body = "Первое предложение о доступе к стенду и о письме! " * 200  # no line breaks
    shown = _shown(texts.article_parts("Т", body))
    assert len(shown) == 3
    assert all(text.endswith("!") for text in shown)
    assert _squeezed("".join(shown)) == _squeezed("Т" + body)


def test_lines_of_one_paragraph_are_split_at_line_breaks() -> None:
    body = "\n".join(f"строка {n} без точки в конце" for n in range(400))
    shown = _shown(texts.article_parts("Т", body))
    assert len(shown) > 1
    for text in shown[1:]:
        assert text.startswith("строка ")
        assert text.splitlines()[0].endswith("в конце")


def test_a_text_without_any_break_is_cut_between_characters_and_nothing_is_lost() -> None:
    body = "ж" * 9_000
    shown = _shown(texts.article_parts("Т", body))
    assert len(shown) == 3
    assert "".join(shown) == "Т\n\n" + body


@pytest.mark.parametrize("unit", ["😀", "👍🏽", "🔑 "])
def test_emoji_at_a_boundary_stay_whole_and_count_twice(unit: str) -> None:
    body = unit * (9_000 // len(unit))
    parts = texts.article_parts("Т", body)
    shown = _shown(parts)
    assert len(parts) > 1
    for text in shown:
        text.encode("utf-8")  # a surrogate half would fail here
        assert not text.startswith("🏽")
    assert _squeezed("".join(shown)) == _squeezed("Т" + body)


def test_an_entity_is_never_split() -> None:
    body = "&&&&&<<<<>>>>" * 900
    parts = texts.article_parts("Т", body)
    shown = _shown(parts)
    assert len(parts) > 2
    assert "".join(shown) == "Т\n\n" + body
    for part, text in zip(parts[1:], shown[1:], strict=True):
        assert part == escape(text, quote=False)


def test_nested_tags_are_closed_at_a_split_and_reopened_after_it() -> None:
    words = " ".join(f"слово{n}" for n in range(1_000))
    html = f'Начало <b>жирно <i>курсив <a href="https://example.com/a?b=1&amp;c=2">{words}</a>'
    html += " хвост</i> после</b> конец &amp; всё"
    body = f"Начало жирно курсив {words} хвост после конец & всё"
    parts = texts.article_parts("Т", body, html)
    shown = _shown(parts)
    assert len(parts) == 3
    assert _squeezed("".join(shown)) == _squeezed("Т" + body)
    opened = '<b><i><a href="https://example.com/a?b=1&amp;c=2">'
    assert parts[0].endswith("</a></i></b>")
    assert parts[1].startswith(opened) and parts[1].endswith("</a></i></b>")
    assert parts[2].startswith(opened) and parts[2].endswith(
        "</a> хвост</i> после</b> конец &amp; всё"
    )
    assert parts[0].startswith("<b>Т</b>\n\n")


def test_a_code_block_that_fits_a_message_is_never_split() -> None:
    code = "\n".join(f"    step_{n}()  # шаг {n}" for n in range(80))
    block = f'<pre><code class="language-python">{code}</code></pre>'
    # One paragraph, and the block right after its last line: the last line break that fits
    # the first message is inside the block.
    prose = "Откройте портал, запросите доступ <к стенду> & дождитесь письма. " * 50
    html = f"{escape(prose)}\n{block}\n{escape(prose)}"
    body = f"{prose}\n{code}\n{prose}"
    parts = texts.article_parts("Т", body, html)
    shown = _shown(parts)
    assert len(parts) > 2
    assert sum(block in part for part in parts) == 1
    assert _squeezed("".join(shown)) == _squeezed("Т" + body)


def test_a_code_block_longer_than_a_message_is_split_into_code_blocks() -> None:
    code = "\n".join(f"    step_{n}()  # шаг {n} <x> & y" for n in range(400))
    html = f'До\n\n<pre><code class="language-python">{escape(code)}</code></pre>\n\nПосле'
    body = f"До\n\n{code}\n\nПосле"
    parts = texts.article_parts("Т", body, html)
    shown = _shown(parts)
    assert len(parts) > 2
    assert _squeezed("".join(shown)) == _squeezed("Т" + body)
    code_parts = [part for part in parts if "step_" in part]
    assert len(code_parts) > 1
    for part in code_parts:
        assert part.count('<pre><code class="language-python">') == 1
        assert part.count("</code></pre>") == 1
    # Split at line ends, with the indentation of the next line kept.
    for text in shown[1:]:
        if text.startswith(" "):
            assert text.startswith("    step_")


def test_the_parts_together_are_the_whole_formatted_article_with_emoji() -> None:
    paragraph = "<b>Важно:</b> 🔑 ключ <i>выдаёт</i> <code>admin</code> &lt;отдел&gt;."
    html = "\n\n".join([paragraph] * 200)
    body = "\n\n".join(["Важно: 🔑 ключ выдаёт admin <отдел>."] * 200)
    shown = _shown(texts.article_parts("Т", body, html))
    assert len(shown) > 1
    assert _squeezed("".join(shown)) == _squeezed("Т" + body)
