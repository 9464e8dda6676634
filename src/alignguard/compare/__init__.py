"""``alignguard compare``: every defense on the same scenarios and seeds, side by side.

A resumable grid (methods x scenarios x seeds) in one output folder: each cell trains one
adapter in its own process (:mod:`.cell`), is evaluated, and leaves one JSON file; the summary
(:mod:`.summary`) aggregates the cells into mean +- std per method, the drift cut versus plain
LoRA, step-time and peak-memory ratios and the safety/utility frontier; :mod:`.report` writes
the HTML report.
"""
