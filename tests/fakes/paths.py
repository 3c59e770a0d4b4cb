"""Where the tests find things: the repository, its models folder, the sample base and its
questions, and the test data."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "models"
SAMPLE_BASE = REPO / "knowledge_base" / "samples" / "helpdesk.jsonl"
SAMPLE_EVAL = REPO / "knowledge_base" / "samples" / "helpdesk_eval.jsonl"
# Hard cases for the e5 encoders and the reference the converted model must reproduce.
E5_PARITY_DIR = REPO / "tests" / "data" / "e5_parity"
PARITY_FILE = E5_PARITY_DIR / "sentences.json"
