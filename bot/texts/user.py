"""What the bot says to everyone who asks, in Russian (HTML parse mode)."""

from __future__ import annotations

from html import escape

from bot.texts import plural
from bot.texts.message_parts import split_html, split_plain, utf16_length, visible_text

GREETING = (
    "Здравствуйте! Я бот базы знаний: отвечаю на вопросы сотрудников статьями из базы.\n\n"
    "Просто напишите вопрос обычными словами, например: "
    "<i>«Как получить доступ к логам?»</i>\n\n"
    "Сейчас в базе статей: {count}.{topics} Подробнее о кнопках — /help."
)
GREETING_TOPICS = " Темы: {topics}."

HELP = (
    "<b>Как мной пользоваться</b>\n\n"
    "Напишите вопрос текстом — одним сообщением, своими словами.\n\n"
    "• Если я уверен, пришлю статью. Под ней кнопки:\n"
    "  «👍 Помогло» — статья ответила на вопрос;\n"
    "  «👎 Не то» — статья не подошла.\n"
    "• Если не уверен, предложу до трёх похожих статей — нажмите подходящую "
    "или «Нет подходящего».\n"
    "• Если ответа нет, я передам вопрос администраторам базы.\n\n"
    "Каждое нажатие помогает мне отвечать точнее."
)

SUGGEST = "Возможно, вы имели в виду:"
TRY_OTHERS = "Может быть, подойдёт одна из этих статей:"
NOTHING_FOUND = (
    "Пока не знаю ответа на этот вопрос. Я передал его администраторам базы знаний — "
    "скоро ответ появится. Попробуйте переформулировать вопрос."
)
EMPTY_BASE = "База знаний пока пуста. Я передал ваш вопрос администраторам."
TEXT_ONLY = "Я понимаю только текст. Напишите, пожалуйста, вопрос словами."
EMPTY_QUESTION = "Похоже, сообщение пустое. Напишите, пожалуйста, вопрос словами."
# A message that is only a greeting, or only a thanks / «ок»: not a question, not logged.
HELLO = (
    "Здравствуйте! Напишите свой вопрос одним сообщением, например: «как сменить пароль», — "
    "и я поищу ответ в базе знаний."
)
YOU_ARE_WELCOME = "Рад помочь! Если появится вопрос — просто напишите его."
QUESTION_TRUNCATED = "Вопрос очень длинный — я прочитал только {first} {limit}."
UNKNOWN_COMMAND = "Такой команды я не знаю. Список команд — /help, а вопрос можно просто написать."
SEARCH_FAILED = "Не получилось найти ответ из-за внутренней ошибки. Попробуйте ещё раз чуть позже."

BUTTON_HELPFUL = "👍 Помогло"
BUTTON_NOT_HELPFUL = "👎 Не то"
BUTTON_NONE_FIT = "Нет подходящего"

THANKS_HELPFUL = "Спасибо! Рад, что помог."
THANKS_NOT_HELPFUL = "Спасибо, учту. Вопрос передан администраторам."
THANKS_NONE_FIT = "Спасибо! Передал вопрос администраторам."
STALE_BUTTON = "Эта кнопка устарела. Задайте вопрос заново."
ARTICLE_GONE = "Эта статья больше недоступна. Задайте вопрос заново."

FEEDBACK_HELPFUL_NOTE = "\n\n<i>Отмечено: помогло.</i>"
FEEDBACK_NOT_HELPFUL_NOTE = "\n\n<i>Отмечено: не то. Вопрос передан администраторам.</i>"
FEEDBACK_NONE_FIT_NOTE = "\n\n<i>Отмечено: нет подходящего. Вопрос передан администраторам.</i>"
# Under «Возможно, вы имели в виду:» once a suggestion is picked (the buttons go).
FEEDBACK_PICKED_NOTE = "\n\n<i>Отмечено: «{title}».</i>"
# A press on a message marked already: nothing is recorded again.
ALREADY_MARKED = "Уже отмечено."

COMMANDS = {
    "start": "Что умеет бот",
    "help": "Как задавать вопросы и что значат кнопки",
}

# Telegram refuses messages longer than 4096 characters (we count UTF-16 code units, an emoji
# being two: the stricter count), after the HTML tags are parsed away.
MESSAGE_LIMIT = 4096
CUT_MARK = "…"


def greeting(article_count: int, categories: list[str]) -> str:
    topics = GREETING_TOPICS.format(topics=escape(", ".join(categories))) if categories else ""
    return GREETING.format(count=article_count, topics=topics)


def article(title: str, body: str, body_html: str | None = None) -> str:
    """An article as one message (the admin's preview): `body_html` (an admin's formatting,
    Telegram HTML built from entities) is used when the article fits one message; a longer
    one is cut as plain text. What people get is `article_parts`: the article whole."""
    visible_head = f"{title}\n\n"
    # The longest note a rated message gets appended, so the edit fits too.
    room = MESSAGE_LIMIT - utf16_length(visible_head + FEEDBACK_NOT_HELPFUL_NOTE + CUT_MARK)
    if body_html is not None and utf16_length(body) <= room:
        return f"<b>{escape(title)}</b>\n\n{body_html}"
    if utf16_length(body) > room:
        # Cut in UTF-16 units; a surrogate pair split in half is dropped by "ignore".
        cut = body.encode("utf-16-le")[: room * 2].decode("utf-16-le", errors="ignore")
        body = cut.rstrip() + CUT_MARK
    # Escaping after cutting could split an entity like "&amp;"; cut, then escape.
    return f"<b>{escape(title)}</b>\n\n{escape(body)}"


# Room in every part for the longest note a rated message gets (feedback.py appends it to
# the last part when 👍/👎 is pressed), so that edit fits too.
_NOTE_ROOM = max(
    utf16_length(visible_text(note))
    for note in (FEEDBACK_HELPFUL_NOTE, FEEDBACK_NOT_HELPFUL_NOTE, FEEDBACK_NONE_FIT_NOTE)
)
PART_ROOM = MESSAGE_LIMIT - _NOTE_ROOM


def article_parts(title: str, body: str, body_html: str | None = None) -> list[str]:
    """An article as people get it: whole, in as many messages as it takes, each at most
    `PART_ROOM` UTF-16 units so a rating note still fits. The title, in bold, opens the
    first; the buttons go under the last. Split at blank lines, else line breaks, else
    sentence ends, else spaces; `body_html` (Telegram HTML) is split so that every part is
    valid HTML on its own."""
    head = f"<b>{escape(title)}</b>\n\n"
    first_room = PART_ROOM - utf16_length(f"{title}\n\n")
    if body_html is not None:
        parts = split_html(body_html, first_room, PART_ROOM)
    else:
        parts = split_plain(body, first_room, PART_ROOM)
    first, *rest = parts or [""]
    return [head + first, *rest]


def article_start(title: str, body: str, body_html: str | None = None, room: int = 600) -> str:
    """The first lines of an article as people get it (formatting kept, valid HTML), for an
    admin's preview; "…" when there is more."""
    head = f"<b>{escape(title)}</b>\n\n"
    if body_html is not None:
        parts = split_html(body_html, room, room)
    else:
        parts = split_plain(body, room, room)
    first, *rest = parts or [""]
    return head + first + ("\n…" if rest else "")


OFF_TOPIC = (
    "Ваш вопрос «{question}» посмотрели: он не по теме нашей базы знаний, поэтому ответа "
    "здесь не будет. Лучше спросить у коллег или руководителя."
)


def off_topic(question: str) -> str:
    """Told to a person whose question an admin dismissed as out of the base's scope."""
    clipped = question if len(question) <= 200 else question[:199] + "…"
    return OFF_TOPIC.format(question=escape(clipped))


def takes_several_messages(title: str, body: str, body_html: str | None = None) -> bool:
    """Whether people get this article as more than one message (for the admin's preview)."""
    return len(article_parts(title, body, body_html)) > 1


CHAT_LOADING = "Загружаю модель…"
CHAT_PROMPT = (
    "Задайте вопрос (пустая строка или Ctrl+D — выход; номер — открыть предложенную статью)."
)


def chat_no_such_choice(offered: int) -> str:
    """The terminal chat, given a number that picks no suggestion."""
    if not offered:
        return (
            "Номер открывает статью из предложенных, а сейчас предложений нет. "
            "Напишите вопрос словами."
        )
    return f"Такого номера нет: выберите от 1 до {offered} или напишите вопрос словами."


def truncated(limit: int) -> str:
    return QUESTION_TRUNCATED.format(
        first=plural.agree(limit, "первый", "первые"),
        limit=plural.count_of(limit, "символ", "символа", "символов"),
    )


def picked_note(title: str) -> str:
    return FEEDBACK_PICKED_NOTE.format(title=escape(title))
