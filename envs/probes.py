"""Language probes: the policy gets another instruction while the env keeps the original task (and its success).

- ``swap``: the instruction of task ``(task_id + 1) % n`` of the same suite (a fixed mapping; a suite of one task
  has no other instruction and is refused);
- ``empty``: an empty string;
- ``unrelated``: ``UNRELATED_INSTRUCTION``, a fixed sentence about nothing on the table.

Does a policy read its instruction at all? On LIBERO-Spatial and -Object the layout may give the task away.
Privileged-state experts read the task from the env, not the instruction: a probe does not change them.
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
from gymnasium import spaces

PROBES = ("swap", "empty", "unrelated")
UNRELATED_INSTRUCTION = "tell me what the weather will be like in paris tomorrow"


def swap_task(suite: str, task_id: int) -> int:
    """The task whose instruction the swap probe gives on ``task_id`` of ``suite``."""
    from envs.registry import get_suite

    return (task_id + 1) % get_suite(suite).num_tasks


def probe_instruction(probe: str, suite: str, task_id: int) -> str:
    """The instruction a probe gives the policy on ``task_id`` of ``suite``."""
    from envs.registry import get_suite

    if probe not in PROBES:
        raise ValueError(f"Unknown instruction probe {probe!r}; choose from {list(PROBES)}")
    if probe == "empty":
        return ""
    if probe == "unrelated":
        return UNRELATED_INSTRUCTION
    spec = get_suite(suite)
    if spec.instruction is None:
        raise ValueError(f"suite {suite!r} does not tell its tasks' instructions: no swap probe")
    if spec.num_tasks < 2:
        raise ValueError(f"the swap probe needs another task in {suite!r}, which has {spec.num_tasks}")
    return spec.instruction(swap_task(suite, task_id))


class InstructionProbe(gym.Wrapper):
    """Replaces ``obs["instruction"]`` and ``info["instruction"]`` by the probe's; ``info["true_instruction"]``
    keeps the task's own, ``info["instruction_probe"]`` names the probe. With ``instructed_task`` (the swap
    probe), ``info["instructed_success"]`` says whether that task's goal has held at any step of the episode
    (None where the scene cannot tell: ``LiberoEnv.goal_met``)."""

    def __init__(self, env: gym.Env, probe: str, instruction: str, instructed_task: int | None = None) -> None:
        super().__init__(env)
        self.probe, self.instruction, self.instructed_task = probe, instruction, instructed_task
        self._instructed: bool | None = None
        chars = string.printable + "".join(sorted(set(instruction) - set(string.printable)))
        text = env.observation_space["instruction"]
        chars += "".join(sorted(set(text.character_set) - set(chars)))
        self.observation_space = spaces.Dict(
            {**env.observation_space.spaces, "instruction": spaces.Text(max_length=512, min_length=0, charset=chars)}
        )

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._instructed = None
        return self._probed(obs, info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        obs, info = self._probed(obs, info)
        return obs, reward, terminated, truncated, info

    def _probed(self, obs: dict[str, Any], info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        info = {**info, "true_instruction": obs["instruction"], "instruction_probe": self.probe}
        info["instruction"] = self.instruction
        if self.instructed_task is not None:
            met = self.env.unwrapped.goal_met(self.instructed_task)
            self._instructed = None if met is None else bool(self._instructed) or met
            info["instructed_success"] = self._instructed
        return {**obs, "instruction": self.instruction}, info


def apply_probe(env: gym.Env, probe: str | None, suite: str, task_id: int) -> gym.Env:
    """``env`` wrapped in the probe (None: unchanged)."""
    if probe is None:
        return env
    other = swap_task(suite, task_id) if probe == "swap" and hasattr(env.unwrapped, "goal_met") else None
    return InstructionProbe(env, probe, probe_instruction(probe, suite, task_id), other)
