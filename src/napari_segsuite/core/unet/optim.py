"""A plain Adam optimizer (Kingma & Ba 2015) written with tensor operations.

``torch.optim`` imports ``torch._dynamo`` on the first step, which imports triton when it is installed;
inside a napari session running on Mesa's llvmpipe OpenGL that import crashed the process (two LLVM
copies). This optimizer needs neither, and its state is plain tensors (checkpoint-safe).
"""

from __future__ import annotations

import torch

__all__ = ["Adam"]


class Adam:
    """Adam with bias correction: ``p -= lr * m_hat / (sqrt(v_hat) + eps)``.

    Parameters
    ----------
    params : iterable of torch.nn.Parameter
    lr : float
    betas : tuple of float
    eps : float

    References
    ----------
    .. [1] D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = float(lr), tuple(betas), float(eps)
        self.step_count = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        b1, b2 = self.betas
        c1 = 1 - b1 ** self.step_count
        c2 = 1 - b2 ** self.step_count
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            if p.grad is None:
                continue
            g = p.grad
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v / c2).sqrt_().add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / c1)

    def state_dict(self) -> dict:
        return {"step": self.step_count, "lr": self.lr, "betas": list(self.betas), "eps": self.eps,
                "exp_avg": [t.detach().cpu() for t in self.exp_avg],
                "exp_avg_sq": [t.detach().cpu() for t in self.exp_avg_sq]}

    def load_state_dict(self, state: dict) -> None:
        if len(state["exp_avg"]) != len(self.params):
            raise ValueError("the optimizer state does not match the model.")
        self.step_count = int(state["step"])
        dev = self.params[0].device if self.params else "cpu"
        self.exp_avg = [t.to(dev).clone() for t in state["exp_avg"]]
        self.exp_avg_sq = [t.to(dev).clone() for t in state["exp_avg_sq"]]
