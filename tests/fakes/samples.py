"""What the sample base holds that the tests count on: its size, questions it answers and the
articles that answer them; and the hard sentences the e5 encoders must agree on."""

from __future__ import annotations

import json

from tests.fakes.paths import PARITY_FILE

SAMPLE_ARTICLE_COUNT = 50
PASSWORD_QUESTION = "как сбросить пароль?"
PASSWORD_ARTICLE = "Инструкция по смене пароля"
LOGS_QUESTION = "Как получить доступ к логам?"
LOGS_ARTICLE = "Инструкция по получению логов"


def parity_sentences() -> list[str]:
    """Punctuation, digits, ё, emoji, tabs, trailing spaces: tests/data/e5_parity/sentences.json."""
    return list(json.loads(PARITY_FILE.read_text(encoding="utf-8")))
