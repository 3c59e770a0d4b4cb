"""Telegram HTML in article files: what is accepted, what is refused, and its plain text."""

from __future__ import annotations

import pytest

from knowledge_base.telegram_html import TelegramHtmlError, body_beside, plain_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("просто текст", "просто текст"),
        ("<b>жирный</b> и <strong>тоже</strong>", "жирный и тоже"),
        ("<i>a</i><em>b</em><u>c</u><ins>d</ins><s>e</s><strike>f</strike><del>g</del>", "abcdefg"),
        ('<span class="tg-spoiler">тайна</span> <tg-spoiler>ещё</tg-spoiler>', "тайна ещё"),
        ('<a href="https://x.example/?a=1&b=2">ссылка</a>', "ссылка"),
        ('<a href="tg://user?id=1">он</a> <a href="mailto:a@b.c">почта</a>', "он почта"),
        ("<code>id-123</code>", "id-123"),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ('<pre><code language="language-python">x &lt; 1</code></pre>', "x < 1"),
        (
            "<blockquote>цитата</blockquote><blockquote expandable>длинная</blockquote>",
            "цитатадлинная",
        ),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
        ("&lt;b&gt; &amp; &quot;кавычки&quot; &#1071; &#x44F;", '<b> & "кавычки" Я я'),
        ("<b>жирный <i>и курсив</i></b>\nвторая строка", "жирный и курсив\nвторая строка"),
        ("<B>регистр</B>", "регистр"),
        ("a > b", "a > b"),
    ],
)
def test_valid_telegram_html_gives_the_text_telegram_shows(html: str, text: str) -> None:
    assert plain_text(html) == text


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<b>не закрыт", "<b> is not closed"),
        ("<b><i>крест</b></i>", "</b> where </i> was expected"),
        ("лишний</b>", "</b> closes no open tag"),
        ("<div>блок</div>", "<div> is not a tag Telegram accepts"),
        ("<br/>", "no self-closing tags"),
        ("<br>", "<br> is not a tag"),
        ("a < b", "opens no tag"),
        ("Q & A", "starts no entity"),
        ("&nbsp;", "starts no entity"),
        ("&#xD800;", "is not a character"),
        ('<a href="javascript:alert(1)">x</a>', "only http, https, tg and mailto"),
        ("<a>x</a>", "<a> needs the attribute href"),
        ('<a href="https://a" href="https://b">x</a>', "attribute href twice"),
        ('<a href="https://a"><a href="https://b">x</a></a>', "a link inside a link"),
        ('<b class="x">y</b>', "<b> cannot have the attribute class"),
        ('<span class="red">x</span>', 'class="tg-spoiler"'),
        ("<code><b>x</b></code>", "<b> inside <code>"),
        ('<code class="python">x</code>', "must name a language-"),
        ("<blockquote><blockquote>x</blockquote></blockquote>", "a quote inside a quote"),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "must be a number"),
    ],
)
def test_html_telegram_would_refuse_is_refused_with_a_reason(html: str, reason: str) -> None:
    with pytest.raises(TelegramHtmlError) as error:
        plain_text(html)
    assert reason in error.value.reason


def test_the_body_beside_formatting_is_its_own_plain_text() -> None:
    # A message " bold" with the space inside the entity: stripping its text drops the
    # space, stripping its HTML cannot.
    assert body_beside("<b> жирный</b> текст", "жирный текст") == " жирный текст"
    assert body_beside(None, "текст") == "текст"
    assert body_beside("<unknown>x</unknown>", "x") == "x"
