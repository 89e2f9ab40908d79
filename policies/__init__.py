"""Policies behind one contract (``reset()``, ``select_action(obs)``) and one registry."""

from policies.base import Policy
from policies.registry import POLICIES, make_policy, register_policy

__all__ = ["POLICIES", "Policy", "make_policy", "register_policy"]
