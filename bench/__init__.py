"""Evaluation, cost measurement and reports; importing it registers every policy (``distill``'s too)."""

import distill  # noqa: F401  (registers the routed students and baselines beside policies' own)
