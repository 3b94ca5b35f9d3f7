"""Write tests/fixtures/gpt_parity.npz: a tiny GPT in PyTorch, its weights, a batch, and
PyTorch's logits, loss and every parameter gradient.

Run from the repository root with PyTorch's CPU build installed (`nox -s fixtures`):
    python stage05_gpt/scripts/make_fixtures.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from torch_gpt import TorchGPT, TorchGPTConfig  # noqa: E402

CONFIG = dict(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True)


def main() -> None:
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
    path = ROOT / "stage05_gpt" / "tests" / "fixtures" / "gpt_parity.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
