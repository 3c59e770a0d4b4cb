"""Answer latency of one question with the model loaded: median of N, on this machine.

    python scripts/bench_latency.py [--model DIR] [-n 100]

Builds a throwaway database with the sample base, loads the model, warms it up, then times
`SearchService.answer` (encode in the worker thread, rank, log the query) one question at a
time, cycling through the sample evaluation questions. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.app import build_resources  # noqa: E402
from bot.config import ModelSettings, Settings  # noqa: E402
from knowledge_base.articles import ArticleService  # noqa: E402
from knowledge_base.db import upgrade_database  # noqa: E402
from knowledge_base.io import read_articles, read_eval_set  # noqa: E402
from knowledge_base.search import SearchService  # noqa: E402

SAMPLES = REPO / "knowledge_base" / "samples"


async def bench(model: str, n: int, folder: str) -> dict[str, object]:
    url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
    await asyncio.to_thread(upgrade_database, url)
    settings = Settings(
        _env_file=None,
        database_url=url,
        model=ModelSettings(path=model, models_dir=REPO / "models"),
    )
    started = time.perf_counter()
    resources = await build_resources(settings)
    load_seconds = time.perf_counter() - started
    async with resources.session_factory() as session:
        await ArticleService(session).import_drafts(read_articles(SAMPLES / "helpdesk.jsonl"))
    await resources.search.rebuild(resources.session_factory)
    questions = [item.query for item in read_eval_set(SAMPLES / "helpdesk_eval.jsonl")]
    timings = []
    try:
        for i in range(n + 5):
            question = questions[i % len(questions)]
            async with resources.session_factory() as session:
                started = time.perf_counter()
                await SearchService(resources.search, session).answer(question, user_id=1)
                await session.commit()
                elapsed = time.perf_counter() - started
            if i >= 5:  # the first few warm up torch's kernels and the page cache
                timings.append(elapsed * 1000)
    finally:
        await resources.close()
    import torch

    return {
        "model": resources.search.model_version,
        "n": len(timings),
        "median_ms": round(statistics.median(timings), 1),
        "p90_ms": round(sorted(timings)[int(len(timings) * 0.9) - 1], 1),
        "load_and_index_s": round(load_seconds, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="model directory (default: the configured)")
    parser.add_argument("-n", type=int, default=100, help="timed questions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faqbot-bench-") as folder:
        print(json.dumps(asyncio.run(bench(args.model, args.n, folder)), ensure_ascii=False))


if __name__ == "__main__":
    main()
