"""The README's word-table cache of the ONNX encoder: the rows a text needs are read from the file
(`os.pread`), up to 20,000 are kept, and the cache starts afresh when full."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.encoders.onnx_encoder import WordTable

ROWS = 20_001


@pytest.fixture
def table(tmp_path: Path) -> Path:
    """A word table of 20,001 one-wide rows: row n holds n."""
    file = tmp_path / "model.onnx.words"
    np.arange(ROWS, dtype="<f4").tofile(file)
    return file


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The offset of every read of the table's file."""
    offsets: list[int] = []
    read = os.pread

    def counted(fd: int, length: int, offset: int) -> bytes:
        offsets.append(offset)
        return read(fd, length, offset)

    monkeypatch.setattr(os, "pread", counted)
    return offsets


def test_20000_rows_are_kept_and_the_next_one_starts_the_cache_afresh(
    table: Path, reads: list[int]
) -> None:
    words = WordTable(table, 1)
    first = np.arange(20_000)
    assert words.lookup(first)[:, 0].tolist() == first.tolist()
    assert len(reads) == 20_000
    # All 20,000 kept: looked up again, none is read from the file.
    assert words.lookup(first)[:, 0].tolist() == first.tolist()
    assert len(reads) == 20_000
    # The 20,001st row fills the cache past its size: it starts afresh with that row alone.
    assert words.lookup(np.asarray([20_000]))[:, 0].tolist() == [20_000.0]
    assert words.lookup(np.asarray([20_000, 0, 1]))[:, 0].tolist() == [20_000.0, 0.0, 1.0]
    assert reads[20_000:] == [20_000 * 4, 0, 4]
