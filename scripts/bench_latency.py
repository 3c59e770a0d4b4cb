"""Answer latency of one question with the model loaded: median of N, on this machine.

    python scripts/bench_latency.py [--model DIR] [-n 100] [--beside-training]

Builds a throwaway database with the sample base, loads the model, warms it up, then times
`SearchService.answer` (encode in the worker thread, rank, log the query) one question at a
time, cycling through the sample evaluation questions. Prints one JSON line.

With --beside-training, a `faqbot train` process (default settings, the sample base and its
questions, in a database and models folder of its own) runs on the same machine meanwhile, as
it would beside a serving bot; timing starts once its first training steps ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
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
from knowledge_base.io import read_articles, read_eval_set  # noqa: E402
from knowledge_base.search.service import SearchService  # noqa: E402
from knowledge_base.storage.engine import upgrade_database  # noqa: E402

SAMPLES = REPO / "knowledge_base" / "samples"


def start_training(folder: str) -> subprocess.Popen[str]:
    """`faqbot train` on a copy of the sample base, long enough to outlast the timing."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/train.sqlite3",
        "MODEL__MODELS_DIR": f"{folder}/models",
        "MODEL__PATH": str(REPO / "models" / "base" / "multilingual-e5-small"),
        "TRAINING__EPOCHS": "100",
    }
    command = [sys.executable, "-m", "bot"]
    subprocess.run(
        [*command, "import", str(SAMPLES / "helpdesk.jsonl")],
        env=env,
        cwd=folder,
        check=True,
        capture_output=True,
    )
    training = subprocess.Popen(
        [*command, "train", "--pairs", str(SAMPLES / "helpdesk_eval.jsonl")],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert training.stderr is not None
    seen = ""
    while "s/it" not in seen and "it/s" not in seen:
        chunk = training.stderr.read(64)
        if not chunk:
            raise RuntimeError(f"faqbot train ended before training: {seen[-500:]}")
        seen = (seen + chunk)[-200:]
    return training


async def bench(
    model: str, n: int, folder: str, beside_training: bool = False
) -> dict[str, object]:
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
    training = start_training(folder) if beside_training else None
    try:
        for i in range(n + 5):
            question = questions[i % len(questions)]
            async with resources.session_factory() as session:
                started = time.perf_counter()
                await SearchService(resources.search, resources.answer_log, session).answer(
                    question, user_id=1
                )
                await session.commit()
                elapsed = time.perf_counter() - started
            if i >= 5:  # the first few warm up torch's kernels and the page cache
                timings.append(elapsed * 1000)
    finally:
        if training is not None:
            training.kill()
            training.wait()
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
        "beside_training": beside_training,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="model directory (default: the configured)")
    parser.add_argument("-n", type=int, default=100, help="timed questions")
    parser.add_argument(
        "--beside-training", action="store_true", help="time while `faqbot train` runs"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faqbot-bench-") as folder:
        result = asyncio.run(bench(args.model, args.n, folder, args.beside_training))
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
