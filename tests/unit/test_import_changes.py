"""What an import preview says changes in an article: formatting compared as structure."""

from __future__ import annotations

from knowledge_base.articles import ImportChange, _changes
from knowledge_base.types import Article, ArticleDraft

HTML = 'Меню на <a href="https://portal/canteen">портале</a>. <b>Комплексный обед — 350 ₽</b>'
BODY = "Меню на портале. Комплексный обед — 350 ₽"


def _stored(body: str = BODY, body_html: str | None = HTML) -> Article:
    return Article(
        id=1, title="Меню столовой", body=body, category="Офис", archived=False, body_html=body_html
    )


def _draft(body: str, body_html: str | None) -> ArticleDraft:
    return ArticleDraft(title="Меню столовой", body=body, category="Офис", body_html=body_html)


def test_new_words_inside_a_bold_span_change_the_text_not_the_formatting() -> None:
    draft = _draft(BODY.replace("350", "390"), HTML.replace("350", "390"))
    assert _changes(draft, _stored()) == {ImportChange.BODY}


def test_a_changed_tag_or_attribute_is_a_change_of_formatting() -> None:
    link = HTML.replace("https://portal/canteen", "https://portal/menu")
    assert _changes(_draft(BODY, link), _stored()) == {ImportChange.FORMATTING}
    italic = HTML.replace("<b>", "<i>").replace("</b>", "</i>")
    assert _changes(_draft(BODY, italic), _stored()) == {ImportChange.FORMATTING}
    bold_gone = HTML.replace("<b>", "").replace("</b>", "")
    assert _changes(
        _draft(BODY.replace("350", "390"), bold_gone.replace("350", "390")), _stored()
    ) == {
        ImportChange.BODY,
        ImportChange.FORMATTING,
    }


def test_the_same_tags_on_other_words_of_the_same_text_are_a_change_of_formatting() -> None:
    moved = 'Меню на <a href="https://portal/canteen">портале. Комплексный</a> <b>обед — 350 ₽</b>'
    assert _changes(_draft(BODY, moved), _stored()) == {ImportChange.FORMATTING}


def test_the_same_formatting_is_no_change_and_plain_stays_plain() -> None:
    assert _changes(_draft(BODY, HTML), _stored()) == frozenset()
    plain = "Обед & ужин"
    assert _changes(_draft(plain, "Обед &amp; ужин"), _stored(plain, None)) == frozenset()
