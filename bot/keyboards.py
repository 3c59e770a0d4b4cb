"""Inline keyboards and the callback data they carry."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.texts import admin as admin_texts
from bot.texts import user as texts
from knowledge_base.types import Match, PhrasingSource

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


# --- the admin console --------------------------------------------------------------------

ADMIN_PAGE_SIZE = 10


class AdminPage(CallbackData, prefix="ap"):
    """A page of /articles (or /archive); the word filter lives in the admin's FSM data."""

    page: Annotated[int, Field(ge=0, lt=10_000)]
    archived: bool = False


class AdminCard(CallbackData, prefix="ac"):
    """Open an article's card (`apart`: as a new message, keeping the one pressed, e.g. the
    /add preview whose «Сохранить» must stay)."""

    article_id: RowId
    apart: bool = False


class AdminAction(CallbackData, prefix="aa"):
    """A button on a card: archive, restore, title, body, phrasings, add (phrasings),
    category (choose one), delete (asks first), purge (deletes, after the question)."""

    action: Annotated[
        str,
        Field(pattern="^(archive|restore|title|body|phrasings|add|category|delete|purge)$"),
    ]
    article_id: RowId


class AdminTopic(CallbackData, prefix="at"):
    """Give an article the category of article `like` (0: no category). A category name may
    not fit in 64 bytes, so the button names an article holding it, and `tag` (the name's
    CRC-32) tells whether that article still holds the category the button showed."""

    article_id: RowId
    like: Annotated[int, Field(ge=0, lt=2**63)]
    tag: Annotated[str, Field(pattern="^[0-9a-f]{8}$")]


class AdminEdit(CallbackData, prefix="ae"):
    """Under an edit's preview: save it, type it again, or cancel."""

    action: Annotated[str, Field(pattern="^(save|again|cancel)$")]
    article_id: RowId


class AdminDeletePhrasing(CallbackData, prefix="ad"):
    phrasing_id: RowId


class AdminImport(CallbackData, prefix="ai"):
    """«Импортировать» (go) or «Отмена» under a file's preview; `token` names the preview,
    so the button imports the file it was shown for, not a later one."""

    go: bool
    token: Annotated[str, Field(pattern="^[0-9a-f]{8}$")]


class AdminAdd(CallbackData, prefix="an"):
    """Buttons of /add: skip the phrasings, save, cancel, go back a step, fix the title or the
    text from the preview, resume a paused draft or start over, and say whether a text typed
    while a draft was paused was meant for it. `at` is the step the button was shown at: a
    button of an older step is refused instead of acting on a newer one."""

    step: Annotated[
        str,
        Field(
            pattern="^(skip|save|cancel|back|fix_title|fix_body|topic|resume|new|held|question)$"
        ),
    ]
    at: Annotated[str, Field(pattern="^(|title|body|phrasings|preview|category)$")] = ""


class AdminAddTopic(CallbackData, prefix="aq"):
    """A category pressed in /add's «Выбрать тему»: the category of article `like` (0: none),
    checked by `tag` as AdminTopic does (the draft has no article id yet)."""

    like: Annotated[int, Field(ge=0, lt=2**63)]
    tag: Annotated[str, Field(pattern="^[0-9a-f]{8}$")]


class AdminRollback(CallbackData, prefix="am"):
    """«Откатить» under /model: ask, then do it or cancel."""

    step: Annotated[str, Field(pattern="^(ask|do|cancel)$")]
    # The version that answered when the button was shown: a rollback happens once, not
    # again for a double tap or a replayed update.
    current: Annotated[str, Field(pattern=r"^[\w.-]{1,48}$")]


class AdminActivate(CallbackData, prefix="mv"):
    """Make a model version the one that answers: «Включить …» under /model (ask, then do or
    cancel), and «Включить всё равно» / «Оставить текущую» (do / keep) after a /retrain
    judged on too few questions. A stale or forged name gets an answer, never a switch to
    something the admin did not see."""

    step: Annotated[str, Field(pattern="^(ask|do|cancel|keep)$")]
    name: Annotated[str, Field(pattern=r"^[\w./-]{1,40}$")]


class AdminInbox(CallbackData, prefix="au"):
    """Under a group of /unanswered: attach it to the closest article (asked, then confirm or
    keep), create one, dismiss it (asked, then tell / quiet, or keep)."""

    action: Annotated[
        str, Field(pattern="^(attach|confirm|keep|choose|create|dismiss|tell|quiet)$")
    ]
    token: Annotated[str, Field(pattern="^[0-9a-f]{8}$")]
    # For "attach": the article chosen by the admin; 0: the group's closest one.
    article: Annotated[int, Field(ge=0)] = 0


class AdminInboxUndo(CallbackData, prefix="ax"):
    """«Отменить» under an attachment whose people are not told yet."""

    notice: Annotated[int, Field(ge=1)]


class AdminOpenInbox(CallbackData, prefix="ao"):
    """«Открыть вопросы без ответа» under a digest: shows /unanswered."""

    go: bool = True


class AdminDigestToggle(CallbackData, prefix="as"):
    """The toggle of /settings: `on` is what the digest becomes when pressed."""

    on: bool


# Callback prefixes of admin buttons, refused for anyone else.
class AdminLearned(CallbackData, prefix="al"):
    """Approve or reject a learned phrasing waiting for an admin."""

    # approve | reject one phrasing; ask_approve_all | ask_reject_all | approve_all |
    # reject_all | keep for all of them, where `phrasing_id` is the newest one the admin was
    # counted: a phrasing queued after it is not decided unseen.
    action: str
    phrasing_id: int


class AuditDetail(CallbackData, prefix="av"):
    """«Подробнее» under /audit: one entry's whole before and after."""

    entry_id: int


def audit_details(entry_ids: list[int]) -> InlineKeyboardMarkup | None:
    if not entry_ids:
        return None
    builder = InlineKeyboardBuilder()
    for entry_id in entry_ids:
        builder.button(
            text=admin_texts.AUDIT_BUTTON.format(number=entry_id),
            callback_data=AuditDetail(entry_id=entry_id),
        )
    builder.adjust(3)
    return builder.as_markup()


ADMIN_PREFIXES = (
    "av:",
    *("ap:", "ac:", "aa:", "ad:", "ai:", "an:", "am:", "au:", "al:", "ao:", "as:", "ax:"),
    "mv:",
    *("at:", "ae:"),
)


def learned_all(newest_id: int) -> InlineKeyboardMarkup:
    """Under the /learned header: decide every waiting phrasing at once (after a question)."""
    builder = InlineKeyboardBuilder()
    for action, text in (
        ("ask_approve_all", admin_texts.BUTTON_APPROVE_ALL),
        ("ask_reject_all", admin_texts.BUTTON_REJECT_ALL),
    ):
        builder.button(text=text, callback_data=AdminLearned(action=action, phrasing_id=newest_id))
    return builder.as_markup()


def learned_all_confirm(approve: bool, newest_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    yes = (
        admin_texts.BUTTON_APPROVE_ALL_CONFIRM if approve else admin_texts.BUTTON_REJECT_ALL_CONFIRM
    )
    action = "approve_all" if approve else "reject_all"
    builder.button(text=yes, callback_data=AdminLearned(action=action, phrasing_id=newest_id))
    builder.button(
        text=admin_texts.BUTTON_CANCEL,
        callback_data=AdminLearned(action="keep", phrasing_id=newest_id),
    )
    return builder.as_markup()


def learned(phrasing_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for action, text in (
        ("approve", admin_texts.BUTTON_APPROVE),
        ("reject", admin_texts.BUTTON_REJECT),
    ):
        builder.button(
            text=text, callback_data=AdminLearned(action=action, phrasing_id=phrasing_id)
        )
    return builder.as_markup()


def inbox_group(
    token: str, closest_title: str | None, *, weak: bool = False
) -> InlineKeyboardMarkup:
    """A group's buttons: attach to the closest article first, unless it is `weak` (below
    the suggest band): then choosing another or creating one comes first."""
    builder = InlineKeyboardBuilder()
    attach = (
        []
        if closest_title is None
        else [
            (
                _short(admin_texts.BUTTON_ATTACH.format(title=closest_title)),
                AdminInbox(action="attach", token=token),
            )
        ]
    )
    others = [
        (admin_texts.BUTTON_CHOOSE, AdminInbox(action="choose", token=token)),
        (admin_texts.BUTTON_CREATE, AdminInbox(action="create", token=token)),
    ]
    for text, data in others + attach if weak else attach + others:
        builder.button(text=text, callback_data=data)
    builder.button(
        text=admin_texts.BUTTON_DISMISS, callback_data=AdminInbox(action="dismiss", token=token)
    )
    builder.adjust(1)
    return builder.as_markup()


def inbox_attach_confirm(token: str, article_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=admin_texts.BUTTON_CONFIRM_ATTACH,
        callback_data=AdminInbox(action="confirm", token=token, article=article_id),
    )
    builder.button(
        text=admin_texts.BUTTON_CANCEL, callback_data=AdminInbox(action="keep", token=token)
    )
    builder.adjust(1)
    return builder.as_markup()


def inbox_undo(notice_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=admin_texts.BUTTON_UNDO, callback_data=AdminInboxUndo(notice=notice_id))
    return builder.as_markup()


def inbox_dismiss(token: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for action, text in (
        ("tell", admin_texts.BUTTON_DISMISS_TELL),
        ("quiet", admin_texts.BUTTON_DISMISS_QUIET),
        ("keep", admin_texts.BUTTON_CANCEL),
    ):
        builder.button(text=text, callback_data=AdminInbox(action=action, token=token))
    builder.adjust(1)
    return builder.as_markup()


def inbox_targets(token: str, articles: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    """One button per article a group may be attached to."""
    builder = InlineKeyboardBuilder()
    for article_id, title in articles:
        builder.button(
            text=_short(f"→ {title}"),
            callback_data=AdminInbox(action="attach", token=token, article=article_id),
        )
    builder.adjust(1)
    return builder.as_markup()


def rollback(confirm: bool, current: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if confirm:
        builder.button(
            text=admin_texts.BUTTON_ROLLBACK_CONFIRM,
            callback_data=AdminRollback(step="do", current=current),
        )
        builder.button(
            text=admin_texts.BUTTON_CANCEL,
            callback_data=AdminRollback(step="cancel", current=current),
        )
    else:
        builder.button(
            text=admin_texts.BUTTON_ROLLBACK,
            callback_data=AdminRollback(step="ask", current=current),
        )
    builder.adjust(1)
    return builder.as_markup()


def model_card(
    current: str, can_roll_back: bool, earlier: list[str]
) -> InlineKeyboardMarkup | None:
    """Under /model: «Откатить» when a version served before, and «Включить …» for each
    earlier version (the newest few)."""
    builder = InlineKeyboardBuilder()
    if can_roll_back:
        builder.button(
            text=admin_texts.BUTTON_ROLLBACK,
            callback_data=AdminRollback(step="ask", current=current),
        )
    for name in earlier[: admin_texts.MODEL_VERSIONS_SHOWN]:
        try:
            data = AdminActivate(step="ask", name=name).pack()
        except ValueError:  # a name a button cannot carry: `faqbot models activate` can
            continue
        builder.button(text=admin_texts.button_activate(name), callback_data=data)
    builder.adjust(1)
    markup = builder.as_markup()
    return markup if markup.inline_keyboard else None


def activate_confirm(name: str, anyway: bool = False) -> InlineKeyboardMarkup:
    """«Да, включить» (or «Включить всё равно» for a version that failed its check) / «Отмена»."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=admin_texts.BUTTON_ACTIVATE_ANYWAY if anyway else admin_texts.BUTTON_ACTIVATE_CONFIRM,
        callback_data=AdminActivate(step="do", name=name),
    )
    builder.button(
        text=admin_texts.BUTTON_CANCEL, callback_data=AdminActivate(step="cancel", name=name)
    )
    builder.adjust(1)
    return builder.as_markup()


def held_model(name: str) -> InlineKeyboardMarkup:
    """After a /retrain judged on too few questions: the admin chooses."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=admin_texts.BUTTON_ACTIVATE_ANYWAY, callback_data=AdminActivate(step="do", name=name)
    )
    builder.button(
        text=admin_texts.BUTTON_KEEP_CURRENT, callback_data=AdminActivate(step="keep", name=name)
    )
    builder.adjust(1)
    return builder.as_markup()


def add_step(at: str) -> InlineKeyboardMarkup:
    """Under a step of /add: «Без фраз» at the phrasings, «« Назад» after the title, «Отмена»."""
    builder = InlineKeyboardBuilder()
    if at == "phrasings":
        builder.button(
            text=admin_texts.BUTTON_NO_PHRASINGS, callback_data=AdminAdd(step="skip", at=at)
        )
    if at in ("body", "phrasings"):
        builder.button(text=admin_texts.BUTTON_ADD_BACK, callback_data=AdminAdd(step="back", at=at))
    builder.button(text=admin_texts.BUTTON_CANCEL, callback_data=AdminAdd(step="cancel", at=at))
    builder.adjust(1, 2) if at == "phrasings" else builder.adjust(2)
    return builder.as_markup()


def add_preview(similar: tuple[int, str] | None) -> InlineKeyboardMarkup:
    """«Сохранить», fix the title or the text, «« Назад», «Отмена»; with a near-copy: open it
    first, and «Сохранить всё равно»."""
    builder = InlineKeyboardBuilder()
    if similar is not None:
        article_id, title = similar
        builder.button(
            text=_short(admin_texts.BUTTON_OPEN.format(title=title)),
            callback_data=AdminCard(article_id=article_id, apart=True),
        )
    save = admin_texts.BUTTON_SAVE_ANYWAY if similar else admin_texts.BUTTON_SAVE
    at = "preview"
    builder.button(text=save, callback_data=AdminAdd(step="save", at=at))
    builder.button(
        text=admin_texts.BUTTON_ADD_FIX_TITLE, callback_data=AdminAdd(step="fix_title", at=at)
    )
    builder.button(
        text=admin_texts.BUTTON_ADD_FIX_BODY, callback_data=AdminAdd(step="fix_body", at=at)
    )
    builder.button(text=admin_texts.BUTTON_ADD_TOPIC, callback_data=AdminAdd(step="topic", at=at))
    builder.button(text=admin_texts.BUTTON_ADD_BACK, callback_data=AdminAdd(step="back", at=at))
    builder.button(text=admin_texts.BUTTON_CANCEL, callback_data=AdminAdd(step="cancel", at=at))
    builder.adjust(*([1] if similar else []), 1, 2, 1, 2)
    return builder.as_markup()


def add_resume(title: str | None, start_over: bool = False) -> InlineKeyboardMarkup:
    """«Продолжить: «…»» under a paused draft; with «Начать новую статью» when /add asks."""
    builder = InlineKeyboardBuilder()
    what = admin_texts.add_draft_name(title)
    builder.button(
        text=_short(admin_texts.BUTTON_RESUME.format(what=what)),
        callback_data=AdminAdd(step="resume"),
    )
    if start_over:
        builder.button(text=admin_texts.BUTTON_START_OVER, callback_data=AdminAdd(step="new"))
    builder.adjust(1)
    return builder.as_markup()


def add_held() -> InlineKeyboardMarkup:
    """Is the text typed while a draft was paused meant for it?"""
    builder = InlineKeyboardBuilder()
    builder.button(text=admin_texts.BUTTON_HELD_FOR_DRAFT, callback_data=AdminAdd(step="held"))
    builder.button(text=admin_texts.BUTTON_HELD_QUESTION, callback_data=AdminAdd(step="question"))
    builder.adjust(1)
    return builder.as_markup()


def import_preview(token: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=admin_texts.BUTTON_IMPORT, callback_data=AdminImport(go=True, token=token))
    builder.button(text=admin_texts.BUTTON_CANCEL, callback_data=AdminImport(go=False, token=token))
    builder.adjust(2)
    return builder.as_markup()


def articles_page(
    items: Sequence[tuple[int, str]], page: int, pages: int, archived: bool
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for article_id, title in items:
        builder.button(text=_short(title), callback_data=AdminCard(article_id=article_id))
    nav = []
    if page > 0:
        nav.append((admin_texts.BUTTON_PREVIOUS, AdminPage(page=page - 1, archived=archived)))
    if page + 1 < pages:
        nav.append((admin_texts.BUTTON_NEXT, AdminPage(page=page + 1, archived=archived)))
    for text, data in nav:
        builder.button(text=text, callback_data=data)
    builder.adjust(*([1] * len(items)), len(nav) or 1)
    return builder.as_markup()


def topic_tag(category: str) -> str:
    """What AdminTopic checks a category by: its CRC-32, 8 hex digits."""
    return f"{zlib.crc32(category.encode()):08x}"


def article_card(article_id: int, archived: bool, category: str = "") -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    buttons = [
        (admin_texts.BUTTON_TITLE, "title"),
        (admin_texts.BUTTON_BODY, "body"),
        (admin_texts.BUTTON_PHRASINGS, "phrasings"),
        (_short(admin_texts.topic_button(category)), "category"),
        *(
            [(admin_texts.BUTTON_RESTORE, "restore"), (admin_texts.BUTTON_DELETE, "delete")]
            if archived
            else [(admin_texts.BUTTON_ARCHIVE, "archive")]
        ),
    ]
    for text, action in buttons:
        builder.button(text=text, callback_data=AdminAction(action=action, article_id=article_id))
    builder.button(text=admin_texts.BUTTON_BACK, callback_data=AdminPage(page=0, archived=archived))
    builder.adjust(2, 2, 2 if archived else 1, 1)
    return builder.as_markup()


# Categories offered as buttons at most (more are typed).
TOPIC_BUTTONS = 30


def topic_choice(
    article_id: int, current: str, holders: Sequence[tuple[str, int]]
) -> InlineKeyboardMarkup:
    """The existing categories (each with an article holding it), «Без темы», «« К статье»."""
    builder = InlineKeyboardBuilder()
    offered = _topic_buttons(
        builder,
        current,
        holders,
        lambda like, tag: AdminTopic(article_id=article_id, like=like, tag=tag),
        no_topic=bool(current),
    )
    builder.button(
        text=admin_texts.BUTTON_BACK_TO_ARTICLE, callback_data=AdminCard(article_id=article_id)
    )
    builder.adjust(*([2] * (offered // 2)), *([1] * (offered % 2)), 1, 1)
    return builder.as_markup()


def add_topic_choice(current: str, holders: Sequence[tuple[str, int]]) -> InlineKeyboardMarkup:
    """/add's «Выбрать тему»: the existing categories, «Без темы», «« Назад», «Отмена»."""
    builder = InlineKeyboardBuilder()
    offered = _topic_buttons(
        builder, current, holders, lambda like, tag: AdminAddTopic(like=like, tag=tag)
    )
    at = "category"
    builder.button(text=admin_texts.BUTTON_ADD_BACK, callback_data=AdminAdd(step="back", at=at))
    builder.button(text=admin_texts.BUTTON_CANCEL, callback_data=AdminAdd(step="cancel", at=at))
    builder.adjust(*([2] * (offered // 2)), *([1] * (offered % 2)), 1, 2)
    return builder.as_markup()


def _topic_buttons(
    builder: InlineKeyboardBuilder,
    current: str,
    holders: Sequence[tuple[str, int]],
    data: Callable[[int, str], CallbackData],
    no_topic: bool = True,
) -> int:
    """The categories other than `current` (each pressed as the article holding it), then
    «Без темы» when `no_topic`; how many categories were offered."""
    offered = [(c, holder) for c, holder in holders if c and c != current][:TOPIC_BUTTONS]
    for category, holder in offered:
        builder.button(text=_short(category), callback_data=data(holder, topic_tag(category)))
    if no_topic:
        builder.button(text=admin_texts.BUTTON_NO_TOPIC, callback_data=data(0, topic_tag("")))
    return len(offered)


def delete_confirm(article_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=admin_texts.BUTTON_DELETE_CONFIRM,
        callback_data=AdminAction(action="purge", article_id=article_id),
    )
    builder.button(text=admin_texts.BUTTON_CANCEL, callback_data=AdminCard(article_id=article_id))
    builder.adjust(1)
    return builder.as_markup()


def back_to_archive() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=admin_texts.BUTTON_BACK_TO_ARCHIVE, callback_data=AdminPage(page=0, archived=True)
    )
    return builder.as_markup()


def edit_preview(article_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for text, action in (
        (admin_texts.BUTTON_SAVE, "save"),
        (admin_texts.BUTTON_EDIT_AGAIN, "again"),
        (admin_texts.BUTTON_CANCEL, "cancel"),
    ):
        builder.button(text=text, callback_data=AdminEdit(action=action, article_id=article_id))
    builder.adjust(1, 2)
    return builder.as_markup()


def phrasings(article_id: int, items: Sequence[tuple[int, str, str]]) -> InlineKeyboardMarkup:
    """One button per deletable phrasing (not the title), then «add» and «back»."""
    builder = InlineKeyboardBuilder()
    deletable = [(pid, text) for pid, text, source in items if source != PhrasingSource.TITLE]
    for phrasing_id, text in deletable[:90]:
        builder.button(
            text=f"✕ {_short(text)}", callback_data=AdminDeletePhrasing(phrasing_id=phrasing_id)
        )
    builder.button(
        text=admin_texts.BUTTON_ADD_PHRASINGS,
        callback_data=AdminAction(action="add", article_id=article_id),
    )
    builder.button(
        text=admin_texts.BUTTON_BACK_TO_ARTICLE, callback_data=AdminCard(article_id=article_id)
    )
    builder.adjust(1)
    return builder.as_markup()


def open_inbox() -> InlineKeyboardMarkup:
    """Under a digest."""
    builder = InlineKeyboardBuilder()
    builder.button(text=admin_texts.BUTTON_OPEN_INBOX, callback_data=AdminOpenInbox())
    return builder.as_markup()


def digest_settings(digest_on: bool) -> InlineKeyboardMarkup:
    """Under /settings: one toggle."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=admin_texts.digest_toggle(digest_on),
        callback_data=AdminDigestToggle(on=not digest_on),
    )
    return builder.as_markup()
