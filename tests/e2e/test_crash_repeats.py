"""kill -9 of `faqbot run` in the middle of a burst, ten times at different moments: nothing is
lost, nothing is stored twice, and each kill sends again at most the replies that were on
their way to Telegram at that instant (MAX_SENDS_IN_FLIGHT, one by default)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

from bot.config import Settings
from tests.fakes.databases import copy_database
from tests.fakes.operator_shell import operator_environment, start_faqbot
from tests.fakes.paths import SAMPLE_EVAL
from tests.fakes.telegram import TelegramStub
from tests.fakes.waiting import wait_until

START_TIMEOUT = 120.0
ROUNDS = 10
BURST = 60
# Questions arrive 5 ms apart (the burst takes about 0.35 s to arrive; answering it, 0.5 s).
# Each round's kill falls later into the answering: FIRST_KILL after the burst's first reply,
# then KILL_STEP later each round. (Timed from a reply, not from the push: a kill before the
# bot has answered anything cannot repeat anything and would prove nothing.)
PUSH_EVERY, FIRST_KILL, KILL_STEP = 0.005, 0.01, 0.05
# README, "What a crash, a restart or a Telegram outage costs": the default of
# MAX_SENDS_IN_FLIGHT, the most replies one kill can catch delivered and not yet noted.
MOST_REPEATS_A_KILL = Settings.model_fields["max_sends_in_flight"].default


def _replies(stub: TelegramStub) -> Counter[int]:
    """Replies per person (a send whose answer was lost reached the chat too)."""
    return Counter(
        int(call.params["chat_id"])
        for call in stub.calls_of("sendMessage")
        if call.error is None or call.result
    )


class _Running:
    """`faqbot run` as a process whose log is read as it goes (a full pipe would stall it)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.log: list[str] = []
        self.polling = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path) -> _Running:
        running = cls(await start_faqbot(env, cwd, "run"))
        await asyncio.wait_for(running.polling.wait(), START_TIMEOUT)
        return running

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.log.append(line.decode(errors="replace"))
            if "polling Telegram as" in self.log[-1]:
                self.polling.set()  # its signal handlers are set up the same instant

    async def kill(self) -> None:
        self.process.kill()  # SIGKILL: no handler, no clean-up, whatever was in hand
        await self.process.wait()
        await self._reader

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), 60)
        await self._reader
        assert self.process.returncode is not None
        return self.process.returncode


async def _ask(stub: TelegramStub, people: list[int], questions: list[str]) -> None:
    for person, question in zip(people, questions, strict=False):
        stub.push_text(person, question)
        await asyncio.sleep(PUSH_EVERY)


async def test_ten_kills_mid_burst_repeat_at_most_a_handful_of_replies(
    tmp_path: Path, sample_base_file: Path
) -> None:
    questions = [json.loads(line)["query"] for line in SAMPLE_EVAL.read_text().splitlines()]
    copy_database(sample_base_file, tmp_path / "kb.sqlite3")
    people: list[int] = []
    report: list[str] = []
    async with TelegramStub() as stub:
        env = {
            # What is tested is the journal and the sending, not the model: the ten restarts
            # serve a stand-in for it (each real load would cost seconds).
            **operator_environment(tmp_path, stand_in_model=True),
            "BOT_TOKEN": stub.token,
            "TELEGRAM_API_URL": stub.base_url,
            # Plumbing: every question is answered with its best article, whatever its score.
            "SEARCH__ANSWER_THRESHOLD": "0",
            "SEARCH__SUGGEST_THRESHOLD": "0",
        }
        bot = await _Running.start(env, tmp_path)
        try:
            for round_ in range(ROUNDS):
                burst = [10_000 + round_ * 100 + n for n in range(BURST)]
                people += burst
                mark = stub.mark()
                asking = asyncio.create_task(_ask(stub, burst, questions[round_ * 10 :]))
                await stub.wait_for(
                    "sendMessage",
                    lambda call, b=set(burst): int(call.params["chat_id"]) in b,
                    START_TIMEOUT,
                    after=mark,
                )
                await asyncio.sleep(FIRST_KILL + round_ * KILL_STEP)  # the kill's moment
                await bot.kill()
                answered = sum(1 for p in burst if _replies(stub)[p])
                await asking
                bot = await _Running.start(env, tmp_path)
                await wait_until(
                    lambda b=burst: all(_replies(stub)[p] for p in b),
                    START_TIMEOUT,
                    "the whole burst answered after the restart",
                )
                repeated = sum(1 for p in burst if _replies(stub)[p] > 1)
                report.append(f"{answered}/{BURST} answered at the kill, {repeated} twice")
                assert repeated <= MOST_REPEATS_A_KILL, report
        finally:
            code = await bot.stop()
        assert code == 0, "".join(bot.log[-20:])
    with closing(sqlite3.connect(tmp_path / "kb.sqlite3")) as database:
        stored = Counter(user for (user,) in database.execute("SELECT user_id FROM queries"))
    replies = _replies(stub)
    repeats = sum(1 for person in people if replies[person] > 1)
    print("; ".join(report), f"; in all {repeats} of {len(people)} replies twice")
    assert stored == Counter(dict.fromkeys(people, 1)), "every question stored exactly once"
    assert all(replies[person] for person in people), "every question answered"
    # How many of the ten kills catch a reply between Telegram and the note is chance (README:
    # 4, 4 and 5 in three runs); that none catches more than MAX_SENDS_IN_FLIGHT is not.
    assert repeats <= ROUNDS * MOST_REPEATS_A_KILL, report
