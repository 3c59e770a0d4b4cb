"""What the bot says to admins, in Russian (HTML parse mode): alerts, the base, the model."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from html import escape, unescape
from typing import Any
from zoneinfo import ZoneInfo

from bot.texts import plural
from bot.texts import user as user_texts
from bot.texts.message_parts import split_html, split_plain, utf16_length, visible_text
from knowledge_base.types import AuditAction, AuditEntry, formatted_body

HELP = (
    "\n\n<b>Для администраторов</b>\n"
    "/add — новая статья\n"
    "/articles [слова | тема | номер] — статьи базы, правка, темы, фразы, архив\n"
    "/archive — статьи в архиве\n"
    "/audit [N] — последние изменения\n"
    "/export [jsonl|yaml|csv] — база файлом; файл .jsonl, .yaml или .csv — импорт\n"
    "/model — модель поиска и откат\n"
    "/retrain — дообучить модель на отзывах\n"
    "/unanswered — вопросы без ответа, по группам\n"
    "/learned — фразы из отзывов, которые ждут проверки\n"
    "/stats [дней | неделя | месяц] — цифры и график\n"
    "/settings — сводка для администратора: включить или выключить\n"
    "/cancel — прервать диалог"
)

# The command menu admins see in Telegram, after the commands everyone sees.
COMMANDS = {
    "add": "Новая статья",
    "articles": "Статьи базы (слова, тема или номер статьи)",
    "archive": "Статьи в архиве",
    "audit": "Последние изменения базы",
    "export": "Выгрузить базу файлом (jsonl, yaml или csv)",
    "model": "Модель поиска и откат",
    "retrain": "Дообучить модель на отзывах",
    "unanswered": "Вопросы без ответа",
    "learned": "Фразы из отзывов на проверке",
    "stats": "Цифры и график за N дней",
    "settings": "Сводка: включить или выключить",
    "cancel": "Прервать текущий диалог",
}

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
BUTTON_BACK_TO_ARTICLE = "« К статье"
BUTTON_TOPIC = "Тема: {category}"
BUTTON_NO_TOPIC_SET = "Тема: не задана"
BUTTON_NO_TOPIC = "Без темы"
BUTTON_DELETE = "Удалить навсегда"
BUTTON_DELETE_CONFIRM = "Да, удалить навсегда"
BUTTON_BACK_TO_ARCHIVE = "« К архиву"
BUTTON_EDIT_AGAIN = "Изменить ещё раз"
BUTTON_PREVIOUS = "‹ Назад"
BUTTON_NEXT = "Дальше ›"

NO_ARTICLES = "Статей не найдено."
NO_ARTICLES_FOR = "По словам «{words}» статей не найдено."
NO_ARCHIVED = "В архиве пусто."
ARTICLE_MISSING = "Такой статьи уже нет."
NO_SUCH_ID = "Статьи №{article_id} нет."
NO_SUCH_ID_NOR_WORDS = "Статьи №{article_id} нет, и по словам «{article_id}» ничего не найдено."
NO_CATEGORY_ARTICLES = "В теме «{category}» статей нет."
ASK_CATEGORY = (
    "Тема статьи «{title}»: {current}. Выберите тему кнопкой или пришлите новую одним "
    "сообщением (/cancel — отмена)."
)
NO_CURRENT_CATEGORY = "не задана"
CATEGORY_TOO_LONG = "Название темы длиннее 100 символов. Пришлите короче или /cancel."
CATEGORY_SET = "Тема статьи «{title}»: {category}."
CATEGORY_CLEARED = "У статьи «{title}» больше нет темы."
STALE_TOPIC = "Эта тема уже не та, что на кнопке. Откройте выбор темы заново."
DELETE_ONLY_ARCHIVED = (
    "Удалить навсегда можно только статью из архива. Сначала отправьте её в архив."
)
DELETED = "Статья «{title}» удалена навсегда."
PREVIEW_TITLE = "Новый заголовок. Так статью увидят сотрудники:"
PREVIEW_BODY = "Новый текст. Так статью увидят сотрудники:"
PREVIEW_SEVERAL = "\n\n<i>Статья длинная: сотрудники получат её несколькими сообщениями.</i>"
PREVIEW_WAITING = "Нажмите «Сохранить», «Изменить ещё раз» или «Отмена» под предпросмотром."
EDIT_STALE = "Этот предпросмотр устарел: изменение уже сохранено или отменено."
EDIT_SAVED = "Сохранено: {what} статьи «{title}». Карточка выше обновлена."
EDIT_SAVED_BELOW = "Сохранено: {what} статьи «{title}». Обновлённая карточка — ниже."
SAVED_WHAT = {
    "title": "новый заголовок",
    "body": "новый текст",
    "phrasings": "новые фразы",
}
ASK_TITLE = "Пришлите новый заголовок статьи «{title}» одним сообщением (/cancel — отмена)."
ASK_BODY = "Пришлите новый текст статьи «{title}» одним сообщением (/cancel — отмена)."
ASK_PHRASINGS = (
    "Пришлите фразы для статьи «{title}», по одной на строку: так сотрудники могут спросить "
    "о ней (/cancel — отмена)."
)
TITLE_TAKEN = "Статья с таким заголовком уже есть. Пришлите другой заголовок или /cancel."
TITLE_TOO_LONG = "Заголовок длиннее 300 символов. Пришлите короче или /cancel."
PHRASING_TOO_LONG = (
    "Фраза длиннее 1000 символов — это уже не вопрос. Пришлите фразы короче или /cancel."
)
NEED_TEXT = "Пришлите текст сообщением или /cancel."
SAVED = "Сохранено."
ARCHIVED = "Статья «{title}» в архиве: поиск её больше не предлагает. Вернуть — /archive."
RESTORED = "Статья «{title}» снова в поиске."
PHRASING_DELETED = "Фраза «{text}» удалена."
PHRASING_GONE = "Этой фразы уже нет."
ALREADY_ARCHIVED = "Статья уже в архиве."
ALREADY_RESTORED = "Статья уже в поиске."
CANCELLED = "Отменено."
# What /cancel left, by the step it was at (the article's title where there is one).
CANCELLED_STEPS = {
    "title": "Изменение заголовка статьи «{title}» отменено.",
    "body": "Изменение текста статьи «{title}» отменено.",
    "phrasings": "Добавление фраз к статье «{title}» отменено.",
    "category": "Выбор темы статьи «{title}» отменён.",
    "words": "Выбор статьи для группы вопросов отменён.",
}
NOTHING_TO_CANCEL = "Отменять нечего."
NOT_FOR_YOU = "Эта кнопка только для администраторов."
NO_CHANGES = "Изменений пока не было."

CARD_PHRASINGS = 25
SOURCES = {
    "title": "заголовок",
    "admin": "админ",
    "import": "импорт",
    "feedback": "из отзывов",
    "pending": "из отзывов, ждёт проверки в /learned",
    "rejected": "из отзывов, отклонена: не используется",
}
ACTIONS = {
    "add": "создана",
    "edit_title": "новый заголовок",
    "edit_body": "новый текст",
    "edit_category": "новая тема",
    "archive": "в архив",
    "restore": "из архива",
    "delete": "удалена навсегда",
    "add_phrasing": "добавлены фразы",
    "delete_phrasing": "удалена фраза",
    "approve_phrasing": "одобрен вопрос для обучения",
    "reject_phrasing": "отклонён вопрос для обучения",
    "approve_all": "одобрены все вопросы для обучения",
    "reject_all": "отклонены все вопросы для обучения",
    "import": "импорт файла",
    "rollback": "откат модели",
    "activate": "включена другая модель",
    "train_promoted": "обучена новая модель, она отвечает",
    "train_rejected": "обучена новая модель, она хуже прежней и не включена",
    "train_held": "обучена новая модель, ждёт решения: вопросов для проверки мало",
    "attach": "привязаны вопросы без ответа",
    "dismiss": "отклонены вопросы без ответа",
    "detach": "отменена привязка вопросов без ответа",
}
# An action written by a newer version of the bot: readable, never its internal name.
UNKNOWN_ACTION = "изменение (эта версия бота не знает, какое именно)"


def articles_page(words: str, total: int, page: int, pages: int, archived: bool) -> str:
    what = "В архиве" if archived else "В базе"
    found = f"По словам «{escape(words)}» найдено" if words else what
    return f"{found}: {plural.articles(total)}. Страница {page + 1} из {pages}."


def categories_line(counts: list[tuple[str, int]]) -> str:
    """Under /articles: the categories with their counts, and how to list one of them."""
    named = [(c, n) for c, n in counts if c]
    if not named:
        return "Тем пока нет: задайте тему в карточке статьи кнопкой «Тема»."
    parts = [f"{escape(c)} — {n}" for c, n in named]
    parts += [f"без темы — {n}" for c, n in counts if not c]
    return f"Темы: {', '.join(parts)}. Статьи одной темы: /articles {escape(named[0][0])}."


def category_page(category: str, total: int, page: int, pages: int) -> str:
    return f"Тема «{escape(category)}»: {plural.articles(total)}. Страница {page + 1} из {pages}."


def topic_button(category: str) -> str:
    return BUTTON_TOPIC.format(category=category) if category else BUTTON_NO_TOPIC_SET


def ask_category(title: str, current: str) -> str:
    shown = escape(current) if current else NO_CURRENT_CATEGORY
    return ASK_CATEGORY.format(title=escape(title), current=shown)


def category_set(title: str, category: str) -> str:
    if not category:
        return CATEGORY_CLEARED.format(title=escape(title))
    return CATEGORY_SET.format(title=escape(title), category=escape(category))


def confirm_delete(title: str, phrasings: int, votes: int, questions: int) -> str:
    """The question before «Удалить навсегда»: what goes with the article and what stays."""
    lines = [
        f"Удалить статью «{escape(title)}» навсегда? Вернуть её будет нельзя.",
        "",
        f"Вместе с ней удалятся: {plural.phrasings(phrasings)} и отзывы 👍/👎 о ней ({votes}).",
        f"Вопросы сотрудников, на которые она отвечала ({questions}), останутся в журнале "
        "без ссылки на статью.",
        "В журнале изменений (/audit) останется запись об удалении с её заголовком.",
    ]
    return "\n".join(lines)


def preview(template: str, title: str, body: str, body_html: str | None) -> str:
    """An edit before it is saved: the article as people will get it, formatting included.
    One that people get in several messages is shown up to where the first one ends, with
    a note saying so, all within one message."""
    if not user_texts.takes_several_messages(title, body, body_html):
        return f"{template}\n\n{user_texts.article(title, body, body_html)}"
    around = f"{template}\n\n{title}\n\n{user_texts.CUT_MARK}{visible_text(PREVIEW_SEVERAL)}"
    room = user_texts.MESSAGE_LIMIT - utf16_length(around)
    if body_html is not None:
        first = split_html(body_html, room, room)[0]
    else:
        first = split_plain(body, room, room)[0]
    return f"{template}\n\n<b>{escape(title)}</b>\n\n{first}{user_texts.CUT_MARK}{PREVIEW_SEVERAL}"


def preview_phrasings(title: str, phrasings: list[str]) -> str:
    lines = [f"Новые фразы для статьи «{escape(title)}» ({len(phrasings)}):"]
    # 25 lines of 120 characters and the header stay within one message.
    lines += [f"• {escape(_clip(p, 120))}" for p in phrasings[:CARD_PHRASINGS]]
    if len(phrasings) > CARD_PHRASINGS:
        lines.append(f"… и ещё {len(phrasings) - CARD_PHRASINGS}")
    return "\n".join(lines)


def edit_saved(kind: str, title: str, in_place: bool) -> str:
    template = EDIT_SAVED if in_place else EDIT_SAVED_BELOW
    return template.format(what=SAVED_WHAT.get(kind, "изменения"), title=escape(title))


def card_body(body: str, body_html: str | None, limit: int = 1200) -> str:
    """An article's text on its card as people see it (with its formatting), cut at `limit`
    visible characters."""
    if body_html is None:
        return escape(_clip(body, limit))
    if utf16_length(visible_text(body_html)) <= limit:
        return body_html
    first = split_html(body_html, limit, limit)[0]
    return f"{first}…"


def listed(article_id: int, title: str) -> str:
    """An article in the /articles list: «№5 · Инструкция по смене пароля» (the number is the
    one `/articles 5` opens)."""
    return f"№{article_id} · {title}"


def card(
    title: str,
    body: str,
    *,
    number: int | None = None,
    body_html: str | None = None,
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
    # The number `/articles 5` opens, so the admin can find the article again by it.
    prefix = f"№{number} · " if number is not None else ""
    lines.append(f"{prefix}Тема: {escape(category) if category else NO_CURRENT_CATEGORY}")
    lines += ["", card_body(body, body_html), ""]
    lines.append(f"{plural.phrasings(len(phrasings))}:")
    for text, source in phrasings[:CARD_PHRASINGS]:
        lines.append(f"• {escape(_clip(text, 70))} <i>({SOURCES.get(source, source)})</i>")
    if len(phrasings) > CARD_PHRASINGS:
        lines.append(f"… и ещё {len(phrasings) - CARD_PHRASINGS} (кнопка «Фразы»)")
    lines += ["", f"Ответов этой статьёй: {answered}; 👍 {helpful}, 👎 {not_helpful}."]
    # Visible text within Telegram's 4096 (UTF-16 units; an emoji counts two): a title of
    # 300, a body of 1200, 25 phrasings of 70 plus their source, and the lines around them.
    return "\n".join(lines)


def phrasings_header(title: str, count: int) -> str:
    return (
        f"Фразы статьи «{escape(title)}»: {plural.phrasings(count)}. "
        "Нажмите на фразу, чтобы удалить её."
    )


MODEL_ACTIONS = frozenset(
    {
        AuditAction.ROLLBACK,
        AuditAction.ACTIVATE,
        AuditAction.TRAIN_PROMOTED,
        AuditAction.TRAIN_REJECTED,
        AuditAction.TRAIN_HELD,
    }
)


def local_time(at: datetime, zone: ZoneInfo, pattern: str = "%d.%m %H:%M") -> str:
    """A stored time (UTC; SQLite gives it back without a zone) as the admins' clock shows it
    (TIMEZONE)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(zone).strftime(pattern)


AUDIT_CLIP = 80
AUDIT_IMPORT_NAMES = 5
AUDIT_USAGE = (
    "Не понял, сколько показать. /audit или /audit 20 — сколько последних изменений "
    "показать (от 1 до {limit})."
)
AUDIT_BUTTON = "Подробнее: №{number}"
AUDIT_GONE = "Этой записи в журнале нет."


def audit_clamped(asked: int, shown: int) -> str:
    if asked > shown:
        return f"Больше {shown} за раз не показываю — вот последние {shown}."
    return f"Показываю хотя бы одно — последнее изменение (просили {asked})."


def audit_actor(actor_id: int, name: str | None, username: str | None) -> str:
    """The admin as Telegram named them when they acted; old entries only have the id."""
    if name and username:
        return f"{escape(name)} (@{escape(username)})"
    if name or username:
        return escape(name or f"@{username}")
    return f"админ {actor_id}"


def audit_action(action: str) -> str:
    return ACTIONS.get(action, UNKNOWN_ACTION)


def _audit_subject(entry: AuditEntry) -> str:
    if entry.action in MODEL_ACTIONS:
        return "модель"
    if entry.action == AuditAction.DELETE:
        # The article is gone (its link in the trail is NULL): the record keeps its title.
        return f"«{escape(entry.before)}»"
    if entry.title is not None:
        return f"«{escape(entry.title)}»"
    if entry.current_title is not None:  # an entry older than the kept titles
        return f"«{escape(entry.current_title)}» (заголовок сейчас)"
    if entry.article_id is not None:
        return f"статья №{entry.article_id}"
    return "база"


def _import_names(titles: list[str]) -> str:
    shown = ", ".join(f"«{escape(t)}»" for t in titles[:AUDIT_IMPORT_NAMES])
    more = len(titles) - AUDIT_IMPORT_NAMES
    return shown + (f" и ещё {more}" if more > 0 else "")


def _import_detail(after: str) -> str:
    """The import entry: the file, and the articles added and updated by name. Entries older
    than the names keep their «файл: +1 ~1 =51» summary, said in words."""
    try:
        record = json.loads(after)
    except ValueError:
        old = re.fullmatch(r"(.*): \+(\d+) ~(\d+) =(\d+)", after)
        if old is None:
            return f": {escape(after)}" if after else ""
        name, added, updated, same = old.groups()
        return f" «{escape(name)}»: добавлено {added}, обновлено {updated}, без изменений {same}"
    added, updated = record.get("added", []), record.get("updated", [])
    parts = []
    if added:
        parts.append(f"добавлено {len(added)} — {_import_names(added)}")
    if updated:
        parts.append(f"обновлено {len(updated)} — {_import_names(updated)}")
    parts.append(f"без изменений {record.get('unchanged', 0)}")
    return f" «{escape(str(record.get('file', '')))}»: " + "; ".join(parts)


INBOX_ACTIONS = (AuditAction.ATTACH, AuditAction.DISMISS, AuditAction.DETACH)


def _inbox_record(after: str) -> tuple[list[str], bool | None] | None:
    """The questions of an attach, dismissal or undo, and whether the people were told (None:
    not said); None for an older record that holds only how many there were."""
    if after.isdecimal():
        return None
    try:
        record = json.loads(after)
    except ValueError:
        return [line for line in after.split("\n") if line], None  # an attach: one per line
    if not isinstance(record, dict):
        return [after], None
    told = record.get("told")
    return [str(q) for q in record.get("questions", [])], told if isinstance(told, bool) else None


def questions_list(texts: list[str], names: int = AUDIT_IMPORT_NAMES) -> tuple[str, bool]:
    """«где…» ×2; «…»; «…» — repeats counted, at most `names` shown (then «и ещё N»); and
    whether any was left out or clipped."""
    counts: dict[str, int] = {}
    for text in texts:
        counts[text] = counts.get(text, 0) + 1
    shown, cut = [], len(counts) > names
    for text, count in list(counts.items())[:names]:
        one_line = " ".join(text.split())
        cut = cut or one_line != text or len(one_line) > AUDIT_CLIP
        shown.append(
            f"«{escape(_clip(one_line, AUDIT_CLIP))}»" + (f" ×{count}" if count > 1 else "")
        )
    more = len(counts) - names
    return "; ".join(shown) + (f" и ещё {more}" if more > 0 else ""), cut


def _inbox_detail(entry: AuditEntry) -> tuple[str, bool]:
    record = _inbox_record(entry.after)
    if record is None:
        return f": {plural.questions(int(entry.after))}", False
    texts, told = record
    shown, cut = questions_list(texts)
    detail = f": {shown}" if texts else ""
    if told is not None:
        detail += " — " + (AUDIT_TOLD if told else AUDIT_NOT_TOLD)
    return detail, cut


AUDIT_TOLD = "спросившим сообщили"
AUDIT_NOT_TOLD = "молча"


def _audit_values(entry: AuditEntry) -> tuple[str, str]:
    before, after = entry.before, entry.after
    if entry.action in INBOX_ACTIONS and (record := _inbox_record(after)) is not None:
        texts, told = record
        after = "\n".join(f"«{text}»" for text in texts)
        if told is not None:
            after += "\n\n" + (AUDIT_TOLD if told else AUDIT_NOT_TOLD).capitalize() + "."
    if entry.action in MODEL_ACTIONS:
        before, after = model_name(before), model_name(after)
    if entry.action == AuditAction.EDIT_CATEGORY:
        before, after = before or "без темы", after or "без темы"
    if entry.action == AuditAction.DELETE:
        before = ""
    if entry.action == AuditAction.EDIT_BODY:
        before, after = _plain_body(before), _plain_body(after)
    return before, after


def _formatted_edit(entry: AuditEntry) -> bool:
    return entry.action == AuditAction.EDIT_BODY and any(
        formatted_body(value) is not None for value in (entry.before, entry.after)
    )


def audit_file(entry: AuditEntry) -> str:
    """A change too long for messages, as the text of a file: a formatted body as its
    Telegram HTML."""
    before, after = entry.before, entry.after
    if _formatted_edit(entry):
        before, after = (formatted_body(v) or escape(v) for v in (before, after))
    return f"Было:\n{before}\n\nСтало:\n{after}\n"


def _plain_body(recorded: str) -> str:
    html = formatted_body(recorded)
    return recorded if html is None else visible_text(html)


_LINK = re.compile(r"""<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>[\s\S]*?</a\s*>""", re.I)


def _shown_body(recorded: str) -> str:
    """A recorded body as «Подробнее» shows it: its formatting kept (Telegram HTML), each
    link's target written out after it, so a change of only a target shows."""
    html = formatted_body(recorded)
    if html is None:
        return escape(recorded)
    return _LINK.sub(
        lambda link: f"{link.group(0)} ({escape(unescape(link.group(1) or link.group(2) or ''))})",
        html,
    )


def audit_line(entry: AuditEntry, when: str) -> tuple[str, bool]:
    """One entry of /audit, and whether a text in it was cut (then «Подробнее» shows it)."""
    head = (
        f"{when} · {audit_actor(entry.actor_id, entry.actor_name, entry.actor_username)} · "
        f"{_audit_subject(entry)} — {audit_action(entry.action)}"
    )
    if entry.action == AuditAction.IMPORT:
        return head + _import_detail(entry.after), False
    if entry.action in INBOX_ACTIONS:
        detail, cut = _inbox_detail(entry)
        return f"{head}{detail}" + (f" [№{entry.id}]" if cut else ""), cut
    before, after = _audit_values(entry)
    # A formatted body shows its formatting and link targets only in «Подробнее».
    cut = len(before) > AUDIT_CLIP or len(after) > AUDIT_CLIP or _formatted_edit(entry)
    if entry.action in (AuditAction.ARCHIVE, AuditAction.RESTORE, AuditAction.ADD):
        detail, cut = "", False  # the action says it all
    elif entry.action in (AuditAction.APPROVE_ALL, AuditAction.REJECT_ALL) and after.isdecimal():
        detail = f": {plural.phrasings(int(after))}"  # one record of how many
    elif before and after:
        detail = f": «{escape(_clip(before, AUDIT_CLIP))}» → «{escape(_clip(after, AUDIT_CLIP))}»"
    elif before or after:
        detail = f": «{escape(_clip(before or after, AUDIT_CLIP))}»"
    else:
        detail = ""
    return f"{head}{detail}" + (f" [№{entry.id}]" if cut else ""), cut


def audit_full(entry: AuditEntry, when: str) -> list[str]:
    """A change whole, before and after, in as many messages as it takes."""
    head = (
        f"№{entry.id} · {when} · "
        f"{audit_actor(entry.actor_id, entry.actor_name, entry.actor_username)} · "
        f"{_audit_subject(entry)} — {audit_action(entry.action)}\n\n"
    )
    room = user_texts.PART_ROOM
    first_room = room - utf16_length(visible_text(head))
    if _formatted_edit(entry):
        was, now = _shown_body(entry.before), _shown_body(entry.after)
        html = f"Было:\n{was or '—'}\n\nСтало:\n{now or '—'}"
        first, *rest = split_html(html, first_room, room) or [""]
        return [head + first, *rest]
    before, after = _audit_values(entry)
    text = f"Было:\n{before or '—'}\n\nСтало:\n{after or '—'}"
    parts = split_plain(text, first_room, room)
    first, *rest = parts or [""]
    return [head + first, *rest]


def ask(template: str, title: str) -> str:
    return template.format(title=escape(title))


def done(template: str, **values: str) -> str:
    return template.format(**{k: escape(v) for k, v in values.items()})


def alert(template: str, **values: str) -> str:
    """A callback answer: plain text (Telegram does not parse HTML there), at most 200."""
    return _clip(template.format(**values), 200)


def cancelled(step: str, title: str | None) -> str:
    """What /cancel says it left; «Отменено.» for a step it has no words for."""
    template = CANCELLED_STEPS.get(step)
    if template is None or ("{title}" in template and title is None):
        return CANCELLED
    return template.format(title=escape(title or ""))


def phrasings_added(count: int) -> str:
    return f"{SAVED} Новых фраз: {count}."


# What the importer (knowledge_base/io.py, shared with the terminal) says, in Russian.
_HTML = "в тексте с format: html "
FILE_ERRORS = (
    (
        r"neither UTF-8 nor Windows-1251",
        "файл не текстовый (ни UTF-8, ни Windows-1251) — сохраните его как текст в UTF-8",
    ),
    (r'format must be "text" or "html"', "поле format должно быть text или html"),
    (r"Telegram HTML: <([^<>/ ]+)> is not closed", _HTML + "не закрыт тег <{0}>"),
    (
        r"Telegram HTML: </([^<>]+)> where </([^<>]+)> was expected",
        _HTML + "</{0}> там, где должен быть </{1}>: теги вложены неправильно",
    ),
    (r"Telegram HTML: </([^<>]+)> closes no", _HTML + "</{0}> закрывает тег, который не открыт"),
    (
        r"Telegram HTML: <([^<>/ ]+)> is not a tag",
        _HTML + "тег <{0}>, которого Telegram не знает",
    ),
    (
        r"Telegram HTML: an '&' at character (\d+)",
        _HTML + "символ & (знак {0}) не начинает сущность — напишите &amp;",
    ),
    (
        r"Telegram HTML: a '<' at character (\d+)",
        _HTML + "символ < (знак {0}) не открывает тег — напишите &lt;",
    ),
    (
        r"Telegram HTML: link '(.*)': only",
        _HTML + "ссылка «{0}»: можно только http, https, tg и mailto",
    ),
    (
        r"Telegram HTML: <([^<>/ ]+)> inside <([^<>]+)>",
        _HTML + "тег <{0}> внутри <{1}>, где может быть только текст",
    ),
    (
        r"Telegram HTML",
        _HTML + "разметка, которую Telegram не примет (атрибуты или вложенность тегов)",
    ),
    (r"body contains a control character", "в тексте управляющий символ — удалите его"),
    (r"not valid JSON", "не читается как JSON — проверьте кавычки, скобки и запятые"),
    (r"nested too deeply", "слишком глубокая вложенность"),
    (r"not valid YAML", "не читается как YAML — проверьте отступы и двоеточия"),
    (
        r"(a YAML file must be a list|not a list of articles)",
        "YAML-файл должен быть списком статей",
    ),
    (
        r"the CSV header must name",
        "в первой строке CSV должны быть столбцы title и body, через запятую",
    ),
    (r"more cells than columns", "ячеек больше, чем столбцов"),
    (r"an article must be an object", "статья должна быть объектом с полями title и body"),
    (r"unknown fields: (.*)", "неизвестные поля: {0}"),
    (r"the key '(.*)' appears twice", "поле «{0}» повторяется в одной статье"),
    (r"(title|body) must be text", "поле {0} должно быть текстом (в YAML возьмите его в кавычки)"),
    (r"(title|body) is missing or empty", "не заполнено поле {0}"),
    (r"title is longer than (\d+)", "заголовок длиннее {0} символов"),
    (r"questions must be a list", "questions должно быть списком строк"),
    (r"category must be a string", "category должна быть строкой"),
    (r"category is longer than (\d+)", "category длиннее {0} символов"),
    (r"repeats the one on line (\d+)", "такой заголовок уже есть в строке {0}"),
    (r"invalid character", "недопустимый символ"),
)


def file_error(reason: str) -> str:
    """Why a file cannot be imported, in Russian, with its line."""
    found = re.match(r"line (\d+): (.*)", reason, re.DOTALL)
    line, detail = (found.group(1), found.group(2)) if found else (None, reason)
    for pattern, russian in FILE_ERRORS:
        matched = re.search(pattern, detail)
        if matched:
            detail = russian.format(*matched.groups())
            break
    where = f"Ошибка в строке {line}" if line else "Ошибка"
    return f"{where}: {escape(detail)}."


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- files ------------------------------------------------------------------------------------

BUTTON_IMPORT = "Импортировать"
BUTTON_CANCEL = "Отмена"
FILE_TOO_BIG = "Файлы больше {limit} МБ я не принимаю. Разбейте этот на части."
FILE_UNREADABLE = "Не удалось скачать файл из Telegram. Пришлите его ещё раз."
FILE_REFUSED = "Файл «{name}» не импортирован, в базе ничего не изменилось.\n{reason}"
FILE_KIND = "Файлы такого типа я не импортирую: пришлите .jsonl, .yaml или .csv."
FILE_PREVIEW = (
    "Файл «{name}»: {articles}.\nБудет добавлено {added}, обновлено {updated}, "
    "без изменений {unchanged}."
)
IMPORT_GONE = "Этот предпросмотр устарел. Пришлите файл ещё раз."
EXPORT_CAPTION = "База знаний: {articles}. Этот файл можно импортировать обратно без изменений."
EXPORT_CSV_PIPE = (
    "В CSV базу не выгрузить: в одной из фраз есть символ «|», которым CSV разделяет фразы. "
    "Выгрузите в jsonl или yaml."
)
EXPORT_FORMATS = "Формат: /export jsonl, /export yaml или /export csv."
# Telegram refuses an empty file ("file must be non-empty"): a base with no articles is said.
EXPORT_EMPTY = "В базе нет статей — выгружать нечего."


# Titles the import preview names of those added, and of those updated.
PREVIEW_NAMED = 10
IMPORT_CHANGES = {
    "body": "текст",
    "questions": "фразы",
    "category": "тема",
    "formatting": "оформление",
    "restored": "вернётся из архива",
}


def file_preview(
    name: str,
    total: int,
    report: tuple[int, int, int],
    added: Sequence[str] = (),
    updated: Sequence[tuple[str, Collection[str]]] = (),
) -> str:
    """The preview of an import: the counts (added, updated, unchanged), then the first
    articles added and updated by title, each updated one with what changes in it."""
    lines = [
        FILE_PREVIEW.format(
            name=escape(name),
            articles=plural.articles(total),
            added=report[0],
            updated=report[1],
            unchanged=report[2],
        )
    ]
    if added:
        lines += ["", "Добавятся:"]
        lines += [f"• {escape(_clip(t, 80))}" for t in added[:PREVIEW_NAMED]]
        lines += _and_more(len(added))
    if updated:
        lines += ["", "Обновятся:"]
        for title, changes in updated[:PREVIEW_NAMED]:
            what = ", ".join(IMPORT_CHANGES[c] for c in IMPORT_CHANGES if c in changes)
            lines.append(f"• {escape(_clip(title, 80))}" + (f" — {what}" if what else ""))
        lines += _and_more(len(updated))
    return "\n".join(lines)


def _and_more(count: int) -> list[str]:
    return [f"… и ещё {count - PREVIEW_NAMED}"] if count > PREVIEW_NAMED else []


def imported(added: int, updated: int, unchanged: int) -> str:
    return (
        f"Импорт завершён: добавлено {added}, обновлено {updated}, без изменений {unchanged}. "
        "Поиск уже учитывает изменения."
    )


# --- /add ---------------------------------------------------------------------------------

ADD_TITLE = "Новая статья. Пришлите её заголовок (/cancel — отмена в любой момент)."
ADD_TITLE_FOR_GROUP = (
    "Новая статья для вопросов: «{question}»{more}. Когда вы её сохраните, эти вопросы "
    "к ней привяжутся.\n\nПришлите заголовок статьи (/cancel — отмена в любой момент)."
)
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
DIALOG_EXPIRED = "Этот диалог устарел: прошли сутки. Начните заново."
ADD_STALE = "Этот черновик уже сохранён или отменён."
BUTTON_SAVE = "Сохранить"
BUTTON_SAVE_ANYWAY = "Сохранить всё равно"
BUTTON_NO_PHRASINGS = "Без фраз"
BUTTON_OPEN = "Открыть «{title}»"
BUTTON_ADD_BACK = "« Назад"
BUTTON_ADD_FIX_TITLE = "Изменить заголовок"
BUTTON_ADD_FIX_BODY = "Изменить текст"
BUTTON_ADD_TOPIC = "Выбрать тему"
BUTTON_RESUME = "Продолжить: {what}"
BUTTON_START_OVER = "Начать новую статью"
BUTTON_HELD_FOR_DRAFT = "Да, это для черновика"
BUTTON_HELD_QUESTION = "Нет, это вопрос"
ADD_TITLE_AGAIN = "Заголовок сейчас: «{title}». Пришлите новый заголовок."
ADD_BODY_AGAIN = "Текст статьи «{title}» сейчас:\n\n{body}\n\nПришлите новый текст."
ADD_PHRASINGS_AGAIN = "Фразы сейчас: {phrasings}. Пришлите их заново или нажмите «Без фраз»."
ADD_UNTITLED = "новая статья"
ADD_CANCELLED = "Создание статьи «{title}» отменено."
ADD_CANCELLED_UNTITLED = "Создание новой статьи отменено."
ADD_PAUSED = (
    "Черновик «{title}» сохранён: продолжить можно кнопкой ниже или командой /add. "
    "Отменить его — /cancel."
)
ADD_DRAFT_WAITS = "У вас есть незаконченный черновик «{title}». Продолжить его или начать новую?"
ADD_HELD = (
    "Это сообщение — для черновика «{title}» ({step})? Искать его в базе я не буду, "
    "пока вы не ответите."
)
ADD_HELD_QUESTION = (
    "Хорошо, черновик ждёт (кнопка выше или /add). Пришлите вопрос ещё раз — теперь я поищу "
    "его в базе."
)
ADD_STEPS = {"title": "заголовок", "body": "текст статьи", "phrasings": "фразы"}
ADD_SEVERAL_MESSAGES = (
    "⚠️ Статья длинная: сотрудники получат её не одним сообщением, а несколькими ({parts}) — "
    "как в предпросмотре выше."
)


def add_draft_name(title: str | None) -> str:
    """What a draft is called on its buttons and notices: its title, or «новая статья»."""
    return f"«{_clip(title, 40)}»" if title else ADD_UNTITLED


def add_several_messages(parts: int) -> str:
    return ADD_SEVERAL_MESSAGES.format(parts=parts)


def add_cancelled(title: str | None) -> str:
    return ADD_CANCELLED.format(title=escape(title)) if title else ADD_CANCELLED_UNTITLED


def add_paused(title: str | None) -> str:
    return ADD_PAUSED.format(title=escape(title or ADD_UNTITLED))


def add_draft_waits(title: str | None) -> str:
    return ADD_DRAFT_WAITS.format(title=escape(title or ADD_UNTITLED))


def add_held(title: str | None, step: str) -> str:
    return ADD_HELD.format(title=escape(title or ADD_UNTITLED), step=ADD_STEPS.get(step, step))


def add_title_again(title: str) -> str:
    return ADD_TITLE_AGAIN.format(title=escape(title))


def add_body_again(title: str, body: str) -> str:
    return ADD_BODY_AGAIN.format(title=escape(title), body=escape(_clip(body, 1500)))


def add_phrasings_again(phrasings: list[str]) -> str:
    return ADD_PHRASINGS_AGAIN.format(phrasings="; ".join(escape(p) for p in phrasings))


def add_summary(phrasings: list[str]) -> str:
    if not phrasings:
        return ADD_PHRASINGS_LIST.format(phrasings="нет")
    return ADD_PHRASINGS_LIST.format(phrasings="; ".join(escape(p) for p in phrasings))


def add_topic(category: str) -> str:
    """The /add preview's line with the draft's category (or that it has none)."""
    return BUTTON_TOPIC.format(category=escape(category) if category else NO_CURRENT_CATEGORY)


def similar(title: str, score: float) -> str:
    return ADD_SIMILAR.format(title=escape(title), score=score)


# --- the model ------------------------------------------------------------------------------

BUTTON_ROLLBACK = "Откатить"
BUTTON_ROLLBACK_CONFIRM = "Да, откатить"
MODEL_NOTHING_EARLIER = "Откатывать некуда: раньше этой модели ничего не работало."
ROLLBACK_CONFIRM = "Откатить модель с «{current}» на «{previous}»? Поиск переключится сразу."
ROLLED_BACK = "Готово: теперь отвечает «{name}»."
ROLLBACK_FAILED = "Откат не выполнен: папки прежней модели нет на диске. Подробности — в журнале."
MODEL_CHANGED = "Модель уже сменилась. Откройте /model заново."
# Earlier versions with a «Включить …» button under /model, newest first.
MODEL_VERSIONS_SHOWN = 5
BUTTON_ACTIVATE = "Включить {name}"
BUTTON_ACTIVATE_CONFIRM = "Да, включить"
BUTTON_ACTIVATE_ANYWAY = "Включить всё равно"
BUTTON_KEEP_CURRENT = "Оставить текущую"
ACTIVATE_CONFIRM = "Включить модель «{name}» вместо «{current}»? Поиск переключится сразу."
ACTIVATED = "Готово: теперь отвечает «{name}»."
ACTIVATE_ALREADY = "«{name}» уже отвечает."
ACTIVATE_UNKNOWN = "Модели «{name}» нет среди сохранённых. Откройте /model заново."
ACTIVATE_FAILED = "Модель «{name}» не включена: её файлов нет на диске. Подробности — в журнале."
KEPT_CURRENT = "Оставили текущую модель «{current}». Новую «{name}» можно включить позже в /model."


def model_name(name: str) -> str:
    """A model's name as admins read it: no digest, no folder of the base models."""
    return re.sub(r"-[0-9a-f]{10}$", "", name).removeprefix("base/")


def button_activate(name: str) -> str:
    return BUTTON_ACTIVATE.format(name=model_name(name))


def model_text(template: str, **names: str) -> str:
    return template.format(**{k: escape(model_name(v)) for k, v in names.items()})


# «Включить …» for a version that did not pass its check after training.
ACTIVATE_REJECTED_WORSE = (
    "⚠️ Модель «{name}» не прошла проверку: на вопросах, отложенных при обучении "
    "({held_out}), она хуже той, от которой училась (было → стало):"
)
ACTIVATE_REJECTED_TOO_FEW = (
    "⚠️ Модель «{name}» не прошла проверку: отложенных вопросов было слишком мало ({held_out}), "
    "чтобы судить, лучше ли она (было → стало):"
)
ACTIVATE_ANYWAY_CONFIRM = "Всё равно включить? Вместо «{current}» сразу начнёт отвечать «{name}»."


def activate_rejected_confirm(
    name: str,
    current: str,
    before: dict[str, float],
    after: dict[str, float],
    held_out: int,
    *,
    held: bool,
) -> str:
    """The confirmation of «Включить …» for a rejected version: why it was not switched on."""
    why = ACTIVATE_REJECTED_TOO_FEW if held else ACTIVATE_REJECTED_WORSE
    return "\n".join(
        [
            why.format(name=escape(model_name(name)), held_out=held_out),
            *_metric_rows(before, after),
            "",
            model_text(ACTIVATE_ANYWAY_CONFIRM, name=name, current=current),
        ]
    )


def rollback_confirm(current: str, previous: str) -> str:
    return model_text(ROLLBACK_CONFIRM, current=current, previous=previous)


def rolled_back(name: str) -> str:
    return model_text(ROLLED_BACK, name=name)


RETRAIN_STARTED = "Обучение запущено: готовлю данные и модель…"
RETRAIN_RUNNING = "Обучение уже идёт — дождитесь его окончания."
RETRAIN_PROGRESS = "Обучение запущено: шаг {step} из {total}, осталось примерно {eta}."
RETRAIN_PREPARING = RETRAIN_STARTED
RETRAIN_REFUSED = "Обучение не запущено: {reason}"
RETRAIN_TOO_LITTLE_DATA = (
    "мало данных — для обучения нужно хотя бы {needed} пар «вопрос — статья», а есть {have}. "
    "Пары дают 👍 и выбранные подсказки, а также фразы статей."
)
RETRAIN_NO_HELD_OUT = (
    "не на чем проверить новую модель — нужно, чтобы люди задали хотя бы по два вопроса "
    "к одной статье и отметили ответ (👍 или выбор подсказки)."
)
# Why `faqbot train` refused, by a word of its (English) reason: what it finds only once it
# runs (the bot checks the data before it starts one).
REFUSALS = {
    "too little data": "мало данных — нужно больше 👍 и выбранных подсказок или фраз у статей.",
    "no held-out questions": RETRAIN_NO_HELD_OUT,
    "another training": "уже идёт другое обучение, дождитесь его окончания.",
}


def retrain_refused(reason: str) -> str:
    russian = next((text for key, text in REFUSALS.items() if key in reason), "см. журнал бота.")
    return RETRAIN_REFUSED.format(reason=russian)


def retrain_cannot_start(blocker: str, have: int, needed: int) -> str:
    """Why /retrain does not start, said before anything is started."""
    if blocker == "too_little_data":
        reason = RETRAIN_TOO_LITTLE_DATA.format(have=have, needed=needed)
    else:
        reason = RETRAIN_NO_HELD_OUT
    return RETRAIN_REFUSED.format(reason=reason)


RETRAIN_FAILED = "Обучение прервалось (код {code}). Подробности — в журнале бота."


# What /retrain would do now, one line of the /model card.
RETRAIN_WOULD_TRAIN = "/retrain обучит новую модель на {pairs} и проверит её на {held_out}."
RETRAIN_WOULD_HOLD = (
    "/retrain обучит новую модель на {pairs} и проверит её на {held_out} — этого мало, "
    "чтобы судить, так что включать её или нет, решите вы."
)
RETRAIN_WOULD_NOT_START = "/retrain сейчас не запустится: {reason}"
RETRAIN_WOULD_NEED_PAIRS = "нужно хотя бы {needed} пар «вопрос — статья», а есть {have}."
RETRAIN_WOULD_NEED_HELD_OUT = (
    "не на чем проверить новую модель — нужны хотя бы два отмеченных вопроса к одной статье."
)


def retrain_preview(
    blocker: str | None, train: int, held_out: int, needed: int, judge_from: int
) -> str:
    """/retrain in one line, as the data stands: what it would train and judge on, or why it
    would not start."""
    if blocker == "too_little_data":
        return RETRAIN_WOULD_NOT_START.format(
            reason=RETRAIN_WOULD_NEED_PAIRS.format(needed=needed, have=train)
        )
    if blocker is not None:
        return RETRAIN_WOULD_NOT_START.format(reason=RETRAIN_WOULD_NEED_HELD_OUT)
    template = RETRAIN_WOULD_HOLD if held_out < judge_from else RETRAIN_WOULD_TRAIN
    return template.format(
        pairs=plural.count_of(train, "паре", "парах", "парах") + " «вопрос — статья»",
        held_out=plural.count_of(
            held_out, "отложенном вопросе", "отложенных вопросах", "отложенных вопросах"
        ),
    )


def model_card(
    name: str,
    since: str,
    before: dict[str, float] | None,
    after: dict[str, float] | None,
    held_out: int | None,
    earlier: list[tuple[str, str, str]],
    retrain: str = "",
) -> str:
    lines = [
        f"Отвечает модель <b>{escape(model_name(name))}</b>"
        + (f" (с {since})" if since else "")
        + "."
    ]
    if before and after and held_out:
        lines += [
            "",
            f"Проверка на вопросах, отложенных при обучении ({held_out}):",
            *_metric_rows(before, after),
        ]
    if earlier:
        lines += ["", "Другие версии:"]
        lines += [
            f"• {escape(model_name(version))} — {STATUSES.get(status, status)}"
            + (f", {when}" if when else "")
            for version, status, when in earlier
        ]
    if retrain:
        lines += ["", retrain]
    return "\n".join(lines)


STATUSES = {
    "active": "отвечает",
    "previous": "отвечала раньше",
    "rejected": "не прошла проверку",
    "rolled_back": "откачена",
    "pruned": "файлы удалены",
}


def _metric_rows(before: dict[str, float], after: dict[str, float]) -> list[str]:
    names = (("top1", "top-1"), ("top3", "top-3"), ("mrr10", "MRR@10"))
    return [
        f"<code>{label:<7}{before[key]:.3f} → {after[key]:.3f}</code>"
        for key, label in names
        if key in before and key in after
    ]


RETRAIN_TOO_FEW_TO_JUDGE = (
    "⚠️ Отложенных вопросов слишком мало, чтобы судить ({held_out}): нужно хотя бы {needed}. "
    "Цифры выше почти ничего не доказывают."
)


def retrain_done(
    version: str,
    parent: str,
    promoted: bool,
    before: dict[str, float],
    after: dict[str, float],
    held_out: int,
    minutes: float,
    *,
    held: bool = False,
    too_few_to_judge: bool = False,
    needed: int = 0,
) -> str:
    new, old = escape(model_name(version)), escape(model_name(parent))
    if promoted:
        verdict = f"✅ Новая модель «{new}» не хуже прежней — она уже отвечает."
    elif held:
        verdict = (
            f"Новая модель «{new}» не хуже прежней, но сама она не включается: пока отвечает "
            f"«{old}». Включить новую?"
        )
    else:
        verdict = (
            f"❌ Новая модель хуже на отложенных вопросах; отвечает прежняя «{old}». "
            "Новая сохранена как отклонённая."
        )
    warning = (
        [RETRAIN_TOO_FEW_TO_JUDGE.format(held_out=held_out, needed=needed), ""]
        if too_few_to_judge
        else []
    )
    return "\n".join(
        [
            f"Обучение закончено за {minutes:.1f} мин.",
            f"Было → стало на вопросах, отложенных при обучении ({held_out}):",
            *_metric_rows(before, after),
            "",
            *warning,
            verdict,
        ]
    )


def retrain_progress(step: int, total: int, eta: str) -> str:
    return RETRAIN_PROGRESS.format(step=step, total=total, eta=escape(eta))


# --- the inbox --------------------------------------------------------------------------------

INBOX_EMPTY = "Неотвеченных вопросов нет — база справляется."
INBOX_GONE = "Эта группа уже разобрана. Откройте /unanswered заново."
BUTTON_ATTACH = "Привязать к «{title}»"
BUTTON_CREATE = "Создать статью"
BUTTON_CHOOSE = "Привязать к другой статье…"
CHOOSE_ARTICLE = (
    "К какой статье привязать «{question}»? Ниже — ближайшие по смыслу. Или пришлите слова "
    "из заголовка или текста нужной статьи (/cancel — отмена)."
)
CHOOSE_FOUND = "По словам «{words}»:"
CHOOSE_NONE = "По словам «{words}» статей нет. Пришлите другие слова или /cancel."
# Articles offered to choose from at once.
CHOOSE_SHOWN = 8
BUTTON_DISMISS = "Отклонить"
REASONS = {"nothing": "нет ответа", "none_fit": "«Нет подходящего»", "not_helpful": "👎"}
ANSWER_FOUND = "Нашёлся ответ на ваш вопрос «{question}»:"
DISMISSED = "Группа отклонена: {questions} вне темы базы."
# The closest article, in words: sure when it scores as the bot's own answers do.
CLOSEST_SURE = "Похоже, ответ есть в статье «{title}»."
CLOSEST_UNSURE = "Ближе всего статья «{title}», но я не уверен, что она подходит."
# Below what the bot would suggest to an employee.
CLOSEST_WEAK = "Подходящей статьи в базе нет: даже ближайшая, «{title}», — о другом."
CLOSEST_NONE = "Подходящей статьи в базе нет."
REJECTED = "Человек ответил 👎 на статью «{title}»."
# What became of a group, added to its card once it is handled (the buttons go).
CARD_ATTACHED = "✅ Привязано к «{title}»."
CARD_CREATED = "✅ Создана статья «{title}», вопросы привязаны к ней."
CARD_DISMISSED = "✅ Отклонено: вне темы базы."
ATTACH_CONFIRM = "Привязать {questions} к статье «{title}»? Спросившие ({people}) получат её так:"
BUTTON_CONFIRM_ATTACH = "Да, привязать"
ATTACHED_PENDING = (
    "Привязано к «{title}»: {questions} {became}, бот уже отвечает {them}. "
    "Ответ уйдёт спросившим ({people}) через {minutes} — до тех пор привязку можно отменить."
)
BUTTON_UNDO = "Отменить"
UNDONE = (
    "Привязка к «{title}» отменена: {questions} снова {wait} в /unanswered, "
    "никому ничего не отправлено."
)
UNDO_TOO_LATE = "Отменить уже нельзя: ответ отправлен спросившим или привязка уже снята."
DISMISS_ASK = "Сообщить спросившим, что вопрос не по теме базы?"
BUTTON_DISMISS_TELL = "Отклонить и сообщить"
BUTTON_DISMISS_QUIET = "Отклонить молча"
# «Отмена» under the question before attaching or dismissing a group.
KEPT = "Ничего не сделано: группа по-прежнему ждёт в /unanswered."


def _became_phrasings(questions: int) -> str:
    """«1 вопрос» + «стал фразой статьи» / «2 вопроса» + «стали фразами статьи»."""
    return plural.agree(questions, "стал фразой статьи", "стали фразами статьи")


def inbox_header(total: int, groups: int) -> str:
    return (
        f"Без ответа: {plural.questions(total)} "
        f"в {plural.count_of(groups, 'группе', 'группах', 'группах')}."
    )


def card_done(card: str, outcome: str, title: str = "") -> str:
    """A group's card (Telegram HTML as sent) with what was done to it: one of CARD_*."""
    return f"{card}\n\n{outcome.format(title=escape(title))}"


def create_from_group(question: str, questions: int) -> str:
    """«Создать статью» under a group: which questions the article is for, and the title."""
    more = f" ({questions})" if questions > 1 else ""
    return ADD_TITLE_FOR_GROUP.format(question=escape(_clip(question, 120)), more=more)


def inbox_group(
    number: int,
    questions: list[tuple[str, str]],
    people: int,
    closest: tuple[str, bool] | None,
    sample: int = 3,
    *,
    weak: bool = False,
    rejected: str | None = None,
) -> str:
    """A group's card: its questions (identical ones once, ×N), who asked, an article 👎'd by
    an asker (`rejected`), and the closest other article: sure, unsure, or `weak` (none fits)."""
    lines = [
        f"<b>{number}.</b> {plural.questions(len(questions))}, "
        f"{plural.count_of(people, 'человек', 'человека', 'человек')}"
    ]
    # Identical questions (case and spaces aside) once, with the first one's reason.
    same: dict[str, list[Any]] = {}
    for text, reason in questions:
        same.setdefault(" ".join(text.casefold().split()), [text, reason, 0])[2] += 1
    distinct = list(same.values())
    for text, reason, count in distinct[:sample]:
        times = f" ×{count}" if count > 1 else ""
        lines.append(f"• {escape(_clip(text, 120))}{times} <i>({REASONS.get(reason, reason)})</i>")
    if len(distinct) > sample:
        lines.append(f"… и ещё {sum(count for _, _, count in distinct[sample:])}")
    if rejected is not None:
        lines.append(REJECTED.format(title=escape(rejected)))
    if closest:
        title, confident = closest
        phrase = CLOSEST_WEAK if weak else CLOSEST_SURE if confident else CLOSEST_UNSURE
        lines.append(phrase.format(title=escape(title)))
    elif rejected is not None:
        lines.append(CLOSEST_NONE)
    return "\n".join(lines)


def choose_article(question: str) -> str:
    return CHOOSE_ARTICLE.format(question=escape(_clip(question, 120)))


def choose_found(words: str) -> str:
    return CHOOSE_FOUND.format(words=escape(_clip(words, 60)))


def choose_none(words: str) -> str:
    return CHOOSE_NONE.format(words=escape(_clip(words, 60)))


def attached(title: str, questions: int, told: int) -> str:
    return (
        f"Привязано к «{escape(title)}»: {plural.questions(questions)} "
        f"{_became_phrasings(questions)}, "
        f"ответ отправлен: {plural.count_of(told, 'человеку', 'людям', 'людям')}."
    )


def attach_confirm(title: str, questions: int, people: int, start: str) -> str:
    """The confirmation before attaching, with the article's start as people will see it
    (`start` is Telegram HTML, rendered by bot.texts.user.article_start)."""
    head = ATTACH_CONFIRM.format(
        title=escape(title),
        questions=plural.questions(questions),
        people=plural.count_of(people, "человек", "человека", "человек"),
    )
    return f"{head}\n\n{start}"


def attached_pending(title: str, questions: int, people: int, minutes: float) -> str:
    whole = int(minutes)
    wait = (
        plural.count_of(whole, "минуту", "минуты", "минут")
        if whole == minutes
        else f"{minutes:g} мин."
    )
    return ATTACHED_PENDING.format(
        title=escape(title),
        questions=plural.questions(questions),
        became=_became_phrasings(questions),
        them=plural.agree(questions, "ею", "ими"),
        people=plural.count_of(people, "человек", "человека", "человек"),
        minutes=wait,
    )


def undone(title: str, questions: int) -> str:
    return UNDONE.format(
        title=escape(title),
        questions=plural.questions(questions),
        wait=plural.agree(questions, "ждёт", "ждут"),
    )


def dismissed(questions: int, told: int | None) -> str:
    text = DISMISSED.format(questions=plural.questions(questions))
    if told is None:
        return text
    return f"{text} Сообщили: {plural.count_of(told, 'человеку', 'людям', 'людям')}."


def answer_found(question: str) -> str:
    return ANSWER_FOUND.format(question=escape(_clip(question, 200)))


# --- /stats -----------------------------------------------------------------------------------

CHART_BANDS = {"answer": "ответ статьёй", "suggest": "подсказки", "nothing": "без ответа"}
CHART_Y = "Вопросов за день"
CHART_HELPFUL = "Доля полезных ответов (по оценкам)"
CHART_EMPTY = "Вопросов за этот период не было"


def chart_title(days: int) -> str:
    return f"Вопросы за {days} {plural.plural(days, 'день', 'дня', 'дней')}"


# Words /stats takes for a number of days («/stats неделя»), lower case.
STATS_PERIODS = {"неделя": 7, "неделю": 7, "месяц": 30}


def stats_usage(wanted: str, max_days: int) -> str:
    """/stats with something that is neither a number of days nor a word of STATS_PERIODS."""
    return (
        f"Не понял «{escape(_clip(wanted, 40))}». "
        f"Напишите число дней: /stats 7 (от 1 до {max_days})."
    )


def stats_clamped(asked: int, days: int, max_days: int) -> str:
    """/stats with a number of days out of range: what is shown instead."""
    shown = plural.count_of(days, "день", "дня", "дней")
    return f"<i>/stats {asked}: можно от 1 до {max_days} дней — показываю за {shown}.</i>"


def stats_text(
    days: int,
    *,
    total: int,
    shares: dict[str, float],
    helpful: int,
    not_helpful: int,
    rate: float | None,
    top: list[tuple[str, int]],
    inbox: list[tuple[int, str]],
    model: str,
) -> str:
    lines = [
        f"<b>За {days} {plural.plural(days, 'день', 'дня', 'дней')}</b>: "
        f"{plural.questions(total)}.",
    ]
    if total:
        lines.append(
            f"Ответ статьёй {shares['answer']:.0%}, подсказки {shares['suggest']:.0%}, "
            f"без ответа {shares['nothing']:.0%}."
        )
    votes = f"👍 {helpful}, 👎 {not_helpful}"
    lines.append(votes + (f" — полезных {rate:.0%}." if rate is not None else "."))
    if top:
        lines += ["", "Чаще всего отвечали:"]
        lines += [f"• {escape(_clip(t, 80))} — {n}" for t, n in top]
    if inbox:
        lines += ["", "Больше всего ждут ответа (/unanswered):"]
        lines += [f"• {escape(_clip(t, 80))} — {plural.questions(n)}" for n, t in inbox]
    lines += ["", f"Модель: {escape(model_name(model))}."]
    return "\n".join(lines)


# --- learned phrasings waiting for approval (when the bot does not learn on its own) ------------

LEARNED_EMPTY = "Фраз на проверке нет."
LEARNED_AUTO = (
    "Фраз на проверке нет: бот учится сам — вопросы, подтверждённые 👍 "
    "или выбором статьи, сразу становятся её фразами. Их видно в карточке статьи, /articles."
)
LEARNED_GONE = "Эта фраза уже разобрана. Откройте /learned заново."
BUTTON_APPROVE = "✓ Принять"
BUTTON_REJECT = "✕ Отклонить"
# Pending phrasings shown at once, oldest first.
LEARNED_SHOWN = 10


def learned_header(total: int) -> str:
    more = f" Показаны первые {LEARNED_SHOWN}." if total > LEARNED_SHOWN else ""
    return (
        f"На проверке: {plural.count_of(total, 'фраза', 'фразы', 'фраз')}. Люди подтвердили, "
        f"что статья ответила на их вопрос; принятая фраза сразу помогает поиску.{more}"
    )


BUTTON_APPROVE_ALL = "✓ Принять всё"
BUTTON_REJECT_ALL = "✕ Отклонить всё"
BUTTON_APPROVE_ALL_CONFIRM = "Да, принять всё"
BUTTON_REJECT_ALL_CONFIRM = "Да, отклонить всё"
LEARNED_ALL_GONE = "Эти фразы уже разобраны. Откройте /learned заново."
LEARNED_ALL_KEPT = "Хорошо, ничего не меняю: фразы ждут проверки в /learned."


def _phrasings_for(phrasings: int, articles: int) -> str:
    """«5 фраз для 3 статей»."""
    of = plural.plural(articles, "статьи", "статей", "статей")
    return f"{plural.phrasings(phrasings)} для {articles} {of}"


def learned_all_confirm(approve: bool, phrasings: int, articles: int) -> str:
    """The question before «Принять всё» / «Отклонить всё» changes anything."""
    what = _phrasings_for(phrasings, articles)
    if approve:
        return f"Принять все фразы на проверке — {what}? Поиск сразу начнёт их учитывать."
    return (
        f"Отклонить все фразы на проверке — {what}? Поиск не будет их учитывать, "
        "и новые 👍 не вернут их на проверку."
    )


def learned_all_done(approve: bool, phrasings: int, articles: int) -> str:
    what = _phrasings_for(phrasings, articles)
    if approve:
        them = plural.agree(phrasings, "её", "их")
        return f"✓ Принято: {what}. Поиск уже {them} учитывает."
    return f"✕ Отклонено: {what}."


def learned_item(text: str, title: str) -> str:
    return f"«{escape(_clip(text, 200))}»\n→ статья «{escape(title)}»"


def approved(text: str, title: str) -> str:
    return f"✓ Принято: «{escape(_clip(text, 200))}» — теперь фраза статьи «{escape(title)}»."


def rejected(text: str) -> str:
    return f"✕ Отклонено: «{escape(_clip(text, 200))}»."


# --- the digest and /settings -----------------------------------------------------------------

BUTTON_OPEN_INBOX = "Открыть вопросы без ответа"
# Groups of the inbox the digest names, largest first.
DIGEST_GROUPS = 3


def digest(
    minutes: int,
    unanswered: int,
    not_helpful: int,
    groups: list[tuple[int, str, int]],
    none_fit: int = 0,
) -> str:
    """The periodic digest: what happened since the last one, each count under its own label
    (👎 as /stats counts them, «Нет подходящего» apart), then what waits in /unanswered:
    `groups` are (questions, the first one's text, how many of them are new this period),
    in the order to show."""
    lines = [f"📋 <b>Сводка за {_period(minutes)}</b>"]
    if unanswered:
        lines.append(f"❓ Бот не знал ответа: {plural.questions(unanswered)}")
    if not_helpful:
        lines.append(f"👎 Не помогло: {plural.count_of(not_helpful, 'отзыв', 'отзыва', 'отзывов')}")
    if none_fit:
        lines.append(f"🤷 «Нет подходящего»: {plural.count_of(none_fit, 'раз', 'раза', 'раз')}")
    if groups:
        waiting = sum(size for size, _, _ in groups)
        lines += ["", f"В /unanswered ждут ответа: {plural.questions(waiting)}. Больше всего:"]
        lines += [
            f"• {escape(_clip(text, 80))} — {plural.questions(size)}{_new_in_group(size, new)}"
            for size, text, new in groups[:DIGEST_GROUPS]
        ]
    return "\n".join(lines)


def _new_in_group(size: int, new: int) -> str:
    if not new:
        return ""
    if new == size:
        return ", новый" if size == 1 else ", все новые"
    return f", из них новых: {new}"


def _period(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "час" if hours == 1 else plural.count_of(hours, "час", "часа", "часов")
    return plural.count_of(minutes, "минуту", "минуты", "минут")


DIGEST_WHAT = "вопросы без ответа, 👎 и «Нет подходящего»"


def settings_screen(digest_on: bool, minutes: int) -> str:
    """/settings: the digest's state, and what it does (or would do once switched on)."""
    state = "включена" if digest_on else "выключена"
    if minutes <= 0:
        how = "сразу, отдельным сообщением о каждом событии"
        does = f"Бот пишет {how}." if digest_on else f"Когда она включена, бот пишет {how}."
    else:
        when = f"раз в {_period(minutes)}, если что-то произошло"
        does = (
            f"Бот присылает её {when}."
            if digest_on
            else f"Когда она включена, бот присылает её {when}."
        )
    return f"<b>Настройки</b>\n\nСводка ({DIGEST_WHAT}): <b>{state}</b>. {does}"


def digest_toggle(digest_on: bool) -> str:
    """The button says what it does."""
    return "Выключить сводку" if digest_on else "Включить сводку"
