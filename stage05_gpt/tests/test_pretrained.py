"""GPT-2 from and to Hugging Face's layout: a tiny random GPT-2 saved by transformers (tests/fixtures,
made by scripts/make_fixtures.py) must give transformers' logits and greedy tokens; what we write must
be what transformers writes; names on the hub go through huggingface_hub, stubbed here (no network)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import numpygpt.nn as nn
from numpygpt.models import GPT, GPTConfig
from numpygpt.models import pretrained as P
from numpygpt.tokenizer import BPETokenizer, CharTokenizer, GPT2Tokenizer

safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="the stage's [hub] extra is not installed")

pytestmark = pytest.mark.pretrained

FOLDER = Path(__file__).parent / "fixtures" / "hf_gpt2_tiny"
EXPECTED = np.load(Path(__file__).parent / "fixtures" / "hf_gpt2_tiny.npz")


def hf_arrays(folder: Path = FOLDER) -> dict[str, np.ndarray]:
    return safetensors_numpy.load_file(str(folder / "model.safetensors"))


def max_relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


# ----- transformers' numbers ---------------------------------------------------------------------------


def test_logits_equal_transformers() -> None:
    model = GPT.from_pretrained(FOLDER)
    assert not model.training, "from_pretrained returns the model in eval mode, as transformers does"
    assert model.config == GPTConfig(block_size=16, vocab_size=264, n_layer=2, n_head=4, n_embd=32)
    logits, _ = model(EXPECTED["idx"])
    assert max_relative_error(logits.data, EXPECTED["logits"]) < 1e-5


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_continuation_equals_transformers(use_cache: bool) -> None:
    model = GPT.from_pretrained(FOLDER)
    out = model.generate(EXPECTED["prompt"], max_new_tokens=11, temperature=0, use_cache=use_cache)
    np.testing.assert_array_equal(out, EXPECTED["greedy"])


def test_conv1d_weights_are_transposed_and_the_head_tied() -> None:
    model, hf = GPT.from_pretrained(FOLDER), hf_arrays()
    sd = model.state_dict()
    for name in (
        "transformer.h.0.attn.c_attn.weight",
        "transformer.h.1.mlp.c_fc.weight",
        "transformer.h.0.attn.c_proj.weight",
    ):
        np.testing.assert_array_equal(
            sd[name], hf[name].T, err_msg=f"{name}: Conv1D stores (in, out), Linear (out, in)"
        )
    assert "lm_head.weight" not in hf
    assert model.lm_head.weight is model.transformer.wte.weight


# ----- what we write is what transformers writes ---------------------------------------------------


def test_save_pretrained_writes_transformers_layout(tmp_path: Path) -> None:
    files = GPT.from_pretrained(FOLDER).save_pretrained(tmp_path)
    assert sorted(f.name for f in files) == ["config.json", "model.safetensors"]
    ours, theirs = hf_arrays(tmp_path), hf_arrays()
    assert list(ours) == list(theirs) or sorted(ours) == sorted(theirs)
    for name, array in theirs.items():
        assert ours[name].dtype == array.dtype and ours[name].shape == array.shape, name
        np.testing.assert_array_equal(ours[name], array, err_msg=name)
    ours_config = json.loads((tmp_path / "config.json").read_text())
    theirs_config = json.loads((FOLDER / "config.json").read_text())
    assert set(ours_config) <= set(theirs_config), set(ours_config) - set(theirs_config)
    assert {k: theirs_config[k] for k in ours_config} == ours_config
    # The fixture script loaded save_pretrained's output in transformers: same logits.
    assert float(EXPECTED["export_max_relative_error"]) < 1e-6


def test_save_then_load_is_the_same_model_with_its_tokenizer(tmp_path: Path) -> None:
    nn.manual_seed(3)
    model = GPT(GPTConfig(block_size=8, vocab_size=264, n_layer=1, n_head=2, n_embd=16, gelu="none", dropout=0.1))
    tokenizer = BPETokenizer.train("the cat sat on the mat, and the rat sat on the hat", 264)
    files = model.save_pretrained(tmp_path, tokenizer=tokenizer)
    assert {f.name for f in files} == {
        "config.json",
        "model.safetensors",
        "vocab.json",
        "merges.txt",
        "tokenizer_config.json",
    }
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["activation_function"] == "gelu" and config["resid_pdrop"] == 0.1
    back = GPT.from_pretrained(tmp_path, dropout=0.1)
    assert back.config == model.config
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], array, err_msg=name)
    text = "the rat sat"
    assert P.tokenizer_from_pretrained(tmp_path).encode(text) == tokenizer.encode(text)


def test_openai_style_checkpoint_without_prefix_with_mask_buffers_and_head(tmp_path: Path) -> None:
    # The hub's "gpt2" is a GPT2Model file: no "transformer." prefix, and older ones carry attn.bias.
    arrays = {name.removeprefix("transformer."): a for name, a in hf_arrays().items()}
    for i in range(2):
        arrays[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 16, 16), dtype=np.float32))
        arrays[f"h.{i}.attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    arrays["lm_head.weight"] = arrays["wte.weight"]
    shutil.copy(FOLDER / "config.json", tmp_path)
    safetensors_numpy.save_file(arrays, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    logits, _ = GPT.from_pretrained(tmp_path)(EXPECTED["idx"])
    assert max_relative_error(logits.data, EXPECTED["logits"]) < 1e-5


# ----- mistakes ------------------------------------------------------------------------------------------


def folder_with(tmp_path: Path, config_changes: dict[str, Any] | None = None, arrays: dict | None = None) -> Path:
    config = json.loads((FOLDER / "config.json").read_text())
    config.update(config_changes or {})
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in config.items() if v != "DELETE"}))
    safetensors_numpy.save_file(arrays or hf_arrays(), str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    return tmp_path


@pytest.mark.parametrize(
    "change, match",
    [
        ({"model_type": "llama"}, "describes a 'llama' model, not 'gpt2'"),
        ({"activation_function": "relu"}, "activation_function='relu'; expected one of"),
        ({"layer_norm_epsilon": 1e-6}, "layer_norm_epsilon=1e-06; this GPT supports only 1e-05"),
        ({"n_inner": 100}, "n_inner=100; this GPT's MLP is 4 \\* n_embd wide"),
        ({"tie_word_embeddings": False}, "tie_word_embeddings=False"),
        ({"n_embd": "DELETE"}, "config.json lacks \\['n_embd'\\]"),
        ({"n_layer": 3}, "does not fit its config.json: .*missing keys: transformer.h.2"),
    ],
)
def test_unsupported_or_inconsistent_configs_are_clear_errors(tmp_path: Path, change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GPT.from_pretrained(folder_with(tmp_path, change))


def test_an_untied_head_is_refused(tmp_path: Path) -> None:
    arrays = hf_arrays()
    arrays["lm_head.weight"] = arrays["transformer.wte.weight"] + 1
    with pytest.raises(ValueError, match="lm_head.weight that differs from transformer.wte.weight"):
        GPT.from_pretrained(folder_with(tmp_path, arrays=arrays))


def test_missing_files_and_unknown_names_are_clear_errors(tmp_path: Path) -> None:
    shutil.copy(FOLDER / "config.json", tmp_path)
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        GPT.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'gpt5' is neither a folder nor a known name \\(gpt2, gpt2-medium"):
        GPT.from_pretrained("gpt5")


def test_save_pretrained_refuses_what_gpt2_cannot_hold(tmp_path: Path) -> None:
    nn.manual_seed(0)
    no_bias = GPT(GPTConfig(block_size=8, vocab_size=300, n_layer=1, n_head=2, n_embd=16, bias=False))
    with pytest.raises(ValueError, match="GPT-2's layout has no place for bias=False"):
        no_bias.save_pretrained(tmp_path)
    model = GPT(GPTConfig(block_size=8, vocab_size=65, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(TypeError, match="byte-level BPE tokenizers only .* got CharTokenizer"):
        model.save_pretrained(tmp_path, tokenizer=CharTokenizer("abc"))
    with pytest.raises(ValueError, match="the tokenizer has 256 tokens, the model's vocab_size is 65"):
        model.save_pretrained(tmp_path, tokenizer=BPETokenizer())
    assert not (tmp_path / "model.safetensors").exists()


def test_without_the_extra_the_error_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r"pip install 'numpygpt-stage05-gpt\[hub\]'"):
        GPT.from_pretrained(FOLDER)


# ----- the hub, through a stub of huggingface_hub --------------------------------------------------------


class StubHub:
    """hf_hub_download as huggingface_hub does it, offline: files of `source` copied into a cache laid
    out like the hub's (a large file stored as blobs/<its sha256>, a small one under a git hash, each
    linked from snapshots/<revision>/)."""

    def __init__(self, cache: Path, source: Path) -> None:
        self.cache, self.source, self.calls = cache, source, []
        self.fail: Exception | None = None
        self.damage = False

    def hf_hub_download(self, repo_id: str, filename: str, **kwargs: Any) -> str:
        self.calls.append((repo_id, filename))
        if self.fail is not None:
            raise self.fail
        data = (self.source / filename).read_bytes()
        large = filename.endswith(".safetensors")
        name = hashlib.sha256(data).hexdigest() if large else hashlib.sha1(data).hexdigest()
        repo = self.cache / ("models--" + repo_id.replace("/", "--"))
        blob = repo / "blobs" / name
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data[:-1] + b"\0" if self.damage and large else data)
        link = repo / "snapshots" / ("0" * 40) / filename
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(blob)
        return str(link)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StubHub:
    source = tmp_path / "source"
    shutil.copytree(FOLDER, source)
    BPETokenizer.train("the cat sat on the mat, and the rat sat on the hat", 264).save_pretrained(source)
    stub = StubHub(tmp_path / "cache", source)
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=stub.hf_hub_download))
    return stub


def test_a_name_is_downloaded_from_the_hub_and_verified(hub: StubHub) -> None:
    model = GPT.from_pretrained("gpt2")
    assert hub.calls == [("openai-community/gpt2", "config.json"), ("openai-community/gpt2", "model.safetensors")]
    logits, _ = model(EXPECTED["idx"])
    assert max_relative_error(logits.data, EXPECTED["logits"]) < 1e-5
    tokenizer = P.tokenizer_from_pretrained("gpt2-xl")
    assert isinstance(tokenizer, GPT2Tokenizer) and hub.calls[-1] == ("openai-community/gpt2-xl", "merges.txt")


def test_a_damaged_download_is_caught_by_its_checksum(hub: StubHub) -> None:
    hub.damage = True
    with pytest.raises(ValueError, match="model.safetensors is damaged: its SHA-256 is .*; delete .* and load again"):
        GPT.from_pretrained("gpt2-medium")


def test_offline_the_error_names_the_folder_alternative(hub: StubHub) -> None:
    hub.fail = OSError("We couldn't connect to 'https://huggingface.co'")
    with pytest.raises(
        ConnectionError,
        match=r"could not get config.json of 'gpt2-large' .*GPT.from_pretrained\('path/to/gpt2-large'\), or --init_from path/to/gpt2-large",
    ):
        GPT.from_pretrained("gpt2-large")
