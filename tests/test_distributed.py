"""Two CPU processes (gloo, torchrun) reproduce a single-process run on the same global batch.

The worker (``python -m alignguard.training.worker``) collects the K-FAC factors with each rank on
rows ``[rank::2]`` of every batch (all-reduced), then trains 3 AGL steps (every regularizer
weighted) through the one loop, :func:`alignguard.training.loop.train` (which estimates its own
alignment Fisher the same way): with DDP, and with ``distributed: fsdp2`` (``fully_shard`` per
decoder layer + root as a wrapping step of the same loop), where the LoRA factors are DTensor
shards that the regularizers gather. Both use micro-batches of 4 with 2 accumulation steps (2 rows per rank per
micro-batch); the reference is one process with micro-batches of 8: the same 8 rows per step.

Tolerance: float32 everywhere, so the runs differ only by summation order. Factors: relative
error <= 1e-5 of the largest entry; token counts equal; losses: relative 1e-5; LoRA weights
after 3 AdamW steps (lr 1e-2, weights ~0.2): absolute 1e-5 (measured ~1.4e-7). The two ranks'
LoRA weights must be bitwise equal (the replicas / gathered shards agree).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from alignguard.alignment.basis import AlignmentBasis
from alignguard.alignment.prepare import estimate_fisher_sharded
from alignguard.data import Example, collate, encode_examples, encoded_batches
from alignguard.parallel import dist_info, shard_batch, whole
from tests.conftest import make_tiny_model, write_jsonl

ROWS = [{"prompt": f"reverse the words {i} please", "response": f"please words the reverse {i}"
         + " ok" * (i % 5)} for i in range(16)]


def _worker_args(model_dir, data, out, batch_size, grad_accum) -> list[str]:
    return ["--model", str(model_dir), "--data", str(data), "--output", str(out), "--steps", "3",
            "--batch-size", str(batch_size), "--grad-accum", str(grad_accum),
            "--fisher-batch-size", "8", "--max-rank", "4", "--lr", "1e-2", "--lora-rank", "4"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_tokenizer):
    """(single-process output, two-process output) folders."""
    from alignguard.training.worker import build_parser, run_worker

    root = tmp_path_factory.mktemp("dist")
    model_dir = root / "model"
    make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).save_pretrained(model_dir)
    tiny_tokenizer.save_pretrained(model_dir)
    data = write_jsonl(root / "data.jsonl", ROWS)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    procs = []
    for name, extra in (("two", []), ("fsdp2", ["--fsdp2"])):  # both launches run concurrently
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               "2", "-m", "alignguard.training.worker",
               *_worker_args(model_dir, data, root / name, 4, 2), *extra]
        log = (root / f"{name}.log").open("w")
        procs.append((subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    run_worker(build_parser().parse_args(_worker_args(model_dir, data, root / "one", 8, 1)))
    for proc, log in procs:
        code = proc.wait(timeout=240)
        log.close()
        assert code == 0, Path(log.name).read_text()[-4000:]
    return root / "one", root / "two", root / "fsdp2"


def _assert_same_training(one, other, world: int = 2) -> None:
    summary = json.loads((other / "worker.json").read_text())
    assert summary["world_size"] == world
    losses_1 = json.loads((one / "worker.json").read_text())["losses"]
    assert len(losses_1) == len(summary["losses"]) == 3
    torch.testing.assert_close(torch.tensor(summary["losses"]), torch.tensor(losses_1),
                               rtol=1e-5, atol=0)
    assert losses_1[-1] < losses_1[0]  # it trained
    w1 = load_file(one / "lora-rank0.safetensors")
    w2, w2b = load_file(other / "lora-rank0.safetensors"), load_file(other / "lora-rank1.safetensors")
    assert w1.keys() == w2.keys() == w2b.keys() and len(w1) == 2 * 14
    assert any(float(v.abs().max()) > 1e-3 for k, v in w1.items() if "lora_B" in k)
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], rtol=0, atol=1e-5)
        assert torch.equal(w2[key], w2b[key]), f"ranks diverged on {key}"


def test_two_processes_match_one_on_fisher_losses_and_lora_weights(runs):
    one, two, _ = runs
    a, b = load_file(one / "factors.safetensors"), load_file(two / "factors.safetensors")
    assert a.keys() == b.keys() and len(a) == 2 * 14
    for key in a:
        assert float((a[key] - b[key]).abs().max()) <= 1e-5 * float(a[key].abs().max()), key
    assert json.loads((one / "factors.json").read_text()) == json.loads((two / "factors.json").read_text())
    _assert_same_training(one, two)


def test_fsdp2_sharded_lora_factors_give_the_same_training(runs):
    """FSDP2 (fully_shard, gloo): LoRA factors are DTensor shards, gathered for the regularizers."""
    one, _, fsdp2 = runs
    assert json.loads((fsdp2 / "worker.json").read_text())["fsdp2"] is True
    _assert_same_training(one, fsdp2)


def test_fsdp2_adapter_is_gathered_whole_and_loads_with_stock_peft(runs):
    """Saving under FSDP2: every rank gathers the DTensor shards, rank 0 writes a plain adapter."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    one, _, fsdp2 = runs
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(one.parent / "model"),
                                      str(fsdp2 / "run" / "adapter"))  # written by the one loop
    loaded = {n: p for n, p in model.named_parameters() if "lora_" in n}
    reference = load_file(one / "lora-rank0.safetensors")
    assert len(loaded) == len(reference) == 2 * 14
    for name, value in reference.items():
        torch.testing.assert_close(loaded[name], value, rtol=0, atol=1e-5)


def test_two_processes_estimate_the_same_alignment_basis(runs):
    one, two, _ = runs
    A, B = AlignmentBasis.load(one / "run" / "fisher"), AlignmentBasis.load(two / "run" / "fisher")
    for key in ("n_tokens", "n_examples", "data_fingerprint", "model_fingerprint"):
        assert A.meta[key] == B.meta[key], key
    assert B.meta["world_size"] == 2
    for name, x in A.modules.items():
        y = B.modules[name]
        assert (x.k_out, x.k_in) == (y.k_out, y.k_in), name
        for qa, qb in ((x.q_out, y.q_out), (x.q_in, y.q_in)):  # projectors: sign-invariant
            torch.testing.assert_close(qb @ qb.T, qa @ qa.T, rtol=0, atol=1e-5)
        torch.testing.assert_close(y.nu, x.nu, rtol=1e-5, atol=1e-6)
    logged = [json.loads(line) for line in (two / "run" / "log.jsonl").read_text().splitlines()]
    # step 1 runs at lr 0 (transformers' warm-up), so B moves, and L_A with it, from step 2
    assert [r["step"] for r in logged] == [1, 2, 3] and logged[-1]["reg/fisher"] > 0


def test_shard_batch_partitions_rows_and_rejects_bad_rank(tiny_tokenizer):
    enc = encode_examples(tiny_tokenizer, [Example(r["prompt"], r["response"]) for r in ROWS[:5]])
    batch = collate(enc, 0)
    parts = [shard_batch(batch, r, 2) for r in range(2)]
    assert [p["input_ids"].shape[0] for p in parts] == [3, 2]
    merged = torch.zeros_like(batch["input_ids"])
    merged[0::2], merged[1::2] = parts[0]["input_ids"], parts[1]["input_ids"]
    assert torch.equal(merged, batch["input_ids"])
    with pytest.raises(ValueError, match="rank must be in"):
        shard_batch(batch, 2, 2)


def test_single_process_helpers_fall_back(tiny_tokenizer, tiny_llama):
    from alignguard.alignment.fisher import estimate_alignment_fisher

    assert dist_info() == (0, 1)
    t = torch.randn(3, requires_grad=True)
    assert whole(t) is t
    examples = [Example(r["prompt"], r["response"]) for r in ROWS[:8]]
    assert len(encoded_batches(tiny_tokenizer, examples, batch_size=3, max_length=48)) == 3
    got = estimate_fisher_sharded(tiny_llama, examples, tokenizer=tiny_tokenizer, batch_size=4,
                                  max_rank=4, progress=False)
    ref = estimate_alignment_fisher(tiny_llama, examples, tokenizer=tiny_tokenizer, batch_size=4,
                                    max_rank=4, progress=False)
    assert got.meta["n_tokens"] == ref.meta["n_tokens"] > 0
    name = next(iter(ref.modules))
    assert torch.equal(got.modules[name].q_out, ref.modules[name].q_out)


def test_layout_rebind_points_at_new_tensors(tiny_llama):
    from alignguard.regularizers import GeometryLayout
    from alignguard.targets import LoraSettings, attach_lora, lora_factors

    model = attach_lora(tiny_llama, LoraSettings(r=2, init_seed=0))
    layout = GeometryLayout(model, None)
    modules = dict(model.get_base_model().named_modules())
    swapped = {}
    for layer_name, f in lora_factors(model).items():  # simulate a wrapper swapping parameters
        swapped[layer_name] = torch.nn.Parameter(f.A.detach() + 1.0)
        modules[layer_name].lora_A["default"].weight = swapped[layer_name]
    first = layout.groups[0]
    assert first.A_params[0] is not swapped[first.names[0]]
    assert layout.rebind(model) == 14
    for group in layout.groups:
        assert all(a is swapped[n] for a, n in zip(group.A_params, group.names, strict=True))
    with pytest.raises(ValueError, match="layout was built for"):
        GeometryLayout.from_factors({}, None).rebind(model)
