"""bench.embodied: per-episode path length and action jerk, and the paired table against the teacher."""

import numpy as np
import pandas as pd
import pytest

from bench.embodied import action_jerk, embodied_table, path_length


def test_path_length_and_jerk_on_known_motions():
    line = np.stack([np.linspace(0, 0.3, 31), np.zeros(31), np.zeros(31)], 1)
    assert path_length(line) == pytest.approx(0.3)
    assert path_length(line[:1]) == 0.0
    smooth = np.zeros((20, 7))
    smooth[:, 0] = np.linspace(0, 1, 20) ** 2  # a quadratic has no third difference
    assert action_jerk(smooth) == pytest.approx(0.0, abs=1e-12)
    shaky = smooth.copy()
    shaky[::2, 1] += 0.5  # alternating sign: a large third difference
    shaky[:, 6] = np.where(np.arange(20) % 2, 1.0, -1.0)  # the gripper is not part of the arm's jerk
    assert action_jerk(shaky) == pytest.approx(2.0)  # |0.5 + 3 * 0.5| at every step
    assert action_jerk(smooth[:3]) == 0.0


def _rows(policy, steps, path, ok=True, n=4, cpu="cpu A"):
    return [
        {"policy": policy, "suite": "libero_spatial", "task_id": 0, "init_state": i, "seed": i, "success": ok,
         "error": None, "steps": steps + i, "episode_s": 1.0, "eef_path_m": path, "action_jerk": 0.01, "cpu": cpu}
        for i in range(n)
    ]  # fmt: skip


def test_embodied_table_pairs_solved_episodes_with_the_teacher():
    df = pd.DataFrame(_rows("teacher", 100, 1.0) + _rows("student_b0.5", 130, 1.5) + _rows("random_b0.5", 90, 1, 0))
    t = embodied_table(df)
    assert list(t.policy) == ["ActDistill @ 0.5"]  # random never solved: nothing to pair
    row = t.iloc[0]
    assert row["n (both solved)"] == 4 and row["steps to success: teacher"] == "101.5"
    assert row["steps to success: difference"] == "+30.0 [+30.0, +30.0]"
    assert row["EE path m: difference"].startswith("+0.500")
    assert embodied_table(df.drop(columns=["eef_path_m"])).empty  # records from before the fields existed


def test_embodied_table_pairs_only_records_of_the_same_cpu():
    teacher = _rows("teacher", 100, 1.0, cpu="cpu A")
    df = pd.DataFrame(teacher + _rows("student_b0.5", 130, 1.5, cpu="cpu B") + _rows("truncate_b0.5", 110, 1.2, n=2))
    t = embodied_table(df)
    assert list(t.policy) == ["Static truncation @ 0.5"] and list(t.CPU) == ["cpu A"]
    assert t.iloc[0]["n (both solved)"] == 2
    df = pd.concat([df, pd.DataFrame(_rows("teacher", 100, 1.0, cpu="cpu B"))], ignore_index=True)
    assert sorted(embodied_table(df).CPU) == ["cpu A", "cpu B"]  # a teacher rerun on B pairs the student
    assert embodied_table(df.drop(columns=["cpu"])).empty  # records from before the field existed
