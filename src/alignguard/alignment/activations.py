"""Input-activation subspaces of the adapted modules on the alignment prompts (at ``W0``).

For each adapted module with input ``x`` (``d_in``), the uncentred input covariance over the
non-pad tokens of the alignment rows (prompt and aligned reply)::

    S_in = sum_t x_t x_t^T           (the K-FAC input factor, without the backward pass)

is eigendecomposed, ``S_in = Q diag(lambda) Q^T`` (descending), and the smallest ``k`` leading
eigenvectors whose eigenvalue mass ``sum_{i<=k} lambda_i / sum_i lambda_i`` reaches ``energy``
are kept: ``U`` (``d_in x k``). This is the representation basis of GPM (Saha et al., arXiv
2103.09762, eq. 5 with the energy criterion ``epsilon_th``); SaLoRA (arXiv 2501.01765) and
GuardSpace (arXiv 2510.14301) keep LoRA updates out of the same kind of safety-relevant
input subspace. Only ``U`` is kept (``S_in`` is discarded).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from alignguard.data import Example, encoded_batches

log = logging.getLogger(__name__)


def energy_basis(S: torch.Tensor, energy: float) -> torch.Tensor:
    """Leading eigenvectors of the PSD ``S`` holding at least ``energy`` of its trace.

    Returns ``d x k`` (``k = 0`` columns when ``S = 0``).
    """
    evals, evecs = torch.linalg.eigh(S.double())
    evals, evecs = evals.flip(0).clamp_min(0), evecs.flip(1)
    total = float(evals.sum())
    if total <= 0:
        return evecs[:, :0].float()
    mass = torch.cumsum(evals, 0) / total
    k = int((mass < energy - 1e-12).sum()) + 1
    return evecs[:, : min(k, evals.numel())].float().contiguous()


@torch.no_grad()
def input_covariances(model: torch.nn.Module, batches: Sequence[dict[str, torch.Tensor]],
                      names: Sequence[str]) -> dict[str, torch.Tensor]:
    """``S_in = sum_t x_t x_t^T`` (float64) over non-pad tokens for each named module.

    Forward passes only, in eval mode (restored afterwards); hooks on the modules' inputs.
    """
    from alignguard.targets import base_model_of

    mods = dict(base_model_of(model).named_modules())
    device = next(model.parameters()).device
    sums: dict[str, torch.Tensor] = {}
    mask: list[torch.Tensor] = []

    def hook_for(name: str):
        def hook(_m, args):
            x = args[0].detach().reshape(-1, args[0].shape[-1])[mask[0]].double()
            sums[name] = sums.get(name, 0) + x.T @ x
        return hook

    handles = [getattr(mods[n], "base_layer", mods[n]).register_forward_pre_hook(hook_for(n))
               for n in names]
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            mask[:] = [batch["attention_mask"].to(device).reshape(-1).bool()]
            model(input_ids=batch["input_ids"].to(device),
                  attention_mask=batch["attention_mask"].to(device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return sums


def activation_bases(model: torch.nn.Module, rows: Sequence[Example], tokenizer,
                     names: Sequence[str], *, energy: float, batch_size: int,
                     max_length: int) -> dict[str, torch.Tensor]:
    """Module name -> ``U`` (``d_in x k``, float32, CPU): the ``energy`` input subspace.

    Raises:
        ValueError: no alignment rows.
    """
    if not rows:
        raise ValueError("the alignment data set is empty; the activation subspace needs rows")
    batches = encoded_batches(tokenizer, rows, batch_size=batch_size, max_length=max_length,
                              loss_on="all")
    sums = input_covariances(model, batches, names)
    bases = {n: energy_basis(sums[n].cpu(), energy) for n in names}
    log.info("activation subspaces (energy %.3g) of %d modules: %d-%d of their input dimensions",
             energy, len(bases), min(b.shape[1] for b in bases.values()),
             max(b.shape[1] for b in bases.values()))
    return bases
