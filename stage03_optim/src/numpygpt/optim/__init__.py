"""numpygpt.optim — stage 03: how parameters learn.

    from numpygpt.optim import AdamW, clip_grad_norm_, configure_weight_decay
    from numpygpt.optim.lr_scheduler import WarmupCosineLR

    optimizer = AdamW(configure_weight_decay(model.named_parameters(), 0.1), lr=6e-4)
    scheduler = WarmupCosineLR(optimizer, warmup_iters=100, max_iters=2000, min_lr=6e-5)
    for it in range(2000):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()

PyTorch's names, signatures, defaults and update formulas (torch.optim, torch.nn.utils), so a
run matches PyTorch's step for step.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grads_with_norm_, get_total_norm
from .optimizer import Optimizer
from .param_groups import configure_weight_decay
from .sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "clip_grad_norm_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "configure_weight_decay",
    "lr_scheduler",
]
