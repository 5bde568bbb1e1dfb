"""The paper's differentiable training surrogate of the codec (PyTorch).

quantization -> additive noise of variance delta^2/12; modulo -> the smooth fold M(x, alpha) shifted onto
[0, alpha) so it matches (k mod J)*delta at test time; argmin over cosets -> a softmax-weighted index.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def smooth_mod(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The paper's M(x, alpha) = (alpha/pi) atan(tan(pi (x/alpha - 1/2))), shifted by alpha/2.

    M itself lies in (-alpha/2, alpha/2); adding alpha/2 gives x mod alpha in [0, alpha), the test-time
    (k mod J)*delta when x = k*delta and alpha = J*delta.
    """
    return alpha / math.pi * torch.atan(torch.tan(math.pi * (x / alpha - 0.5))) + alpha / 2


def causal_fir(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """out[:, n] = sum_i taps[i] x[:, n-i] with zero history; x shape (B, N) -> (B, N)."""
    m = taps.shape[0]
    if m == 0:
        return torch.zeros_like(x)
    return F.conv1d(F.pad(x, (m - 1, 0)).unsqueeze(1), taps.flip(0).view(1, 1, m)).squeeze(1)


class Surrogate(torch.nn.Module):
    """Trainable codec: parameters a, b, c (and optionally e) taps and log(alpha), alpha = J*delta.

    noise: "uniform" or "gaussian" (variance delta^2/12) for training; "hard" applies the real quantizer,
    which with a large beta makes forward() equal the hard codec (a test of the surrogate).
    """

    def __init__(self, rate_bits: int, taps: int, alpha0: float, b0: np.ndarray | None = None,
                 e_taps: int = 0, k_range: int = 7, beta: float = 20.0, noise: str = "uniform"):
        super().__init__()
        self.levels = 1 << rate_bits
        delta0 = np.zeros(taps)
        delta0[0] = 1.0
        self.a = torch.nn.Parameter(torch.tensor(delta0))
        self.b = torch.nn.Parameter(torch.tensor(delta0 if b0 is None else np.asarray(b0, dtype=float)))
        self.c = torch.nn.Parameter(torch.tensor(delta0))
        self.e = torch.nn.Parameter(torch.zeros(e_taps, dtype=torch.float64))
        self.log_alpha = torch.nn.Parameter(torch.tensor(math.log(alpha0), dtype=torch.float64))
        half = math.ceil(k_range / 2)
        self.register_buffer("ks", torch.arange(-half, half + 1, dtype=torch.float64))
        self.beta = beta
        self.noise = noise

    @property
    def delta(self) -> float:
        return float(torch.exp(self.log_alpha.detach())) / self.levels

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y: (B, N) normalized -> surrogate reconstruction (B, N)."""
        alpha = torch.exp(self.log_alpha)
        delta = alpha / self.levels
        u = causal_fir(x, self.a)
        if self.noise == "gaussian":
            u = u + torch.randn_like(u) * delta / math.sqrt(12)
        elif self.noise == "hard":  # the real quantizer (no gradient through it): for checking the surrogate
            u = torch.floor(u / delta + 0.5) * delta
        else:
            u = u + (torch.rand_like(u) - 0.5) * delta
        u_mod = smooth_mod(u, alpha)
        v = causal_fir(y, self.b)
        d = (u_mod.unsqueeze(-1) + self.ks * alpha - v.unsqueeze(-1)) ** 2
        l_hat = (torch.softmax(-self.beta * d, dim=-1) * self.ks).sum(-1)
        u_hat = u_mod + l_hat * alpha
        return causal_fir(u_hat, self.c) + causal_fir(y, self.e)
