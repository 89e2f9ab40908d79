"""ActDistill students and baselines; importing the package registers them as policies (``distill.registry``)."""

from distill import registry  # noqa: F401
