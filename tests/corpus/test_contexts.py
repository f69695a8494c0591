"""Corpus readers and deterministic contexts."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurepedia.corpus import ContextSpec, CorpusError, iter_contexts, iter_documents

DOCS = ["First document about Paris.", "Second one, with 42 numbers.", "Third: naïve café 日本."]


@pytest.fixture
def corpus_files(tmp_path):
    txt = tmp_path / "c.txt"
    txt.write_text("\n\n".join(DOCS) + "\n")
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": d, "id": i}) for i, d in enumerate(DOCS)))
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": DOCS}), parquet)
    return {"txt": txt, "jsonl": jsonl, "parquet": parquet}


@pytest.mark.parametrize("kind", ["txt", "jsonl", "parquet"])
def test_readers_give_the_documents(corpus_files, kind):
    assert list(iter_documents(str(corpus_files[kind]))) == DOCS


def test_default_corpus_is_real_varied_text():
    docs = list(iter_documents("default"))
    assert len(docs) > 10_000
    assert sum(map(len, docs)) > 5_000_000
    text = " ".join(docs[:3000])
    assert "the" in text and "é" in " ".join(docs)


def test_contexts_have_bos_and_fixed_length(tiny_llama, corpus_files):
    spec = ContextSpec(corpus="default", ctx_len=32, seed=0)
    contexts = list(iter_contexts(tiny_llama.tokenizer, spec, n_contexts=50))
    assert len(contexts) == 50
    assert all(len(c) == 32 and c[0] == tiny_llama.bos_token_id for c in contexts)
    assert all(tiny_llama.bos_token_id not in c[1:] for c in contexts)


def test_contexts_are_deterministic_per_seed(tiny_llama):
    a = list(iter_contexts(tiny_llama.tokenizer, ContextSpec(seed=1), n_contexts=20))
    b = list(iter_contexts(tiny_llama.tokenizer, ContextSpec(seed=1), n_contexts=20))
    c = list(iter_contexts(tiny_llama.tokenizer, ContextSpec(seed=2), n_contexts=20))
    assert a == b and a != c


def test_without_bos(tiny_llama):
    spec = ContextSpec(prepend_bos=False, ctx_len=16)
    contexts = list(iter_contexts(tiny_llama.tokenizer, spec, n_contexts=5))
    assert all(len(c) == 16 for c in contexts)
    assert contexts[0][0] != tiny_llama.bos_token_id


def test_empty_and_bad_corpora(tmp_path, tiny_llama):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n   \n")
    with pytest.raises(CorpusError, match="holds no text"):
        list(iter_contexts(tiny_llama.tokenizer, ContextSpec(corpus=str(empty)), 10))
    with pytest.raises(CorpusError, match="is not a file"):
        list(iter_documents(str(tmp_path / "missing.txt")))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"body": "no text field"}\n')
    with pytest.raises(CorpusError, match=r"bad.jsonl:2 has no string field 'text'"):
        list(iter_documents(str(bad)))
    odd = tmp_path / "x.csv"
    odd.write_text("a,b")
    with pytest.raises(CorpusError, match="unknown extension"):
        list(iter_documents(str(odd)))


def test_hugging_face_dataset_offline_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CorpusError, match="could not open Hugging Face dataset 'no-such/dataset'.*Offline"):
        list(iter_documents("hf:no-such/dataset"))
