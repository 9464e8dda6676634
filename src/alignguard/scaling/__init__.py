"""Scaling laws of catastrophic forgetting (method.md section 5; arXiv 2508.02079).

* :mod:`~alignguard.scaling.laws`: the Bethune et al. 2025 and Kalajdzievski 2024 forms;
* :mod:`~alignguard.scaling.fit`: robust fitting, bootstrap intervals, extrapolation,
  ``alignguard scaling fit``;
* :mod:`~alignguard.scaling.analysis`: sweep records to per-method fits and comparisons;
* :mod:`~alignguard.scaling.measure`: held-out losses and refusal of a fine-tuned model;
* :mod:`~alignguard.scaling.sweep`: ``alignguard scaling sweep`` (resumable JSONL);
* :mod:`~alignguard.scaling.plots`: observed points and fitted curves.
"""
