"""`faqbot import` of a large file beside the running bot: no question is lost to a lock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.fakes.harness import FORCE_ANSWER, LaunchBot
from tests.fakes.operator_shell import operator_environment, start_faqbot

ARTICLES = 3000
USERS = range(700, 710)


async def test_questions_asked_during_a_large_import_are_all_answered_and_stored(
    launch_bot: LaunchBot, tmp_path: Path
) -> None:
    # The refresher would re-encode the new articles meanwhile; this test is about the lock.
    bot = await launch_bot(FORCE_ANSWER, index_refresh_seconds=0)
    big = tmp_path / "big.jsonl"
    big.write_text(
        "".join(
            json.dumps(
                {
                    "title": f"Статья {n}",
                    "body": f"Текст статьи номер {n}.",
                    "questions": [f"вопрос {n}", f"как быть с {n}"],
                },
                ensure_ascii=False,
            )
            + "\n"
            for n in range(ARTICLES)
        ),
        encoding="utf-8",
    )
    env = {**operator_environment(tmp_path), "DATABASE_URL": bot.settings.database_url}
    importing = await start_faqbot(env, tmp_path, "import", str(big))
    finished = asyncio.ensure_future(importing.communicate())
    asked = 0
    while not finished.done():
        mark = bot.stub.mark()
        for user in USERS:
            bot.stub.push_text(user, f"Как получить доступ к логам? #{asked}")
        for user in USERS:
            # Seconds, not the length of the import: it must not hold the lock for long.
            reply = await bot.stub.wait_for_reply(user, after=mark, timeout=5)
            assert str(reply.params["text"]).startswith("<b>"), reply.params["text"]
        asked += 1
    stdout, stderr = await finished
    assert importing.returncode == 0, stderr.decode()[-2000:]
    assert f"{ARTICLES} added" in stdout.decode()
    await bot.settle()
    assert asked >= 3, "the import ended before the questions could collide with it"
    assert len(await bot.queries()) == asked * len(USERS)
