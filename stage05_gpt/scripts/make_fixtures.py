"""Write the fixtures the stage05 tests compare against, with PyTorch's CPU build and transformers:

tests/fixtures/gpt_parity.npz    a tiny GPT in PyTorch (bench/torch_gpt.py): its weights, a batch,
                                 and PyTorch's logits, loss and every parameter gradient.
tests/fixtures/hf_gpt2_tiny/     a tiny random GPT-2 saved by transformers (config.json +
                                 model.safetensors), the layout GPT.from_pretrained reads;
tests/fixtures/hf_gpt2_tiny.npz  transformers' logits for a batch and its greedy continuation of a
                                 prompt, and the result of loading numpygpt's save_pretrained
                                 output back in transformers (checked here: tests have no transformers).

Run from the repository root (`nox -s fixtures` installs what it needs):
    python stage05_gpt/scripts/make_fixtures.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from torch_gpt import TorchGPT, TorchGPTConfig  # noqa: E402

CONFIG = dict(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True)


HF_CONFIG = dict(vocab_size=264, n_positions=16, n_embd=32, n_layer=2, n_head=4)
FIXTURES = ROOT / "stage05_gpt" / "tests" / "fixtures"


def make_hf_fixture() -> None:
    """A tiny random GPT-2 in Hugging Face's layout, and what transformers computes with it."""
    import transformers

    from numpygpt.models import GPT
    from numpygpt.tokenizer import BPETokenizer

    config = transformers.GPT2Config(
        **HF_CONFIG, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None, eos_token_id=None
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # non-zero biases and LayerNorm parameters, so that they count
        for name, p in model.named_parameters():
            if name.endswith(".bias") or ".ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    folder = FIXTURES / "hf_gpt2_tiny"
    model.save_pretrained(folder)
    assert sorted(f.name for f in folder.iterdir()) == ["config.json", "generation_config.json", "model.safetensors"]
    (folder / "generation_config.json").unlink()  # not part of the layout we read

    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, config.vocab_size, (3, config.n_positions), generator=g)
    prompt = torch.randint(0, config.vocab_size, (2, 5), generator=g)
    with torch.no_grad():
        logits = model(idx).logits
        greedy = model.generate(
            prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=11, pad_token_id=0
        )
    assert greedy.shape == (2, 16)

    # numpygpt reads the folder and writes it back; transformers must load that with the same logits.
    ours = GPT.from_pretrained(folder)
    tokenizer = BPETokenizer.train("the cat sat on the mat, and the rat sat on the hat", config.vocab_size)
    assert tokenizer.vocab_size == config.vocab_size, tokenizer.vocab_size
    with tempfile.TemporaryDirectory() as exported:
        ours.save_pretrained(exported, tokenizer=tokenizer)
        back = transformers.GPT2LMHeadModel.from_pretrained(exported).eval()
        hf_tokenizer = transformers.AutoTokenizer.from_pretrained(exported)
        assert len(hf_tokenizer) == tokenizer.vocab_size, len(hf_tokenizer)
        assert hf_tokenizer("tiny token")["input_ids"] == tokenizer.encode("tiny token")
        with torch.no_grad():
            back_logits = back(idx).logits
    export_error = float(((back_logits - logits).abs().max() / logits.abs().max()).item())
    assert export_error < 1e-6, export_error
    np.savez_compressed(
        FIXTURES / "hf_gpt2_tiny.npz",
        idx=idx.numpy().astype(np.int64),
        logits=logits.numpy(),
        prompt=prompt.numpy().astype(np.int64),
        greedy=greedy.numpy().astype(np.int64),
        export_max_relative_error=np.float64(export_error),
        made_by=np.array(f"transformers {transformers.__version__}, torch {torch.__version__}"),
    )
    size = sum(f.stat().st_size for f in folder.iterdir()) / 1024
    print(f"wrote {folder} ({size:.0f} KB); save_pretrained loads in transformers (max rel. error {export_error:.1e})")


def main() -> None:
    make_hf_fixture()
    out = {}
    for gelu in ("tanh", "none"):
        torch.manual_seed(0)
        model = TorchGPT(TorchGPTConfig(**CONFIG, gelu=gelu))
        # Non-zero biases and LayerNorm parameters, so their gradients are tested with weight.
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith(".bias") or ".ln_" in name:
                    p.add_(0.1 * torch.randn_like(p))
        g = torch.Generator().manual_seed(1)
        idx = torch.randint(0, CONFIG["vocab_size"], (3, CONFIG["block_size"]), generator=g)
        targets = torch.randint(0, CONFIG["vocab_size"], (3, CONFIG["block_size"]), generator=g)
        logits, loss = model(idx, targets)
        loss.backward()
        pre = f"{gelu}/"
        for name, t in model.state_dict().items():
            out[pre + "param/" + name] = t.numpy().astype(np.float32)
        for name, p in model.named_parameters():
            out[pre + "grad/" + name] = p.grad.numpy().astype(np.float32)
        out[pre + "idx"] = idx.numpy().astype(np.int64)
        out[pre + "targets"] = targets.numpy().astype(np.int64)
        out[pre + "logits"] = logits.detach().numpy()
        out[pre + "loss"] = np.float32(loss.item())
    for k, v in CONFIG.items():
        out["config/" + k] = np.asarray(v)
    path = FIXTURES / "gpt_parity.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
