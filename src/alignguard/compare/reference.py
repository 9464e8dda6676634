"""Reusing another grid's reference cells: ``alignguard compare --reference-from GRID``.

A grid always has a base cell per scenario and a plain-LoRA cell per scenario and seed: they are
the reference of the drift cut. A user who adds methods in a *new* folder (another machine, a
separate study) would otherwise train plain LoRA again. With ``--reference-from GRID`` the base
and plain-LoRA cells that the new grid lacks are copied from ``GRID``, which must record the same
shared settings (``grid.json``: model, steps, evaluation size, training settings) and, for the
testbed's ``poisoned`` scenario, the same prepared training rows. Each copied cell records where
it came from (``imported_from``: the source grid, the cell's path in it, the SHA-256 of its
bytes), and the summary marks the step-time and memory ratios that compare a cell of this run
with an imported one: those are timings of two runs, which are only comparable on the same
machine under the same load.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from alignguard.artifacts import atomic_write_json

log = logging.getLogger(__name__)

REFERENCE_METHODS = ("base", "lora")


def import_reference(cfg, source: str | Path) -> list[Path]:
    """Copy into ``cfg``'s grid the base and plain-LoRA cells it lacks and ``source`` has.

    Args:
        cfg: the :class:`~alignguard.compare.grid.CompareConfig` of the grid being run.
        source: another grid folder.

    Returns:
        The cell files written (none when every reference cell is already present).

    Raises:
        FileNotFoundError: ``source`` is not a grid folder (no ``grid.json``).
        ValueError: ``source`` is the grid itself.
        GridError: ``source`` records other shared settings or other ``poisoned`` rows
            (nothing is copied).
    """
    from alignguard.compare.grid import GridError, cell_specs, check_grid, grid_differences
    from alignguard.training.runs import folder_lock

    src, out = Path(source), Path(cfg.output)
    record = src / "grid.json"
    if not record.is_file():
        raise FileNotFoundError(f"--reference-from {src}: not a compare grid folder (no grid.json)")
    if src.resolve() == out.resolve():
        raise ValueError(f"--reference-from {src} is the grid itself")
    diff = grid_differences(cfg, json.loads(record.read_text()))
    if diff:
        listed = "; ".join(f"{name}: {json.dumps(was)} there, {json.dumps(now)} here" for name, was, now in diff)
        raise GridError(f"--reference-from {src} holds a grid with other shared settings ({listed}); its "
                        "cells are not this grid's reference (nothing was copied)")
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):
        check_grid(cfg)  # this grid's own record first: a cell is copied only into a matching grid
        _check_same_rows(cfg, src)
        written = _copy_cells(cell_specs(cfg), src, out)
    log.info("compare: %d reference cells copied from %s", len(written), src)
    return written


def _copy_cells(specs, src: Path, out: Path) -> list[Path]:
    """Copy the reference cells among ``specs`` that ``out`` lacks and ``src`` has."""
    written = []
    for spec in specs:
        target = Path(spec.result)
        rel = target.relative_to(out)
        if spec.method not in REFERENCE_METHODS or target.is_file() or not (src / rel).is_file():
            continue
        raw = (src / rel).read_bytes()
        cell = json.loads(raw)
        cell["imported_from"] = {"grid": str(src.resolve()), "cell": str(rel),
                                 "sha256": hashlib.sha256(raw).hexdigest()}
        written.append(atomic_write_json(target, cell))
    return written


def _check_same_rows(cfg, src: Path) -> None:
    """The testbed's ``poisoned`` rows are prepared per grid: both grids must hold the same, and a
    grid that has none yet takes the source's (its plain-LoRA cells were trained on them)."""
    from alignguard.artifacts import atomic_write_bytes
    from alignguard.compare.grid import GridError

    if cfg.evaluator != "testbed" or "poisoned" not in cfg.scenarios:
        return
    here = Path(cfg.data_spec("poisoned"))
    there = src / here.relative_to(cfg.output)
    if not there.is_file():
        return
    if not here.is_file():
        atomic_write_bytes(here, there.read_bytes())
    elif here.read_bytes() != there.read_bytes():
        raise GridError(f"--reference-from {src}: its poisoned training rows ({there}) differ from "
                        f"this grid's ({here}); its cells are not this grid's reference (nothing was copied)")
