"""`make bench`: how fast the bot answers on this machine, with ONNX Runtime and with PyTorch.

    python scripts/bench.py [--quick] [--out docs]

Writes `<out>/bench.json` and `<out>/bench.png` (throughput and latency against the number of
people asking at once) and prints a summary. Measures:

- one question: the whole answer path with the model loaded (encode, rank, log the query and
  its offers in SQLite and read the article shown), median and p99, for the sample base and
  for synthetic bases of 10,000 and 100,000 articles (3 phrasings each, random unit vectors:
  the index part is what grows); and its parts alone: encoding, ranking, logging;
- under load: the real bot (`faqbot run` in its own process) polling the local Telegram
  stand-in of the tests; 1, 10 and 100 people each send a question, wait for the answer, and
  send the next; answered questions per second and the time from the update to the bot's
  sendMessage (median, p99);
- start-up: from starting `faqbot run` to its first answer, embeddings cached;
- re-embedding: encoding the sample base and 3,000 phrasings afresh, as after a model change;
- memory: peak RSS (VmHWM) of the serving `faqbot run` process.

Nothing here is asserted: the figures go in the README. The bot and the stand-in share the
machine's cores, as a bot and its local Bot API server would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.app import build_resources  # noqa: E402
from bot.config import ModelSettings, Settings  # noqa: E402
from knowledge_base.articles import ArticleService  # noqa: E402
from knowledge_base.io import read_articles, read_eval_set  # noqa: E402
from knowledge_base.search.lexical import LexicalIndex  # noqa: E402
from knowledge_base.search.service import SearchService  # noqa: E402
from knowledge_base.search.vector_index import VectorIndex  # noqa: E402
from knowledge_base.storage.engine import upgrade_database  # noqa: E402
from knowledge_base.types import Band, QuestionLog  # noqa: E402
from tests.fakes.telegram import TelegramStub  # noqa: E402

SAMPLES = REPO / "knowledge_base" / "samples"
MODELS = REPO / "models"
BACKENDS = ("onnx", "torch")
QUESTIONS = [item.query for item in read_eval_set(SAMPLES / "helpdesk_eval.jsonl")]
SYNTHETIC_SIZES = (10_000, 100_000)
PHRASINGS_PER_ARTICLE = 3
# People asking at once, and how many questions each asks in turn.
LOAD_LEVELS = {1: 100, 10: 30, 100: 10}


def _ms(values: list[float]) -> dict[str, float]:
    data = np.asarray(values) * 1000
    return {
        "median_ms": round(float(np.median(data)), 2),
        "p99_ms": round(float(np.percentile(data, 99)), 2),
        "n": len(values),
    }


def _settings(folder: Path, backend: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}",
        model=ModelSettings(models_dir=MODELS, backend=backend),  # type: ignore[arg-type]
        index_refresh_seconds=0,
    )


async def _sample_database(folder: Path, backend: str) -> Settings:
    """A database with the sample base, its vectors cached, as a running bot leaves it."""
    settings = _settings(folder, backend)
    await asyncio.to_thread(upgrade_database, settings.database_url)
    resources = await build_resources(settings)
    try:
        async with resources.session_factory() as session:
            await ArticleService(session).import_drafts(read_articles(SAMPLES / "helpdesk.jsonl"))
        await resources.search.rebuild(resources.session_factory)
    finally:
        await resources.close()
    return settings


def _add_synthetic_articles(database: Path, count: int, first_id: int) -> None:
    now = datetime.now(UTC).isoformat(sep=" ")
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO articles (id, title, body, category, archived, created_at, updated_at) "
            "VALUES (?, ?, ?, '', 0, ?, ?)",
            (
                (first_id + i, f"Синтетическая статья {first_id + i}", "Текст статьи.", now, now)
                for i in range(count)
            ),
        )


async def one_question(backend: str, folder: Path, repeats: int) -> dict[str, Any]:
    """The answer path, one question at a time, for the sample base and synthetic ones."""
    settings = await _sample_database(folder, backend)
    resources = await build_resources(settings)
    engine = resources.search
    encoder = engine.encoder
    results: dict[str, Any] = {}

    async def time_answers(label: str) -> None:
        for question in QUESTIONS[:10]:  # warm up
            await encoder.encode_query(question)
        spent = []
        for i in range(repeats):
            question = QUESTIONS[i % len(QUESTIONS)]
            started = time.perf_counter()
            async with resources.session_factory() as session:
                await SearchService(engine, resources.answer_log, session).answer(
                    question, user_id=1
                )
            spent.append(time.perf_counter() - started)
        ranked = []
        vector = encoder.encode_queries([QUESTIONS[0]])[0]
        snapshot = engine.snapshot
        for _ in range(50):
            started = time.perf_counter()
            snapshot.index.top(
                vector,
                snapshot.suggestions + 1,
                lexical=snapshot.lexical_scores([QUESTIONS[0]]),
                lexical_weight=snapshot.lexical_weight,
            )
            ranked.append(time.perf_counter() - started)
        results[label] = {
            "articles": len(engine.snapshot.index),
            "phrasings": engine.snapshot.index.phrasing_count,
            **_ms(spent),
            "rank_only_median_ms": round(float(np.median(ranked)) * 1000, 3),
        }
        print(f"  {backend} {label}: {results[label]}", flush=True)

    try:
        encoded = []
        for question in QUESTIONS:
            started = time.perf_counter()
            encoder.encode_queries([question])
            encoded.append(time.perf_counter() - started)
        results["encode_only"] = _ms(encoded)
        answer_log = resources.answer_log
        logged = []
        for question in QUESTIONS:
            started = time.perf_counter()
            await answer_log.record(QuestionLog(1, question, 1, 0.9, Band.ANSWER, "bench"), [1])
            logged.append(time.perf_counter() - started)
        # Logging one question alone: the article read, the question and its offers written,
        # one commit.
        results["log_only"] = _ms(logged)
        await time_answers("sample")
        database = Path(settings.database_url.removeprefix("sqlite+aiosqlite:///"))
        rng = np.random.default_rng(0)
        first_id = 1_000_000
        for size in SYNTHETIC_SIZES:
            await asyncio.to_thread(_add_synthetic_articles, database, size, first_id)
            ids = np.repeat(np.arange(first_id, first_id + size), PHRASINGS_PER_ARTICLE)
            vectors = rng.normal(size=(len(ids), encoder.dimension)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            titles = {int(i): f"Синтетическая статья {i}" for i in ids[::PHRASINGS_PER_ARTICLE]}
            # The lexical channel over made-up phrasings of the same count, as the bot builds it.
            texts = [f"вопрос {k} о статье {i}: ошибка E{i % 9973}" for k, i in enumerate(ids)]
            lexical = LexicalIndex(texts) if engine.lexical_weight else None
            engine.snapshot = replace(
                engine.snapshot,
                index=VectorIndex(vectors, ids.tolist()),
                titles=titles,
                lexical=lexical,
            )
            await time_answers(str(size))
            first_id += size
    finally:
        await resources.close()
    return results


async def reembedding(backend: str, folder: Path) -> dict[str, Any]:
    """Encoding every phrasing again, as the bot does after a model change."""
    settings = _settings(folder, backend)
    await asyncio.to_thread(upgrade_database, settings.database_url)
    resources = await build_resources(settings)
    try:
        encoder = resources.search.encoder
        drafts = read_articles(SAMPLES / "helpdesk.jsonl")
        sample = [t for d in drafts for t in (d.title, *d.questions)]
        larger = [f"{text} ({i})" for i in range(10) for text in sample][:3000]
        found: dict[str, Any] = {}
        for label, texts in (("sample", sample), ("3000", larger)):
            started = time.perf_counter()
            encoder.encode_documents(texts)
            seconds = time.perf_counter() - started
            found[label] = {
                "phrasings": len(texts),
                "seconds": round(seconds, 2),
                "per_second": round(len(texts) / seconds, 1),
            }
        print(f"  {backend} re-embedding: {found}", flush=True)
        return found
    finally:
        await resources.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def under_load(backend: str, folder: Path, warm: Settings, quick: bool) -> dict[str, Any]:
    """`faqbot run` against the Telegram stand-in: start-up, throughput, latency, memory."""
    database = folder / "bench.sqlite3"
    shutil.copy(warm.database_url.removeprefix("sqlite+aiosqlite:///"), database)
    levels = {1: 20, 10: 10, 100: 3} if quick else LOAD_LEVELS
    async with TelegramStub() as stub:
        env = {
            **os.environ,
            "BOT_TOKEN": stub.token,
            "TELEGRAM_API_URL": stub.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "UPDATE_JOURNAL": str(folder / "journal.sqlite3"),
            "MODEL__MODELS_DIR": str(MODELS),
            "MODEL__BACKEND": backend,
            "INDEX_REFRESH_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "bot.log").open("w"),
        )
        try:
            mark = len(stub.calls)
            stub.push_text(1, QUESTIONS[0])
            first = await stub.wait_for_reply(1, after=mark, timeout=180)
            result: dict[str, Any] = {"first_answer_s": round(first.time - started, 2)}
            print(f"  {backend} start-up: first answer after {result['first_answer_s']} s")
            for question in QUESTIONS[:20]:  # warm up
                mark = len(stub.calls)
                stub.push_text(2, question)
                await stub.wait_for_reply(2, after=mark, timeout=60)
            result["levels"] = {}
            for people, each in levels.items():
                latencies: list[float] = []

                async def person(
                    user: int, each: int = each, latencies: list[float] = latencies
                ) -> None:
                    for k in range(each):
                        mark = len(stub.calls)
                        update = stub.push_text(user, QUESTIONS[(user * 7 + k) % len(QUESTIONS)])
                        reply = await stub.wait_for_reply(user, after=mark, timeout=120)
                        latencies.append(reply.time - stub.pushed_at[update])

                began, bot_cpu, own_cpu = time.monotonic(), _cpu_seconds(process.pid), _own_cpu()
                await asyncio.gather(*(person(10_000 + u) for u in range(people)))
                wall = time.monotonic() - began
                level = {
                    "people": people,
                    "answered": len(latencies),
                    "per_second": round(len(latencies) / wall, 1),
                    **_ms(latencies),
                    # Cores kept busy: the bot, and the stand-in with the simulated people.
                    "bot_cores": round((_cpu_seconds(process.pid) - bot_cpu) / wall, 2),
                    "stand_in_cores": round((_own_cpu() - own_cpu) / wall, 2),
                }
                result["levels"][str(people)] = level
                print(f"  {backend} {people} at once: {level}", flush=True)
            result["peak_rss_mb"] = _peak_rss_mb(process.pid)
            print(f"  {backend} peak RSS {result['peak_rss_mb']} MB", flush=True)
            return result
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def chart(results: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = {"onnx": "#2e7d32", "torch": "#c62828"}
    names = {"onnx": "ONNX Runtime", "torch": "PyTorch"}
    for backend in BACKENDS:
        levels = results["backends"][backend]["load"]["levels"]
        people = [int(p) for p in levels]
        left.plot(
            people,
            [levels[str(p)]["per_second"] for p in people],
            "o-",
            color=colours[backend],
            label=names[backend],
        )
        right.plot(
            people,
            [levels[str(p)]["median_ms"] for p in people],
            "o-",
            color=colours[backend],
            label=f"{names[backend]}, median",
        )
        right.plot(
            people,
            [levels[str(p)]["p99_ms"] for p in people],
            "s--",
            color=colours[backend],
            alpha=0.6,
            label=f"{names[backend]}, p99",
        )
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xticks([1, 10, 100], ["1", "10", "100"])
        axis.set_xlabel("people asking at once")
        axis.grid(alpha=0.3)
    left.set_ylabel("answered questions per second")
    left.set_title("Throughput")
    right.set_yscale("log")
    right.set_ylabel("update → sendMessage, ms")
    right.set_title("Time to answer")
    left.legend(loc="upper left")
    right.legend(loc="upper left", fontsize=8)
    fig.suptitle(
        f"faqbot on {results['machine']['cpus']} CPUs, multilingual-e5-small, "
        "the sample base through the Telegram stand-in"
    )
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


async def main(out: Path, quick: bool) -> None:
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": _cpu_name(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": "defaults: multilingual-e5-small, the sample base (50 articles), model bands",
        "backends": {},
    }
    for backend in BACKENDS:
        print(f"{backend}:", flush=True)
        with tempfile.TemporaryDirectory(prefix="faqbot-bench-") as scratch:
            base = Path(scratch)
            for part in ("one", "warm", "load", "embed"):
                (base / part).mkdir()
            found: dict[str, Any] = {}
            found["one_question"] = await one_question(backend, base / "one", 60 if quick else 300)
            warm = await _sample_database(base / "warm", backend)
            found["load"] = await under_load(backend, base / "load", warm, quick)
            found["reembedding"] = await reembedding(backend, base / "embed")
            results["backends"][backend] = found
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    chart(results, out / "bench.png")
    print(f"wrote {out / 'bench.json'} and {out / 'bench.png'}")


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--quick", action="store_true", help="fewer questions: a smoke run")
    args = parser.parse_args()
    asyncio.run(main(args.out, args.quick))
