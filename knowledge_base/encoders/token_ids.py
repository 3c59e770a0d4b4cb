"""Text to token ids for the ONNX encoder, with the least memory that gives the model's ids.

multilingual-e5's tokenizer is a 250,000-piece SentencePiece Unigram model. Loaded by Hugging
Face `tokenizers` from `tokenizer.json` it takes about 270 MB of memory; the same pieces as a
SentencePiece model take about 55 MB. So the ONNX export writes them as one (`build_sentencepiece`)
when the tokenizer is exactly that kind (Unigram pieces, a precompiled normalisation map,
Metaspace word boundaries, `<s> … </s>` around the text) and the ids it gives match; any other
tokenizer (say the WordPiece of all-MiniLM) is served by `tokenizers` as before.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol


class TokenIds(Protocol):
    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids, special tokens included, at most `max_length` of them."""
        ...


class HuggingFaceIds:
    """`tokenizers`, as configured by the model's tokenizer.json."""

    def __init__(self, tokenizer_json: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]


class SentencePieceIds:
    """A SentencePiece model written by `build_sentencepiece`, giving the ids tokenizer.json
    gives: `<s>`, the pieces, `</s>`; truncated to `max_length` as `tokenizers` truncates."""

    def __init__(self, model_file: Path, max_length: int) -> None:
        import sentencepiece

        self._processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        self._bos, self._eos = self._processor.bos_id(), self._processor.eos_id()
        self._room = max(max_length - 2, 0)
        # tokenizers keeps one word boundary for a text that ends in a space once normalised
        # (a zero-width space, a tab…); SentencePiece drops it. The same normalisation map,
        # with nothing else, tells which texts those are.
        self._space = self._processor.piece_to_id("▁")
        self._normalizer = _normalizer_of(model_file)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        found = []
        for text, pieces in zip(texts, self._processor.encode(list(texts)), strict=True):
            if text and not text[-1].isalnum() and self._normalizer.normalize(text).endswith(" "):
                pieces.append(self._space)
            found.append([self._bos, *pieces[: self._room], self._eos])
        return found


def _normalizer_of(model_file: Path) -> Any:
    """The model's normalisation map alone (no pieces: 14 MB instead of 28), with no
    whitespace handling of its own."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2 as sp_model

    model = sp_model.ModelProto()
    model.ParseFromString(model_file.read_bytes())
    rules = sp_model.ModelProto()
    rules.normalizer_spec.CopyFrom(model.normalizer_spec)
    return sentencepiece.SentencePieceNormalizer(
        model_proto=rules.SerializeToString(),
        add_dummy_prefix=False,
        escape_whitespaces=False,
        remove_extra_whitespaces=False,
    )


def build_sentencepiece(tokenizer_json: Path, target: Path) -> bool:
    """Write tokenizer.json's Unigram model as a SentencePiece model at `target`. False,
    writing nothing, for any tokenizer that is not of that kind."""
    from sentencepiece import sentencepiece_model_pb2 as sp_model

    config: dict[str, Any] = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    model = config.get("model") or {}
    normalizers = (config.get("normalizer") or {}).get("normalizers") or []
    kinds = [n.get("type") for n in normalizers]
    collapse = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
    pre = config.get("pre_tokenizer") or {}
    template = (config.get("post_processor") or {}).get("single") or []
    if (
        model.get("type") != "Unigram"
        or model.get("byte_fallback")
        or kinds != ["Precompiled", "Replace"]
        or normalizers[1] != collapse
        or pre.get("type") != "Metaspace"
        or pre.get("replacement") != "▁"
        or pre.get("prepend_scheme", "always") not in ("first", "always")
        or len(template) != 3
        or "Sequence" not in template[1]
    ):
        return False
    special = {t["content"]: t["id"] for t in config.get("added_tokens", [])}
    bos, eos = (special.get(template[i].get("SpecialToken", {}).get("id")) for i in (0, 2))
    if bos is None or eos is None:
        return False
    proto = sp_model.ModelProto()
    proto.trainer_spec.model_type = sp_model.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(model["vocab"])
    proto.trainer_spec.unk_id = int(model["unk_id"])
    proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = bos, eos
    proto.trainer_spec.pad_id = -1
    spec = proto.normalizer_spec
    spec.name = "tokenizer.json"
    spec.precompiled_charsmap = base64.b64decode(normalizers[0]["precompiled_charsmap"])
    spec.add_dummy_prefix = True
    # What Replace(" {2,}", " ") does, and leading and trailing whitespace dropped (the one
    # trailing word boundary tokenizers keeps is added back by SentencePieceIds). A tokenizer
    # without that Replace step is left to tokenizers.
    spec.remove_extra_whitespaces = True
    spec.escape_whitespaces = True
    piece_type = sp_model.ModelProto.SentencePiece
    special_ids = set(special.values())
    for number, (text, score) in enumerate(model["vocab"]):
        piece = proto.pieces.add()
        piece.piece, piece.score = text, float(score)
        if number == model["unk_id"]:
            piece.type = piece_type.UNKNOWN
        elif number in (bos, eos):
            piece.type = piece_type.CONTROL
        elif number in special_ids:  # <pad>, <mask>: matched in the text, as tokenizers does
            piece.type = piece_type.USER_DEFINED
        else:
            piece.type = piece_type.NORMAL
    target.write_bytes(proto.SerializeToString())
    return True
