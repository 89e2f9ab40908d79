"""Policies behind one contract (``reset()``, ``select_action(obs)``) and one registry."""

from policies.base import Policy
from policies.registry import POLICIES, PolicySpec, get_policy, make_policy, register_policy

__all__ = ["POLICIES", "Policy", "PolicySpec", "get_policy", "make_policy", "register_policy"]
