"""The /retrain training as a process of its own, followed to its end and reported as events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Settings, child_environment
from knowledge_base.audit import Actor
from knowledge_base.training.readiness import MIN_HELD_OUT_TO_JUDGE

log = logging.getLogger(__name__)

# The trainer's progress bar on stderr: " 45%|████▌ | 46/102 [00:18<00:22, 2.5it/s]".
PROGRESS = re.compile(r"(\d+)/(\d+) \[[^<\]]*<([^,\]]+)")
# Progress is reported at most this often: each report edits a Telegram message, and Telegram
# limits edits per chat.
STATUS_EVERY_SECONDS = 3.0
# `faqbot train`'s exit code when it refuses to train (too little data, one running already).
REFUSED = 4
# Bytes of the trainer's stderr read at once; a progress bar redraws in far fewer.
READ_SIZE = 4096
# Characters of the end of stderr kept for the reason of a refusal or a failure, and logged.
TAIL_KEPT, TAIL_LOGGED = 4000, 2000
# At the bot's shutdown, how long it waits for the stopped training to be followed to its end.
STOP_WAIT_SECONDS = 30


@dataclass(frozen=True)
class Preparing:
    """The process started: it reads the data and loads the model."""


@dataclass(frozen=True)
class Progress:
    """A training step done; `eta` as the progress bar writes it ("00:22")."""

    step: int
    total: int
    eta: str


@dataclass(frozen=True)
class Finished:
    """The new version trained and compared with the one it started from."""

    version: str
    parent: str
    promoted: bool
    before: dict[str, float]
    after: dict[str, float]
    held_out: int
    minutes: float
    # Not worse, but judged on too few held-out questions to promote it: the admin decides.
    held: bool = False

    @property
    def too_few_to_judge(self) -> bool:
        return self.held_out < MIN_HELD_OUT_TO_JUDGE


@dataclass(frozen=True)
class Refused:
    """`faqbot train` refused to train; `reason` is the last line it wrote (in English)."""

    reason: str


@dataclass(frozen=True)
class Failed:
    """The training ended otherwise: its exit code, or None when following it failed."""

    code: int | None


TrainingEvent = Preparing | Progress | Finished | Refused | Failed


class TrainingRun:
    """The one `faqbot train` an admin started from Telegram (a second waits its turn).

    The training runs in a session of its own (Ctrl+C on the bot does not reach it), and the
    bot follows its output to report its progress. If the bot stops meanwhile, the training
    is stopped too and its scratch directory cleaned: nothing half-registered.
    """

    def __init__(self, settings: Settings, on_promoted: Callable[[], Awaitable[None]]) -> None:
        """`on_promoted` runs when the new version answers from now on, before it is reported."""
        self._settings = settings
        self._on_promoted = on_promoted
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, report: Callable[[TrainingEvent], Awaitable[None]], by: Actor) -> None:
        """Start `faqbot train` for admin `by` (its end is audited in their name). Below
        MIN_HELD_OUT_TO_JUDGE held-out questions a new model is not promoted: it waits for
        the admin's choice."""
        self._task = asyncio.create_task(self._run(report, by))

    async def stop(self) -> None:
        """At the bot's shutdown: stop the training, then stop following it."""
        process = self._process
        if process is not None and process.returncode is None:
            log.warning("the bot stops: stopping the training it started")
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, STOP_WAIT_SECONDS)

    async def _run(self, report: Callable[[TrainingEvent], Awaitable[None]], by: Actor) -> None:
        try:
            await self._follow(report, by)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following the training failed")
            await report(Failed(None))
        finally:
            self._process = None

    async def _follow(self, report: Callable[[TrainingEvent], Awaitable[None]], by: Actor) -> None:
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "train",
            "--json",
            "--hold-below",
            str(MIN_HELD_OUT_TO_JUDGE),
            "--by",
            str(by.id),
            # The name as Telegram gave it with /retrain, for the audit trail.
            "--by-name",
            by.first_name,
            "--by-username",
            by.username,
            env=child_environment(self._settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        output = asyncio.create_task(process.stdout.read())
        await report(Preparing())
        tail = await _follow_progress(process.stderr, report)
        code = await process.wait()
        stdout = (await output).decode("utf-8", "replace").strip()
        if code == 0 and stdout:
            result: dict[str, Any] = json.loads(stdout.splitlines()[-1])
            if result["promoted"]:
                await self._on_promoted()
            await report(
                Finished(
                    result["version"],
                    result["parent"],
                    result["promoted"],
                    result["before"],
                    result["after"],
                    result["data"]["held_out"],
                    (time.monotonic() - started) / 60,
                    held=bool(result.get("held")),
                )
            )
        elif code == REFUSED:
            reason = tail.strip().splitlines()[-1] if tail.strip() else ""
            log.info("faqbot train refused: %s", reason)
            await report(Refused(reason))
        else:
            log.error("faqbot train exited with %s: %s", code, tail[-TAIL_LOGGED:])
            await report(Failed(code))


async def _follow_progress(
    stderr: asyncio.StreamReader, report: Callable[[TrainingEvent], Awaitable[None]]
) -> str:
    """Reports the progress bar's steps until stderr closes; returns the end of stderr, which
    holds the reason of a refusal or a failure."""
    tail = ""
    last_reported = 0.0
    while chunk := await stderr.read(READ_SIZE):
        text = chunk.decode("utf-8", "replace")
        tail = (tail + text)[-TAIL_KEPT:]
        # Step 0 has no estimate yet ("<?"): the status keeps saying it prepares.
        found = [(s, t, eta) for s, t, eta in PROGRESS.findall(text) if real_step(s, eta)]
        if found and time.monotonic() - last_reported >= STATUS_EVERY_SECONDS:
            step, total, eta = found[-1]
            last_reported = time.monotonic()
            await report(Progress(int(step), int(total), eta))
    return tail


def real_step(step: str, eta: str) -> bool:
    """A progress bar line worth showing: a step done and a time left that is known."""
    return int(step) > 0 and "?" not in eta
