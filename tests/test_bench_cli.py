"""The command-line tools end to end with tiny settings."""

import json
import subprocess
import sys
from dataclasses import replace

import h5py
import numpy as np
import pandas as pd
import pytest

from bench.records import read_records
from demos import features, record
from policies.expert import EXPERT_VERSION

pytestmark = pytest.mark.sim


def test_run_writes_records_and_resumes(tmp_path, capsys):
    from bench import run

    args = [
        "--policy",
        "expert",
        "--suite",
        "robosuite",
        "--tasks",
        "0",
        "--episodes-per-task",
        "2",
        "--out",
        str(tmp_path),
        "--trace",
    ]
    run.main(args)
    path = tmp_path / "episodes" / "expert" / "robosuite.jsonl"
    recs = read_records(path)
    assert [(r["task_id"], r["init_state"], r["seed"]) for r in recs] == [(0, 0, 0), (0, 1, 1)]
    assert all(r["success"] for r in recs)
    for r in recs:  # per-step actions and proprio, the proprio from the reset on
        trace = np.load(tmp_path / "traces" / "expert" / f"robosuite_task0_init{r['init_state']}.npz")
        assert trace["actions"].shape == (r["steps"], 7) and trace["state"].shape == (r["steps"] + 1, 18)
        moved = np.linalg.norm(trace["state"][:, :3] - trace["state"][-1, :3], axis=1) > 0.01
        assert r["still_steps_at_end"] == r["steps"] - 1 - np.flatnonzero(moved)[-1]
    assert {"commit", "config", "max_steps", "env", "steps", "episode_s"} <= set(recs[0])
    out = capsys.readouterr().out
    assert "2/2 = 100.0%" in out
    summary = pd.read_csv(tmp_path / "summary" / "expert" / "robosuite.csv")
    assert summary[["episodes", "successes"]].values.tolist() == [[2, 2]]
    assert 0.0 < summary["ci95_low"][0] < 1.0 == summary["ci95_high"][0]
    run.main(args)  # everything recorded: nothing re-run, nothing appended
    assert len(read_records(path)) == 2
    from bench.diagnostics.grasp_offsets import offsets  # the replay follows the trace and finds where the hand closed

    rows = offsets(tmp_path, "expert")
    assert [r["init_state"] for r in rows] == [0, 1] and all(r["success"] for r in rows)
    assert all(np.abs(r["mm"][:2]).max() < 10 and abs(r["mm"][2]) < 25 for r in rows), rows  # the expert's grasp
    npz = tmp_path / "traces" / "expert" / "robosuite_task0_init1.npz"
    tampered = dict(np.load(npz))
    tampered["actions"][0, 0] = -np.sign(tampered["actions"][0, 0]) or 1.0  # another first move: must be noticed
    np.savez_compressed(npz, **tampered)
    with pytest.raises(RuntimeError, match="left the trace"):
        offsets(tmp_path, "expert")


def test_records_of_other_weights_are_refused(tmp_path, capsys):
    """Episode records carry the SHA-1 of the weights; a rerun after retraining refuses to mix them."""
    from bench import run
    from bench.records import append_record

    cfg = run.RunConfig(policy="teacher", suites=["robosuite"], tasks=[0], out=str(tmp_path))
    assert cfg.weights_sha1 is not None and len(cfg.weights_sha1) == 40
    path = run.records_path(cfg, "robosuite")
    base = {"task_id": 0, "init_state": 0, "seed": 0, "success": True}
    append_record(path, base)  # written before fingerprints existed: taken as it is
    append_record(path, {**base, "init_state": 1, "seed": 1, "weights_sha1": cfg.weights_sha1})
    assert sorted(run.recorded(cfg, "robosuite")) == [(0, 0), (0, 1)]
    append_record(path, {**base, "init_state": 2, "seed": 2, "weights_sha1": "0" * 40})
    with pytest.raises(run.StaleRecordsError, match="other weights"):
        run.recorded(cfg, "robosuite")
    args = ["--policy", "teacher", "--suite", "robosuite", "--tasks", "0", "--episodes-per-task", "3"]
    with pytest.raises(SystemExit) as e:
        run.main([*args, "--no-cost", "--out", str(tmp_path)])
    assert e.value.code == 2 and "move that file aside" in capsys.readouterr().err
    assert len(read_records(path)) == 3  # nothing run, nothing appended


def test_run_bad_input_exits_2(tmp_path):
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "config.json").write_text("{}")
    (truncated / "model.safetensors").write_bytes(b"\x08\x00\x00")
    for bad in (
        ["--policy", "nope"],
        ["--suite", "libero_nope"],
        ["--tasks", "12"],
        ["--episodes-per-task", "51"],
        ["--policy", "teacher", "--checkpoint", str(tmp_path / "missing")],
        ["--policy", "teacher", "--checkpoint", str(truncated)],
        ["--policy", "student", "--budget", "1.5"],
        ["--policy", "student", "--budget", "0.3"],  # not a trained budget: the message lists those that are
        ["--policy", "expert", "--budget", "0.5"],
        ["--policy", "expert", "--exec-steps", "4"],  # no action chunks
        ["--policy", "teacher", "--exec-steps", "9"],  # more than the 8 actions it predicts per call
        ["--policy", "teacher", "--exec-steps", "0"],
    ):
        r = subprocess.run(
            [sys.executable, "-m", "bench.run", *bad, "--out", str(tmp_path)], capture_output=True, text=True
        )
        assert r.returncode == 2, (bad, r.stderr)
        assert r.stderr.startswith("error:") and "Traceback" not in r.stderr


@pytest.mark.parametrize("gl", ["bogus", "osmesa"])
def test_run_without_working_gl_exits_2(tmp_path, gl):
    import os

    r = subprocess.run(
        [sys.executable, "-m", "bench.run", "--suite", "robosuite", "--episodes-per-task", "1", "--video"]
        + ["--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}, "MUJOCO_GL": gl},
    )
    assert r.returncode == 2 and "MUJOCO_GL" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_demos_hdf5_layout_and_resume(tmp_path, capsys, monkeypatch):
    cfg = record.DemoConfig(
        suites=["robosuite"],
        tasks=[0],
        episodes_per_task=2,
        noise_frac=0.5,
        image_size=32,
        frame_stride=2,
        workers=1,
        out=str(tmp_path),
    )
    assert record.run(cfg) == {}
    path = tmp_path / "robosuite" / "task_0.hdf5"
    with h5py.File(path, "r") as f:
        data = f["data"]
        assert data.attrs["instruction"] == "lift the red cube"
        assert sorted(data) == ["demo_0", "demo_1"]
        d0, d1 = data["demo_0"], data["demo_1"]
        n = d0.attrs["num_samples"]
        m = (n + 1) // 2  # images every 2nd step
        assert d0["actions"].shape == (n, 7) and d0["obs/agentview_rgb"].shape == (m, 32, 32, 3)
        assert d0["obs/eye_in_hand_rgb"].shape == (m, 32, 32, 3) and d0["obs/state"].shape[0] == n
        np.testing.assert_array_equal(d0["obs_steps"][:], np.arange(0, n, 2))
        assert d0["obs/agentview_rgb"][1].std() > 0  # the stored frames were rendered
        assert d0["rewards"][-1] == 1 and bool(d0.attrs["success"])
        assert not d0.attrs["noisy"] and d1.attrs["noisy"]
        np.testing.assert_array_equal(d0["actions"][:], d0["executed_actions"][:])
        assert not np.array_equal(d1["actions"][:], d1["executed_actions"][:])
    assert record.plan_jobs(cfg) == []  # resume: nothing left to record
    with pytest.raises(record.SettingsMismatch, match="image_size=32 \\(asked 64\\)"):
        record.plan_jobs(replace(cfg, image_size=64))  # 64-px demos must not join 32-px ones
    with pytest.raises(record.SettingsMismatch, match=f"expert={EXPERT_VERSION} \\(asked 1\\)"):
        record.plan_jobs(replace(cfg, expert=1))  # another expert's labels must not join these
    more = replace(cfg, episodes_per_task=4)  # extending: allowed, with a note on the noisy set
    assert [j.episode for j in record.plan_jobs(more)] == [2, 3]
    assert "noisy set differs" in capsys.readouterr().out
    monkeypatch.setattr(record, "record_episode", lambda job, cfg: {"job": job, "success": False, "attempts": 3})
    assert record.run(more) == {("robosuite", 0): [2, 3]}  # the expert fails: the failures are remembered
    assert record.plan_jobs(more) == []  # a deterministic replay would fail again: not retried
    assert record.run(more) == {("robosuite", 0): [2, 3]}  # still reported as missing
    assert [j.episode for j in record.plan_jobs(replace(more, retry_failed=True))] == [2, 3]
    # at 5 episodes episode 2 is clean (the noisy ones are the last 2): another episode, so it is tried
    assert [j.episode for j in record.plan_jobs(replace(more, episodes_per_task=5))] == [2, 4]
    monkeypatch.undo()
    features.main(["--demos", str(tmp_path), "--out", str(tmp_path / "feats"), "--threads", "1"])
    with h5py.File(tmp_path / "feats" / "robosuite" / "task_0.hdf5", "r") as f:
        assert f["lang"].shape == (384,) and f.attrs["instruction"] == "lift the red cube"
        assert f["demo_0/image_feats"].shape == (m, 2, 1280, 1, 1) and f["demo_0/image_feats"].dtype == np.float16
        assert f["demo_1/state"].shape[0] == f["demo_1/actions"].shape[0]
    # a changed task re-encodes only the demos that changed: here a new demo_7 and an edited demo_1
    with h5py.File(path, "a") as f:
        f.copy(f["data/demo_1"], f["data"], name="demo_7")
        f["data/demo_1/actions"][0] += 0.5
    with h5py.File(tmp_path / "feats" / "robosuite" / "task_0.hdf5", "r") as f:
        before = f["demo_0/image_feats"][()]
    encoded = []
    fake = lambda x, **kw: encoded.append(len(x)) or np.zeros((len(x), 1280, 1, 1))  # noqa: E731
    monkeypatch.setattr(features, "encode_images", fake)
    features.main(["--demos", str(tmp_path), "--out", str(tmp_path / "feats"), "--threads", "1"])
    assert len(encoded) == 4  # 2 demos x 2 cameras
    with h5py.File(tmp_path / "feats" / "robosuite" / "task_0.hdf5", "r") as f:
        assert sorted(k for k in f if k.startswith("demo_")) == ["demo_0", "demo_1", "demo_7"]
        np.testing.assert_array_equal(f["demo_0/image_feats"][()], before)  # copied
        assert not f["demo_7/image_feats"][()].any() and not f["demo_1/image_feats"][()].any()  # encoded anew
    with h5py.File(path, "a") as f:  # demo_0 recorded again at 64 px (same actions and proprio)
        frames = f["data/demo_0/obs/agentview_rgb"][()]
        del f["data/demo_0/obs/agentview_rgb"]
        f["data/demo_0/obs/agentview_rgb"] = np.repeat(np.repeat(frames, 2, 1), 2, 2)
    with h5py.File(tmp_path / "feats" / "robosuite" / "task_0.hdf5", "a") as f:
        del f["demo_1"].attrs["image_hw"]  # a cache from before the image size was stored: checked by its grid
    encoded.clear()
    features.main(["--demos", str(tmp_path), "--out", str(tmp_path / "feats"), "--threads", "1"])
    assert len(encoded) == 2  # only demo_0
    encoded.clear()
    features.main(["--demos", str(tmp_path), "--out", str(tmp_path / "feats"), "--threads", "1"])
    assert encoded == []  # up to date


def test_throughput_compares_the_render_paths():
    from bench.throughput import PATHS, compare_render_paths

    r = compare_render_paths("robosuite", 0, steps=3, rounds=1, image_size=32, face_budget=400, eval_stride=2)
    for path in PATHS:
        assert r[f"{path}_record_ms"] > 0 and r[f"{path}_eval_ms"] > 0
    assert r["simplified_record_over_physics"] == pytest.approx(r["simplified_record_ms"] / r["physics_record_ms"])
    assert "full_eval_over_robosuite" in r and "physics_record_over_physics" not in r


def test_sweep_expands_budgets_and_resumes(tmp_path):
    from bench import sweep

    with pytest.raises(ValueError, match="trained budgets"):
        sweep.configs(["student"], [0.123], suites=["robosuite"], out=str(tmp_path))
    with pytest.raises(ValueError, match="Unknown policy"):
        sweep.configs(["nope"], [0.5], suites=["robosuite"], out=str(tmp_path))
    common = dict(suites=["robosuite"], tasks=[0], out=str(tmp_path))
    first = sweep.sweep(sweep.configs(["expert"], [0.5], episodes_per_task=1, **common), workers=1)
    assert [r["init_state"] for r in first["expert"]] == [0]
    second = sweep.sweep(sweep.configs(["expert"], [0.5], episodes_per_task=2, **common), workers=1)
    assert [r["init_state"] for r in second["expert"]] == [0, 1]
    assert second["expert"][0] == first["expert"][0]  # recorded episode reused, not rerun
    lines = (tmp_path / "episodes" / "expert" / "robosuite.jsonl").read_text().splitlines()
    assert len(lines) == 2
    # the command line records --no-cost in each new episode's config (the rebuilt command keeps it)
    cli = ["--policies", "expert", "--suite", "robosuite", "--tasks", "0", "--episodes-per-task", "3"]
    sweep.main([*cli, "--workers", "1", "--out", str(tmp_path), "--no-cost"])
    recs = [json.loads(line) for line in (tmp_path / "episodes" / "expert" / "robosuite.jsonl").open()]
    assert [r["config"]["cost"] for r in recs] == [True, True, False]
    sweep.main([*cli[:-1], "1", "--workers", "1", "--out", str(tmp_path), "--no-cost", "--instruction", "unrelated"])
    probed = [json.loads(x) for x in (tmp_path / "episodes" / "expert_instr-unrelated" / "robosuite.jsonl").open()]
    assert [r["config"]["instruction"] for r in probed] == ["unrelated"]
    assert sweep.interleave([[1, 2, 3], [], ["a", "b"]]) == [1, "a", 2, "b", 3]


def test_scaling_runs_same_episodes_per_worker_count(tmp_path):
    """The teacher VLA gives the same actions with 1 worker and with 2 (same torch thread count)."""
    from bench import scaling

    scaling.main(
        ["--policy", "teacher", "--suite", "libero_spatial", "--tasks", "0", "--episodes-per-task", "2"]
        + ["--workers", "1", "2", "--out", str(tmp_path), "--scratch", str(tmp_path / "scratch")]
    )
    result = json.loads((tmp_path / "scaling" / "teacher.json").read_text())
    assert [r["workers"] for r in result["runs"]] == [1, 2]
    assert all(r["episodes"] == 2 and r["episodes_per_min"] > 0 for r in result["runs"])
    assert result["identical_episodes"] is True


def test_video_writes_an_mp4(tmp_path):
    """``bench.run --video`` needs an mp4 writer on a fresh install (imageio's ffmpeg plugin)."""
    import imageio.v3 as iio
    import numpy as np

    from bench.run import save_video

    frames = [np.full((96, 192, 3), 20 * i, np.uint8) for i in range(5)]
    path = tmp_path / "videos" / "ep.mp4"
    save_video(frames, path)
    assert iio.imread(path).shape[:2] == (5, 96)


def test_gates_benchmark_compares_both_gate_paths(tmp_path, capsys):
    from bench import gates

    gates.main(["--budgets", "0.5", "--rounds", "1", "--calls", "3", "--episodes", "1", "--out", str(tmp_path)])
    r = json.loads((tmp_path / "gates" / "student_b0.5.json").read_text())
    # structure only: the speedups are timings (bench/, not a unit test), so they must exist and be positive
    assert len(r["rounds"]) == 1
    assert all(r["median"][k] > 0 for k in ("speedup_trunk_numpy", "speedup_trunk_torch"))
    assert "trunk speedup" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:  # no router: nothing to compare
        gates.main(["--policy", "teacher", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "not a routed student" in capsys.readouterr().err


def test_copycat_probe_changes_only_the_finger_proprio(capsys):
    """bench.diagnostics.copycat: the actual proprio first, then one row per finger opening, all at the same step."""
    from bench.diagnostics import copycat

    rows = copycat.probe("teacher", "robosuite", 0, 0, at=3, fingers=[0.04, 0.0])
    assert [r["fingers"] for r in rows][1:] == ["0.04", "0"] and rows[0]["fingers"].startswith("actual")
    assert all(r["gripper"].shape == (8,) and r["eef_z"] == rows[0]["eef_z"] for r in rows)
    with pytest.raises(ValueError, match="not a VLA"):
        copycat.probe("expert", "robosuite", 0, 0, at=1, fingers=[0.04])
    copycat.main(["--policy", "teacher", "--suite", "robosuite", "--task", "0", "--at", "2", "--fingers", "0.02"])
    assert "fingers           0.02: gripper" in capsys.readouterr().out


def test_latency_is_timed_on_calls_of_every_evaluated_task():
    """The cost's timing observations come from each evaluated task, not the first one only."""
    from bench import measure
    from bench.evaluate import RunConfig, make_env_and_policy, policy_kwargs

    cfg = RunConfig(policy="teacher", suites=["robosuite"], tasks=[0, 1])
    env, policy = make_env_and_policy(cfg.policy, "robosuite", 0, measure.env_kwargs(cfg), **policy_kwargs(cfg))
    env.close()
    obs = measure.timing_observations(cfg, policy, steps=16)
    assert len(obs) == 4  # 16 steps, a call every 8, on each of the 2 tasks
    assert len({o["instruction"] for o in obs}) == 2
    # whole episodes: the calls are spread from the first to the last, not taken from the approach alone
    cfg = RunConfig(policy="teacher", suites=["robosuite"], tasks=[0])
    import envs

    env = envs.make_env("robosuite", 0, **measure.env_kwargs(cfg))
    every = measure.call_observations(env, policy, measure.episode_seed(cfg.seed, 0, 0), range(1), 10_000)
    env.close()
    spread = measure.timing_observations(cfg, policy, per_task=3)
    assert len(every) > 3 and len(spread) == 3
    assert (spread[0]["state"] == every[0]["state"]).all() and (spread[-1]["state"] == every[-1]["state"]).all()
    assert measure.timed_calls(80) == 80 and measure.timed_calls(25) == 75  # each observation equally often


def test_stall_diagnostic_replays_a_stalled_failure_and_measures_it_against_the_experts_grasp(tmp_path):
    """bench.diagnostics.stalls: only stalled failures are replayed; the replay reproduces the record's
    actions, and the row places the hand against the expert's grasp."""
    from bench import run
    from bench.diagnostics import stalls
    from bench.records import read_records

    out = tmp_path / "run"
    args = ["--policy", "teacher", "--suite", "robosuite", "--tasks", "0", "--episodes-per-task", "1"]
    run.main([*args, "--no-cost", "--out", str(out)])
    path = out / "episodes" / "teacher" / "robosuite.jsonl"
    (rec,) = read_records(path)
    path.write_text(json.dumps({**rec, "success": False, "still_steps_at_end": 5}) + "\n")
    with pytest.raises(SystemExit, match="no stalled failure"):  # moving until the end: not a stall
        stalls.stall_rows(out, None, "robosuite", 1)
    path.write_text(json.dumps({**rec, "success": False, "still_steps_at_end": 60}) + "\n")
    (row,) = stalls.stall_rows(out, None, "robosuite", 1)
    assert row["replay_matches"] and row["expert_close_step"] > 0
    assert 0 <= row["stall_onset_step"] <= rec["steps"] and np.isfinite(row["xy_mm"])


def test_expert_grasps_diagnostic_reports_how_each_descent_ended(tmp_path, capsys):
    """bench.diagnostics.expert_grasps: one row per grasp, with how its descent ended; bad task ids are refused."""
    import csv

    from bench.diagnostics import expert_grasps

    rows = expert_grasps.run_task("robosuite", 0, episodes=1)
    assert rows and rows[0]["success"] and rows[0]["descent"] in ("tol", "stall", "steps")
    assert rows[0]["close_steps"] >= 3
    out = tmp_path / "g.csv"
    expert_grasps.main(["--suite", "robosuite", "--episodes-per-task", "1", "--out", str(out)])
    assert "robosuite: descents" in capsys.readouterr().out
    assert next(csv.DictReader(out.open()))["descent"] in ("tol", "stall", "steps")
    with pytest.raises(SystemExit):
        expert_grasps.main(["--suite", "robosuite", "--tasks", "99"])
