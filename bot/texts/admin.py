"""What the bot says to admins, in Russian (HTML parse mode): alerts, the base, the model."""

from __future__ import annotations

from html import escape

from bot.texts import plural

UNANSWERED = "❓ Вопрос без ответа (запрос #{query_id}):\n«{question}»"
NOT_HELPFUL = "👎 Статья «{title}» не помогла (запрос #{query_id}):\n«{question}»"
NONE_FIT = "🤷 Ни одна из предложенных статей не подошла (запрос #{query_id}):\n«{question}»"


def unanswered(query_id: int, question: str) -> str:
    return UNANSWERED.format(query_id=query_id, question=escape(question))


def not_helpful(query_id: int, question: str, title: str) -> str:
    return NOT_HELPFUL.format(query_id=query_id, question=escape(question), title=escape(title))


def none_fit(query_id: int, question: str) -> str:
    return NONE_FIT.format(query_id=query_id, question=escape(question))


# --- the base, article by article ---------------------------------------------------------

BUTTON_ARCHIVE = "В архив"
BUTTON_RESTORE = "Вернуть"
BUTTON_TITLE = "Изменить заголовок"
BUTTON_BODY = "Изменить текст"
BUTTON_PHRASINGS = "Фразы"
BUTTON_ADD_PHRASINGS = "Добавить фразы"
BUTTON_BACK = "« К списку"
BUTTON_PREVIOUS = "‹ Назад"
BUTTON_NEXT = "Дальше ›"

NO_ARTICLES = "Статей не найдено."
NO_ARTICLES_FOR = "По словам «{words}» статей не найдено."
NO_ARCHIVED = "В архиве пусто."
ARTICLE_MISSING = "Такой статьи уже нет."
ASK_TITLE = "Пришлите новый заголовок статьи «{title}» одним сообщением (/cancel — отмена)."
ASK_BODY = "Пришлите новый текст статьи «{title}» одним сообщением (/cancel — отмена)."
ASK_PHRASINGS = (
    "Пришлите фразы для статьи «{title}», по одной на строку: так сотрудники могут спросить "
    "о ней (/cancel — отмена)."
)
TITLE_TAKEN = "Статья с таким заголовком уже есть. Пришлите другой заголовок или /cancel."
TITLE_TOO_LONG = "Заголовок длиннее 300 символов. Пришлите короче или /cancel."
NEED_TEXT = "Пришлите текст сообщением или /cancel."
SAVED = "Сохранено."
ARCHIVED = "Статья «{title}» в архиве: поиск её больше не предлагает. Вернуть — /archive."
RESTORED = "Статья «{title}» снова в поиске."
PHRASING_DELETED = "Фраза «{text}» удалена."
CANCELLED = "Отменено."
NOTHING_TO_CANCEL = "Отменять нечего."
NOT_FOR_YOU = "Эта кнопка только для администраторов."
NO_CHANGES = "Изменений пока не было."

CARD_PHRASINGS = 25
SOURCES = {"title": "заголовок", "admin": "админ", "import": "импорт", "feedback": "из отзывов"}
ACTIONS = {
    "add": "создана",
    "edit_title": "новый заголовок",
    "edit_body": "новый текст",
    "archive": "в архив",
    "restore": "из архива",
    "add_phrasing": "добавлены фразы",
    "delete_phrasing": "удалена фраза",
}


def articles_page(words: str, total: int, page: int, pages: int, archived: bool) -> str:
    what = "В архиве" if archived else "В базе"
    found = f"По словам «{escape(words)}» найдено" if words else what
    return f"{found}: {plural.articles(total)}. Страница {page + 1} из {pages}."


def card(
    title: str,
    body: str,
    category: str,
    archived: bool,
    phrasings: list[tuple[str, str]],
    answered: int,
    helpful: int,
    not_helpful: int,
) -> str:
    lines = [f"<b>{escape(title)}</b>"]
    if archived:
        lines.append("<i>в архиве</i>")
    if category:
        lines.append(f"Категория: {escape(category)}")
    lines += ["", escape(_clip(body, 1500)), ""]
    lines.append(f"{plural.phrasings(len(phrasings)).capitalize()}:")
    for text, source in phrasings[:CARD_PHRASINGS]:
        lines.append(f"• {escape(_clip(text, 80))} <i>({SOURCES.get(source, source)})</i>")
    if len(phrasings) > CARD_PHRASINGS:
        lines.append(f"… и ещё {len(phrasings) - CARD_PHRASINGS} (кнопка «Фразы»)")
    lines += ["", f"Ответов этой статьёй: {answered}; 👍 {helpful}, 👎 {not_helpful}."]
    # Within Telegram's 4096: the body is clipped to 1500, the list to 25 lines of 80.
    return "\n".join(lines)


def phrasings_header(title: str, count: int) -> str:
    return (
        f"Фразы статьи «{escape(title)}»: {plural.phrasings(count)}. "
        "Нажмите на фразу, чтобы удалить её."
    )


def audit_line(when: str, actor: int, action: str, title: str, before: str, after: str) -> str:
    change = ACTIONS.get(action, action)
    detail = ""
    if before or after:
        detail = f": «{escape(_clip(before, 80))}» → «{escape(_clip(after, 80))}»"
    return f"{when} · {actor} · «{escape(title)}» — {change}{detail}"


def ask(template: str, title: str) -> str:
    return template.format(title=escape(title))


def done(template: str, **values: str) -> str:
    return template.format(**{k: escape(v) for k, v in values.items()})


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- files ------------------------------------------------------------------------------------

BUTTON_IMPORT = "Импортировать"
BUTTON_CANCEL = "Отмена"
FILE_TOO_BIG = "Файл больше {limit} МБ — такой не принимаю. Разбейте его на части."
FILE_UNREADABLE = "Не удалось скачать файл из Telegram. Пришлите его ещё раз."
FILE_REFUSED = "Файл «{name}» не импортирован, в базе ничего не изменилось.\n{reason}"
FILE_PREVIEW = (
    "Файл «{name}»: {articles}.\nБудет добавлено {added}, обновлено {updated}, "
    "без изменений {unchanged}."
)
IMPORT_GONE = "Этот предпросмотр устарел. Пришлите файл ещё раз."
EXPORT_CAPTION = "База знаний: {articles}. Этот файл можно импортировать обратно без изменений."
EXPORT_FORMATS = "Формат: /export jsonl, /export yaml или /export csv."


def file_preview(name: str, total: int, added: int, updated: int, unchanged: int) -> str:
    return FILE_PREVIEW.format(
        name=escape(name),
        articles=plural.articles(total),
        added=added,
        updated=updated,
        unchanged=unchanged,
    )


def imported(added: int, updated: int, unchanged: int) -> str:
    return (
        f"Импорт завершён: добавлено {added}, обновлено {updated}, без изменений {unchanged}. "
        "Поиск уже учитывает изменения."
    )


# --- /add ---------------------------------------------------------------------------------

ADD_TITLE = "Новая статья. Пришлите её заголовок (/cancel — отмена в любой момент)."
ADD_BODY = "Заголовок: «{title}». Теперь пришлите текст статьи."
ADD_PHRASINGS = (
    "Пришлите другие формулировки вопроса, по одной на строку — так статью найдут и по ним. "
    "Или нажмите «Без фраз»."
)
ADD_TITLE_TAKEN = "Статья с таким заголовком уже есть. Пришлите другой заголовок или /cancel."
ADD_PREVIEW = "Так статью увидят сотрудники:"
ADD_PHRASINGS_LIST = "Фразы: {phrasings}"
ADD_SIMILAR = "⚠️ Похоже на: «{title}» (сходство {score:.2f}). Возможно, статья уже есть."
ADD_SAVED = "Статья «{title}» сохранена, поиск уже её находит."
ADD_EXPIRED = "Этот диалог устарел (прошли сутки). Начните заново: /add."
ADD_STALE = "Этот черновик уже сохранён или отменён."
BUTTON_SAVE = "Сохранить"
BUTTON_SAVE_ANYWAY = "Сохранить всё равно"
BUTTON_NO_PHRASINGS = "Без фраз"
BUTTON_OPEN = "Открыть «{title}»"


def add_summary(phrasings: list[str]) -> str:
    if not phrasings:
        return ADD_PHRASINGS_LIST.format(phrasings="нет")
    return ADD_PHRASINGS_LIST.format(phrasings="; ".join(escape(p) for p in phrasings))


def similar(title: str, score: float) -> str:
    return ADD_SIMILAR.format(title=escape(title), score=score)
