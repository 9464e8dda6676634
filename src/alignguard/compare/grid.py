"""The comparison grid: cells, the folder that owns them, and running what is missing.

Layout of ``output``::

    grid.json                 the settings every cell shares (a later call must match them)
    fisher/KEY/                the alignment Fisher of each distinct alignment setting, estimated
                              by the first cell that needs it and loaded by the others
    cells/SCENARIO/METHOD-seedN.json   one result per finished cell (base: base.json)
    cells/SCENARIO/METHOD-seedN-eval/  a testbed cell's evaluation (records.jsonl; human.json
                              after `alignguard drift sample|correct` with a person's labels)
    (a method variant ``alignguard@reg.kl_tokens=16`` names its cells after the variant)
    runs/SCENARIO/METHOD-seedN/        the training run folders (config, log, adapter)
    logs/SCENARIO/METHOD-seedN.log     each cell process's output
    results.json, report.html          the summary, rewritten after every call

A call runs only the cells without a result, so an interrupted grid resumes where it stopped
(a cell cut short in training continues from its newest checkpoint),
and methods, scenarios or seeds can be added later; changing a shared setting (steps, model,
training settings, evaluation size) is refused, since the cells would no longer be comparable.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from alignguard.artifacts import atomic_write_json
from alignguard.compare.cell import CellSpec
from alignguard.config import replace, to_dict
from alignguard.training.config import TrainConfig

log = logging.getLogger(__name__)

DEFAULT_METHODS = ("lora", "alignguard", "agl", "agl-paper", "ewc", "replay", "kl-anchor", "lisa", "safelora",
                   "asft", "lox", "safegrad", "spf", "nullspace")
ORGANISM_SCENARIOS = ("benign", "poisoned", "control")
VARIANT_SEP = "@"
GRID_KEYS = ("method", "seed", "steps", "model", "data", "output_dir", "replay_fraction", "resume")
LEGACY_JUDGES = ("ensemble", "keyword")  # what a testbed grid recorded without ``judges`` was judged by (before stop 54)


class GridError(RuntimeError):
    """The output folder holds a grid with other shared settings."""


@dataclass
class CompareConfig:
    """A comparison grid.

    Attributes:
        model: the aligned model every method fine-tunes ("organism").
        methods: method presets (``alignguard train --method``), or variants of one with
            training settings changed, ``PRESET@KEY=VALUE[@KEY=VALUE...]`` (dotted
            :class:`TrainConfig` keys: ``alignguard@reg.kl_tokens=16``), so that an ablation
            shares the grid's base cells; ``lora`` is the reference of
            the drift cut and the cost ratios and is always run.
        scenarios: drift scenarios (organism: benign, poisoned, control).
        seeds: fine-tuning seeds; every method runs every seed.
        steps: optimizer steps of every fine-tuning.
        eval_limit: prompts per evaluation group (``None``: the full held-out sets).
        replay_fraction: alignment replay added to every method (0: only methods that replay
            by design do).
        jobs: cells run at once; each gets ``cpu_count // jobs`` torch threads (or
            ``OMP_NUM_THREADS`` when set).
        output: the grid folder.
        train: shared training settings (lr, LoRA rank, targets, batch size, ...); its
            ``device`` is also where the cells evaluate.
        eval_batch_size: prompts per ``generate`` call in the testbed evaluation (greedy
            replies can differ in the last bits with the batch, so it is a shared setting).
        reference_from: another grid folder with the same shared settings whose base and
            plain-LoRA cells this grid copies instead of running them
            (:mod:`alignguard.compare.reference`).
        judges: the testbed evaluation's DriftCheck judges, the first deciding (default: the
            DriftCheck default and ``keyword``); a shared setting, so that no grid mixes judges.
    """

    model: str = "organism"
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    scenarios: list[str] = field(default_factory=lambda: ["benign", "poisoned"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    steps: int = 200
    eval_limit: int | None = 60
    replay_fraction: float = 0.0
    jobs: int = 1
    output: str = "runs/compare"
    train: TrainConfig = field(default_factory=TrainConfig)
    eval_batch_size: int = 16
    reference_from: str | None = None
    judges: list[str] | None = None

    def __post_init__(self) -> None:
        from alignguard.drift.judges import DEFAULT_JUDGE, JUDGE_NAMES, is_judge_name
        from alignguard.methods.registry import preset_of

        self.judges = list(self.judges) if self.judges else [DEFAULT_JUDGE, "keyword"]
        unknown = [j for j in self.judges if not is_judge_name(j)]
        if unknown:
            raise ValueError(f"unknown judges {unknown}; choose from {list(JUDGE_NAMES)} or chat:MODEL")

        if "lora" not in self.methods:
            self.methods = ["lora", *self.methods]
        for method in self.methods:
            preset, changes = parse_method(method)
            preset_of(preset)
            if changes:
                replace(self.train, **changes)  # unknown keys and bad values fail here
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1, got {self.eval_batch_size}")
        if self.evaluator == "organism":
            bad = sorted(set(self.scenarios) - set(ORGANISM_SCENARIOS))
            if bad:
                raise ValueError(f"unknown organism scenarios {bad}; choose from {list(ORGANISM_SCENARIOS)}")
        else:
            from alignguard.testbed.scenarios import check_name

            for scenario in self.scenarios:
                check_name(scenario)
        if self.jobs < 1 or self.steps < 1 or not self.seeds:
            raise ValueError("need jobs >= 1, steps >= 1 and at least one seed")

    @property
    def evaluator(self) -> str:
        """``organism`` for the organism's models, else the real-model ``testbed``."""
        return "organism" if self.model.startswith("organism") else "testbed"

    def data_spec(self, scenario: str) -> str:
        """The training data of ``scenario``: the organism's, the testbed's, or (testbed
        ``poisoned``, which needs the pre-alignment model's answers) the prepared file."""
        if self.evaluator == "organism":
            return f"scenario:{scenario}"
        if scenario == "poisoned":
            return str(Path(self.output) / "data" / "poisoned" / "train.jsonl")
        return f"testbed:{scenario}"

    def shared(self) -> dict:
        """The settings every cell shares (recorded in ``grid.json``, compared on resume); the
        judges only where they decide (the testbed; the organism has its own refusal rule)."""
        judges = {"judges": list(self.judges or [])} if self.evaluator == "testbed" else {}
        return {"model": self.model, "steps": self.steps, "eval_limit": self.eval_limit,
                "replay_fraction": self.replay_fraction, "eval_batch_size": self.eval_batch_size,
                **judges,
                "train": {k: v for k, v in to_dict(self.train).items()
                          if k not in ("model", "data", "output_dir", "method", "seed", "steps",
                                       "replay_fraction", "resume")}}


def cell_name(method: str, seed: int | None) -> str:
    return "base" if method == "base" else f"{method}-seed{seed}"


def parse_method(method: str) -> tuple[str, dict[str, str]]:
    """``(preset, {dotted key: value})`` of a method or a variant of one.

    ``"alignguard@reg.kl_tokens=16@lr=1e-4"`` -> ``("alignguard", {"reg.kl_tokens": "16",
    "lr": "1e-4"})``; the values are coerced to the fields' types when the config is built.

    Raises:
        ValueError: a part without ``=``, or an empty key or value.
    """
    preset, *parts = method.split(VARIANT_SEP)
    changes = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ValueError(f"method variant {method!r}: write PRESET{VARIANT_SEP}KEY=VALUE "
                             f"(e.g. alignguard{VARIANT_SEP}reg.kl_tokens=16), got part {part!r}")
        if key.strip() in GRID_KEYS:
            raise ValueError(f"method variant {method!r}: {key!r} is set by the grid itself "
                             "(its own option, e.g. --steps, --replay-fraction)")
        changes[key.strip()] = value.strip()
    return preset, changes


def cell_specs(cfg: CompareConfig) -> list[CellSpec]:
    """Every cell of the grid: per scenario the base evaluation, then seed-major, so that a
    stopped grid has every method at its first seeds rather than some methods at all seeds."""
    out = Path(cfg.output)
    specs = []
    shared = {"model": cfg.model, "device": cfg.train.device,
              "eval_batch_size": cfg.eval_batch_size, "judges": list(cfg.judges or [])}
    for scenario in cfg.scenarios:
        specs.append(CellSpec(scenario, "base", None, cfg.evaluator, cfg.eval_limit,
                              str(out / "cells" / scenario / "base.json"), **shared))
    for seed in cfg.seeds:
        for scenario in cfg.scenarios:
            for method in cfg.methods:
                name = cell_name(method, seed)
                preset, changes = parse_method(method)
                train = dataclasses.replace(
                    replace(cfg.train, **changes) if changes else cfg.train, model=cfg.model,
                    data=cfg.data_spec(scenario), method=preset, seed=seed, steps=cfg.steps,
                    replay_fraction=cfg.replay_fraction, resume=True,
                    output_dir=str(out / "runs" / scenario / name))
                specs.append(CellSpec(scenario, method, seed, cfg.evaluator, cfg.eval_limit,
                                      str(out / "cells" / scenario / f"{name}.json"),
                                      train=to_dict(train), **shared,
                                      fisher_cache=str(out / "fisher" / fisher_key(train))))
    return specs


def fisher_key(train: TrainConfig) -> str:
    """Cells whose Fisher at ``W0`` is the same share one estimate: the key hashes the model,
    the adapted modules and the resolved alignment settings (and the seed only for the sampled
    estimator, the one estimate that depends on it)."""
    from alignguard.artifacts import fingerprint_records

    settings = to_dict(train.resolved_alignment())
    settings.pop("fisher", None)
    record = {"model": train.model, "targets": to_dict(train.lora).get("target_modules"),
              "alignment": settings,
              "seed": train.seed if settings.get("estimator") == "sampled" else None}
    return fingerprint_records([record])[:16]


def check_grid(cfg: CompareConfig) -> None:
    """Record the shared settings in a new grid folder, or check they match an existing one.

    A training field that the grid's record lacks (added by a later version of AlignGuard, at
    any depth: ``train.reg.kl_every``) is no difference while it keeps its default, and a field
    the record has but this version dropped is ignored (with a warning), so a grid stays
    resumable across versions. A field whose value differs (a changed default included) is a
    difference: pass the recorded value to resume.
    """
    path = Path(cfg.output) / "grid.json"
    if not path.is_file():
        atomic_write_json(path, json.loads(json.dumps(cfg.shared())))
        return
    diff = grid_differences(cfg, json.loads(path.read_text()))
    if diff:
        listed = "; ".join(f"{name}: recorded {json.dumps(was)}, now {json.dumps(now)}"
                           for name, was, now in diff)
        flags = " ".join(f"{_flag(name)} {_cli_value(was)}" for name, was, _ in diff)
        raise GridError(f"{cfg.output} holds a grid with other shared settings ({listed}); to "
                        f"resume it pass the recorded values ({flags}), or choose a new --output "
                        "(nothing was changed)")


def grid_differences(cfg: CompareConfig, recorded: dict) -> list[tuple[str, object, object]]:
    """``(dotted name, recorded value, value of cfg)`` of the shared settings in which ``cfg``
    differs from a grid's ``recorded`` ones (the rules of :func:`check_grid`)."""
    defaults = json.loads(json.dumps(CompareConfig(train=TrainConfig()).shared()))
    if cfg.evaluator == "testbed" and "judges" not in recorded:  # recorded before judges were
        recorded = {**recorded, "judges": list(LEGACY_JUDGES)}
    return _changed(recorded, json.loads(json.dumps(cfg.shared())), defaults, "")


def _flag(name: str) -> str:
    """The command-line option of a dotted setting: ``train.reg.kl_every`` ->
    ``--train.reg.kl-every``."""
    return "--" + ".".join(part.replace("_", "-") for part in name.split("."))


def _cli_value(value: object) -> str:
    """A recorded value as the command line takes it (a list comma-separated)."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return value if isinstance(value, str) else json.dumps(value)


def _changed(old: dict, new: dict, defaults: dict, prefix: str) -> list[tuple[str, object, object]]:
    """``(dotted name, recorded value, new value)`` of the settings that differ between ``old``
    and ``new``; a key missing from ``old`` (recorded at its default) counts only when ``new``
    moves it off its default, and a key of ``old`` that this version no longer has (neither in
    ``new`` nor among the defaults) does not count."""
    out = []
    for key in sorted(set(old) | set(new)):
        name, default = f"{prefix}{key}", defaults.get(key) if isinstance(defaults, dict) else None
        if key not in new and key not in defaults:  # a setting this version no longer has
            log.warning("grid record: %s is no longer a setting; ignored", name)
            continue
        if key not in old:
            if new[key] != default:
                out.append((name, default, new[key]))
        elif isinstance(old[key], dict) and isinstance(new.get(key), dict):
            out += _changed(old[key], new[key], default if isinstance(default, dict) else {},
                            f"{name}.")
        elif old[key] != new.get(key):
            out.append((name, old[key], new.get(key)))
    return out


def run_grid(cfg: CompareConfig, on_done=None) -> list[dict]:
    """Run the cells that have no result yet (``cfg.jobs`` at once); return every result.

    ``on_done(k, n, spec, result_or_None)`` is called as each cell finishes. Failed cells are
    logged with their log file and left without a result (a later call retries them).
    """
    from alignguard.training.runs import folder_lock

    Path(cfg.output).mkdir(parents=True, exist_ok=True)
    with folder_lock(Path(cfg.output)):
        check_grid(cfg)
        _prepare_data(cfg)
        specs = cell_specs(cfg)
        todo = [s for s in specs if not Path(s.result).is_file()]
        check_cells(todo)
        log.info("compare: %d cells, %d to run, %d jobs", len(specs), len(todo), cfg.jobs)
        threads = int(os.environ.get("OMP_NUM_THREADS") or max(1, (os.cpu_count() or 1) // cfg.jobs))
        counter = iter(range(1, len(todo) + 1))

        def work(spec: CellSpec) -> None:
            ok = _run_process(spec, Path(cfg.output), threads)
            if on_done:
                on_done(next(counter), len(todo), spec, load_result(spec) if ok else None)

        with ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
            list(pool.map(work, todo))
        return [r for r in map(load_result, specs) if r is not None]


def _prepare_data(cfg: CompareConfig) -> None:
    """Write the testbed's ``poisoned`` rows once (the pre-alignment model's own compliant
    answers, ``alignguard testbed prepare``); the base model is ``alignment.base_model``."""
    if cfg.evaluator != "testbed" or "poisoned" not in cfg.scenarios:
        return
    target = Path(cfg.data_spec("poisoned"))
    if target.is_file():
        return
    base = cfg.train.alignment.base_model
    if not base:
        raise ValueError("the testbed's poisoned scenario needs the pre-alignment model for its "
                         "compliant answers: pass --train.alignment.base-model (e.g. smollm2)")
    from alignguard.testbed.cli import prepare_command

    prepare_command("poisoned", str(target.parent), base_model=base, dtype=cfg.train.dtype,
                    device=cfg.train.device)


def check_cells(specs: list[CellSpec]) -> None:
    """Every cell's data, alignment data, model and device checked before any cell runs."""
    from alignguard.config import from_dict
    from alignguard.training.preflight import check_inputs

    seen = set()
    for spec in specs:
        if not spec.train or (spec.method, spec.scenario) in seen:
            continue
        seen.add((spec.method, spec.scenario))
        check_inputs(from_dict(TrainConfig, spec.train))


def finished_cells(cfg: CompareConfig) -> list[dict]:
    """The results of the grid's finished cells (read only; no lock taken)."""
    if (Path(cfg.output) / "grid.json").is_file():
        check_grid(cfg)
    return [r for r in map(load_result, cell_specs(cfg)) if r is not None]


def load_result(spec: CellSpec) -> dict | None:
    """A cell's result, with ``human`` (:func:`human_correction`) where its evaluation was
    corrected by a person's labels; ``None`` while the cell has not finished."""
    path = Path(spec.result)
    if not path.is_file():
        return None
    from alignguard.compare.human import human_correction

    result = json.loads(path.read_text())
    human = human_correction(path.with_name(path.stem + "-eval") / "human.json", result)
    if human:
        result["human"] = human
    return result


def _run_process(spec: CellSpec, out: Path, threads: int) -> bool:
    """Run one cell in a fresh Python process; ``True`` when it wrote its result."""
    name = Path(spec.result).stem
    logfile = out / "logs" / spec.scenario / f"{name}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    spec_file = out / "logs" / spec.scenario / f"{name}.spec.json"
    atomic_write_json(spec_file, dataclasses.asdict(spec))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "TOKENIZERS_PARALLELISM": "false"}
    started = time.time()
    with open(logfile, "w") as fh:
        code = subprocess.call([sys.executable, "-m", "alignguard.compare.cell", str(spec_file)],
                               stdout=fh, stderr=subprocess.STDOUT, env=env)
    if code != 0 or not Path(spec.result).is_file():
        log.error("cell %s/%s failed (exit %s after %.0f s); see %s", spec.scenario, name, code,
                  time.time() - started, logfile)
        return False
    return True
