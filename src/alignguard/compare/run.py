"""Run a comparison grid and write its summary: ``results.json`` and ``report.html``."""

from __future__ import annotations

from pathlib import Path

from alignguard.artifacts import atomic_write_json, provenance
from alignguard.compare.grid import CompareConfig, finished_cells, run_grid
from alignguard.compare.summary import summarize
from alignguard.config import to_dict


def run_compare(cfg: CompareConfig, on_done=None, run: bool = True) -> dict:
    """Run the missing cells of ``cfg``'s grid (unless ``run`` is false: then only the finished
    cells are read, even while another process runs the grid), then summarize them.

    Returns the results dict also written to ``output/results.json``: ``summary`` (see
    :func:`alignguard.compare.summary.summarize`), ``cells`` (each cell's metrics and costs),
    ``config`` and ``provenance``.
    """
    from alignguard.compare.report import write_report

    if run and cfg.reference_from:
        from alignguard.compare.reference import import_reference

        import_reference(cfg, cfg.reference_from)
    cells = run_grid(cfg, on_done) if run else finished_cells(cfg)
    results = {
        "summary": summarize(cells),
        "cells": [{k: c.get(k) for k in ("scenario", "method", "seed", "step_time_s",
                                         "peak_train_mem_mb", "wall_s")}
                  | {"metrics": {k: v for k, v in c["metrics"].items() if k != "raw"}}
                  for c in cells],
        "n_cells": len(cells), "config": to_dict(cfg),
        "provenance": provenance(seed=cfg.seeds[0]),
    }
    out = Path(cfg.output)
    if not run:
        out = out / "partial"
    atomic_write_json(out / "results.json", results)
    write_report(out / "report.html", results)
    return results
