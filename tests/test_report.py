"""bench.report on synthetic records: tables, plots and results/README.md."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from bench import report
from bench.expert_report import write_expert
from bench.readme import eval_commands
from bench.records import append_record
from bench.tables import split_label


def _records(
    root: Path,
    label: str,
    suite: str,
    successes: list[bool],
    keeps: list[str] | None = None,
    extra: list[dict] | None = None,
    **where,
) -> None:
    policy, budget = split_label(label)
    cfg = {"policy": policy, "budget": budget, "suites": [suite], "tasks": None, "episodes_per_task": len(successes)}
    cfg |= {"workers": 2, "cost": True, **where}
    for k, s in enumerate(successes):
        rec = {"policy": label, "suite": suite, "task_id": k % 2, "init_state": k, "seed": k, "success": s}
        rec["steps"] = 100
        rec |= {"error": None, "error_kind": None, "config": cfg}
        if keeps:
            rec |= {"keeps": keeps, "layer_fraction": sum(map(int, "".join(keeps))) / len("".join(keeps))}
        rec |= extra[k] if extra else {}
        append_record(root / "episodes" / label / f"{suite}.jsonl", rec)


def _cost(root: Path, label: str, **extra) -> None:
    c = {"gflops_call": 1.5, "gflops_trunk": 1.2, "call_ms": 20.0, "trunk_ms": 14.0, **extra}
    (root / "cost").mkdir(parents=True, exist_ok=True)
    (root / "cost" / f"{label}.json").write_text(json.dumps(c))


def test_report_tables_plots_and_readme(tmp_path) -> None:
    root = tmp_path / "results"
    for suite in ("libero_spatial", "libero_object"):
        _records(root, "teacher", suite, [True] * 8 + [False] * 2)
        _records(root, "student_b0.5", suite, [True] * 7 + [False] * 3, keeps=["110010", "101100"])
        _records(root, "nograph_b0.5", suite, [True] * 4 + [False] * 6, keeps=["111000"])
        _records(root, "student_b0.25", suite, [True] * 6 + [False] * 4, keeps=["100010"])
        _records(root, "truncate_b0.25", suite, [True] * 5 + [False] * 5, keeps=["110000"])
        _records(root, "student_b0.75", suite, [True] * 8 + [False] * 2, keeps=["111011"])
        for run, label, hits in (("actdistill_s1", "student_b0.5", 6), ("nograph_s1", "nograph_b0.5", 5)):
            where = {"checkpoint": f"ck/{run}_b0.5", "out": f"results/seeds/{run}", "cost": False}
            _records(root / "seeds" / run, label, suite, [True] * hits + [False] * (10 - hits), ["110000"], **where)
    _cost(root, "teacher")
    routed = {"layer_fraction": 0.5, "trunk_flops_ratio": 0.5, "speedup_trunk": 1.9, "teacher_call_ms": 20.0}
    _cost(root, "student_b0.5", speedup_call=1.4, amdahl_bound=1.5, code="abc1234", **routed)
    _cost(root, "nograph_b0.5", speedup_call=1.3, amdahl_bound=1.5, suite="libero_spatial", **routed)
    (root / "profiles").mkdir()
    profile = {"graph": "dag", "action_change": [0.4, 0.1, 0.05], "probe_l1_per_depth": [0.6, 0.3, 0.27, 0.26]}
    (root / "profiles" / "action_change_actdistill_dag.json").write_text(json.dumps(profile))
    profile["name"] = "actdistill_s1"  # a second run's profile gets its own plot
    (root / "profiles" / "action_change_actdistill_s1_dag.json").write_text(json.dumps(profile))

    for stale in (root / "tables" / "ablation_b0.9.md", root / "plots" / "routing_tasks_gone_b0.5.png"):
        stale.parent.mkdir(parents=True, exist_ok=True)  # outputs of records that went away
        stale.write_text("old")
        os.utime(stale, (0, 0))
    tables = report.write(root, checkpoints=tmp_path / "no_checkpoints")
    assert not (root / "tables" / "ablation_b0.9.md").exists()
    assert not (root / "plots" / "routing_tasks_gone_b0.5.png").exists()

    main = tables["main"].set_index("policy")
    assert main.loc["Teacher VLA", "Spatial"].startswith("80.0 [49, 94] (n=10)")
    assert main.loc["ActDistill @ 0.5", "LIBERO avg"] == "70.0"
    assert main.loc["ActDistill @ 0.25", "layers run"] == "0.33"  # from its episodes' keeps (it has no cost file)
    assert main.loc["ActDistill @ 0.5", "speedup call / trunk"] == "1.40x / 1.90x"
    assert main.loc["ActDistill @ 0.5", "paired vs teacher"] == "-10.0 [-24.9, +4.0]; +0 / -2 (20)"
    ablation = tables["ablation_b0.5"].set_index("method")
    gap = ablation.loc["Router, no graph (MoLe-VLA-like)", "vs ActDistill, same episodes (points)"]
    assert gap == "-30.0 [-46.4, -9.1] (n=20)"
    assert "n=20" in ablation.loc["ActDistill", "LIBERO pooled"]
    assert ablation.loc["ActDistill", "cost code"] == "abc1234"
    assert ablation.loc["Router, no graph (MoLe-VLA-like)", "cost code"] == "unrecorded"
    # one ablation table per budget with a baseline beside ActDistill; none at 0.75 (ActDistill alone)
    assert set(tables) == {"main", "ablation_b0.25", "ablation_b0.5", "seeds_b0.5"}
    low = tables["ablation_b0.25"].set_index("method")
    assert list(low.index) == ["ActDistill", "Static truncation"]
    assert low.loc["Static truncation", "vs ActDistill, same episodes (points)"].endswith("(n=20)")
    plots = ("success_vs_flops", "success_vs_speedup", "routing_tasks_student_b0.5")
    profiles = ("action_change_profile_actdistill_dag", "action_change_profile_actdistill_s1_dag")
    for name in plots + profiles:
        assert (root / "plots" / f"{name}.png").stat().st_size > 5000
    seeds = tables["seeds_b0.5"].set_index(["method", "training seed"])
    assert list(seeds.index.get_level_values(1)) == [0, 1, 0, 1]
    assert seeds.loc[("ActDistill", 1), "LIBERO pooled"].startswith("60.0 [39, 78] (n=20)")
    assert seeds.loc[("ActDistill", 1), "vs its seed 0"] == "-10.0 [-22.9, +3.1] (n=20)"
    assert seeds.loc[("Router, no graph (MoLe-VLA-like)", 1), "vs ActDistill, same seed"].startswith("-10.0")
    assert seeds.loc[("Router, no graph (MoLe-VLA-like)", 0), "vs its seed 0"] == ""
    assert (root / "tables" / "main.tex").read_text().startswith("\\begin{tabular}")
    readme = (root / "README.md").read_text()
    assert "python -m bench.run --policy student --budget 0.5 --suite libero_spatial --episodes-per-task 10" in readme
    assert "![success_vs_flops](plots/success_vs_flops.png)" in readme
    assert "## Training-seed replicates at budget 0.5" in readme
    seed_cmd = "--suite libero_spatial --episodes-per-task 10 --workers 2 --checkpoint ck/nograph_s1_b0.5"
    assert f"{seed_cmd} --out results/seeds/nograph_s1 --no-cost" in readme  # the cost file is seed 0's
    assert "## Ablation at budget 0.25" in readme and (root / "tables" / "ablation_b0.25.tex").exists()


def test_training_commands_print_the_stored_command(tmp_path) -> None:
    """A stored command is printed as it is, once for the students of one run (their minutes summed);
    metadata without one (older runs, library calls) still gets a rebuilt command."""
    from bench.readme import training_commands

    cmd = "python -m distill.run --budgets 0.25 0.5"
    metas = {
        "actdistill_b0.25": {"command": cmd, "train_wall_s": 60},
        "actdistill_b0.5": {"command": cmd, "train_wall_s": 120},
        "nograph_b0.5": {"method": "nograph", "student": {"budget": 0.5}, "steps": 2000, "train_wall_s": 600},
    }
    (tmp_path / "training").mkdir()
    for name, meta in metas.items():
        (tmp_path / "training" / f"{name}.json").write_text(json.dumps(meta))
    assert training_commands(tmp_path) == [
        f"{cmd}   # 3 min",
        "python -m distill.run --method nograph --budgets 0.5 --steps 2000   # 10 min",
    ]


def test_eval_commands_collapse_resumed_extensions() -> None:
    base = {"policy": "teacher", "budget": None, "suites": ["libero_spatial"], "tasks": None, "cost": True}
    cfgs = [base | {"episodes_per_task": n, "workers": w} for n, w in ((10, 1), (50, 2), (20, 2))]
    cfgs[1]["cost"] = False  # an extension run with --no-cost: the group measured its cost before
    student = base | {"policy": "student", "budget": 0.5, "episodes_per_task": 5, "workers": 2, "cost": False}
    df = pd.DataFrame({"policy": ["teacher"] * 3 + ["student_b0.5"], "config": [*cfgs, student]})
    cmds = eval_commands(df)
    assert cmds == [
        "python -m bench.run --policy teacher --suite libero_spatial --episodes-per-task 50 --workers 2",
        "python -m bench.run --policy student --budget 0.5 --suite libero_spatial --episodes-per-task 5 --workers 2"
        " --no-cost",
    ]
    # a cost-only rerun over recorded episodes leaves a cost file, not an episode: that group is costed
    assert not eval_commands(df, {"student_b0.5": {"suite": "libero_spatial"}})[1].endswith("--no-cost")
    # a cost file measured on another suite does not make this group costed
    assert eval_commands(df, {"student_b0.5": {"suite": "robosuite"}})[1].endswith("--no-cost")
    # another execution horizon is another run, not an extension
    x4 = base | {"episodes_per_task": 10, "workers": 2, "exec_steps": 4, "cost": False}
    cmds = eval_commands(pd.DataFrame({"policy": ["teacher", "teacher_x4"], "config": [cfgs[0], x4]}))
    assert cmds[1] == (
        "python -m bench.run --policy teacher --exec-steps 4 --suite libero_spatial --episodes-per-task 10"
        " --workers 2 --no-cost"
    )


def test_exec_labels_name_and_order() -> None:
    from bench.tables import display, policy_order, split_exec

    assert split_exec("teacher_x4") == ("teacher", 4) and split_exec("teacher_obj50") == ("teacher_obj50", None)
    assert display("student_x4_b0.5") == "ActDistill, replanning every 4 steps @ 0.5"
    assert policy_order(["nograph_b0.5", "student_x4_b0.5", "teacher_x4", "teacher"]) == [
        "teacher",
        "teacher_x4",
        "student_x4_b0.5",
        "nograph_b0.5",
    ]


def test_every_vla_policy_has_a_table_name_and_a_marker() -> None:
    """A newly registered student or baseline shows up in tables and plots under its own name, marker and
    colour (its ``PolicySpec.marker``)."""
    from matplotlib.markers import MarkerStyle

    from bench.plots import MARKERS, PALETTE
    from bench.tables import METHOD_NAMES
    from policies.registry import POLICIES

    routed = [n for n, s in POLICIES.items() if s.routed]
    assert {"student", "student_noise", "dense", "early_exit"} <= set(routed)
    assert list(MARKERS) == routed
    for name in routed:
        assert name in METHOD_NAMES, name
        MarkerStyle(MARKERS[name])  # a marker matplotlib knows
    assert len(set(MARKERS.values())) == len(MARKERS), "two methods would share a plot marker"
    assert len(MARKERS) <= len(PALETTE), "two methods would share a plot colour"


def test_table_names_are_the_registered_display_names() -> None:
    """Tables name each policy by its ``PolicySpec.display_name``; a retired policy keeps its name and place."""
    from bench.tables import METHOD_NAMES, RETIRED
    from policies.registry import POLICIES

    assert {n: METHOD_NAMES[n] for n in POLICIES} == {n: s.display_name for n, s in POLICIES.items()}
    assert set(METHOD_NAMES) == set(POLICIES) | set(RETIRED)
    names = list(METHOD_NAMES)
    assert names.index("teacher_big") == names.index("teacher_obj50") + 1


def test_failure_modes_split_stalled_from_moving_failures(tmp_path) -> None:
    """Failures whose arm stood still for their last 50+ steps count as stalled; older records without
    the field are left out, and a report with such records gains the failures table."""
    from bench.failures import still_steps_at_end
    from bench.tables import failure_modes

    assert still_steps_at_end([[0, 0, 0]] * 5) == 4  # never moved: every step
    assert still_steps_at_end([[0, 0, 0], [0.1, 0, 0], [0.2, 0, 0]]) == 0  # moving to the end
    assert still_steps_at_end([[0, 0, 0], [0.2, 0, 0], [0.205, 0, 0], [0.2, 0.001, 0]]) == 2
    root = tmp_path / "results"
    _records(root, "teacher", "libero_object", [True] * 2 + [False] * 4)  # older records: no field
    path = root / "episodes" / "teacher" / "libero_object.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(
        "".join(
            json.dumps(r | {"still_steps_at_end": s}) + "\n" for r, s in zip(recs, [3, 2, 200, 60, 10, 49], strict=True)
        )
    )
    recs[5] |= {"init_state": 9, "error": "SimulationError: unstable", "error_kind": "simulator"}
    append_record(path, recs[5] | {"still_steps_at_end": 120})
    append_record(path, recs[4] | {"init_state": 10})  # no field: not counted
    t = failure_modes(pd.read_json(path, lines=True)).set_index(["policy", "suite"])
    row = t.loc[("Teacher VLA", "Object")]
    assert (row.episodes, row.failures, row.stalled, row.moving, row.errors) == (7, 5, 2, 2, 1)
    assert row["median still steps (failures)"] == 60
    tables = report.write(root, checkpoints=tmp_path / "no_checkpoints")
    assert "failures" in tables and "## Failure modes" in (root / "README.md").read_text()


def test_failure_table_counts_diagnostic_reruns_once(tmp_path) -> None:
    """Traced reruns under diagnostics/ join the failure table; an episode recorded both there and in
    episodes/ with the field counts once; the main table ignores the reruns."""
    root = tmp_path / "results"
    _records(root, "teacher", "libero_object", [True, False, False])  # older evaluation: no field
    path = root / "episodes" / "teacher" / "libero_object.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    diag = root / "diagnostics" / "teacher_object" / "episodes.jsonl"
    for r, still in zip(recs, [5, 80, 3], strict=True):
        append_record(diag, r | {"still_steps_at_end": still})
    append_record(diag, recs[1] | {"still_steps_at_end": 80})  # the same episode twice: counted once
    t = report.failure_modes(report.failure_records(root, report.load_episodes(root)))
    row = t.set_index(["policy", "suite"]).loc[("Teacher VLA", "Object")]
    assert (row.episodes, row.failures, row.stalled, row.moving) == (3, 2, 1, 1)
    tables = report.write(root, checkpoints=tmp_path / "no_checkpoints")
    assert "failures" in tables and "(n=3)" in tables["main"].to_string()


def test_run_summary_counts_stalled_failures() -> None:
    from bench.run import summary_table

    base = {"policy": "teacher", "suite": "libero_object", "task_id": 3, "instruction": "pick up the bbq sauce"}
    base |= {"steps": 280, "error": None, "error_kind": None}
    outcomes = [(True, 2), (False, 230), (False, 180), (False, 12)]
    records = [base | {"success": s, "still_steps_at_end": k} for s, k in outcomes]
    assert "1/4 = 25.0%" in summary_table(records) and "stalled: 2" in summary_table(records)
    assert "stalled" not in summary_table([{k: v for k, v in r.items() if k != "still_steps_at_end"} for r in records])


def test_robustness_table_pairs_perturbed_suites_and_probes_with_the_clean_suite(tmp_path) -> None:
    """Perturbed-suite and probe episodes go to the robustness table only, each paired with the same policy's
    clean episode on the same task and init state; the drop and its paired interval come from those pairs."""
    root = tmp_path / "results"
    _records(root, "teacher", "libero_spatial", [True] * 10)
    _records(root, "teacher", "libero_spatial_with_mug", [True] * 6 + [False] * 4)
    told = [{"instructed_success": x} for x in [False] * 8 + [True, None]]  # None: the scene cannot tell
    swap = [True] * 9 + [False]
    _records(root, "teacher_instr-swap", "libero_spatial", swap, extra=told, policy="teacher", instruction="swap")
    _records(root, "student_b0.5", "libero_spatial", [True] * 8 + [False] * 2, keeps=["110010"])
    _records(root, "student_b0.5", "libero_spatial_with_mug", [True] * 3 + [False] * 7, keeps=["110010"])
    _cost(root, "teacher")
    _cost(root, "student_b0.5", trunk_flops_ratio=0.5)
    tables = report.write(root, checkpoints=tmp_path / "no_checkpoints")
    main = tables["main"]
    assert list(main.policy) == ["Teacher VLA", "ActDistill @ 0.5"]  # no probe row, no perturbed column
    assert main.loc[0, "Spatial"].startswith("100.0") and "libero_spatial_with_mug" not in main.columns
    rob = tables["robustness"].set_index(["policy", "test"])
    assert list(rob.index) == [
        ("Teacher VLA", "libero_spatial_with_mug"),
        ("Teacher VLA", "swap instruction"),
        ("ActDistill @ 0.5", "libero_spatial_with_mug"),
    ]
    row = rob.loc[("Teacher VLA", "libero_spatial_with_mug")]
    assert (row["n"], row["suite"], row["clean"], row["perturbed"]) == (
        10,
        "Spatial",
        "100.0 [72, 100]",
        "60.0 [31, 83]",
    )
    assert row["drop (points)"].startswith("+40.0 [")
    # the student's pairs: its own clean episodes (8/10), not the teacher's
    assert rob.loc[("ActDistill @ 0.5", "libero_spatial_with_mug"), "clean"].startswith("80.0")
    assert rob.loc[("Teacher VLA", "swap instruction"), "drop (points)"].startswith("+10.0")
    assert rob.loc[("Teacher VLA", "swap instruction"), "did as told"] == "1/9"
    assert rob.loc[("Teacher VLA", "libero_spatial_with_mug"), "did as told"] == ""
    assert (root / "plots" / "robustness_vs_flops.png").stat().st_size > 5000
    readme = (root / "README.md").read_text()
    assert "## Robustness" in readme and "--instruction swap" in readme
    assert "--suite libero_spatial_with_mug" in readme


def test_eval_commands_name_published_weights_by_their_policy() -> None:
    """Records made from a folder whose weights were since published as the policy's own checkpoint are
    reproduced by the plain command; records of other weights keep their --checkpoint and --out."""
    from policies.registry import weights_sha1

    base = {"policy": "teacher", "budget": None, "suites": ["libero_spatial"], "tasks": None, "cost": False}
    cfg = base | {"episodes_per_task": 5, "workers": 2, "checkpoint": "checkpoints/teacher_wip", "out": "runs/e"}
    df = pd.DataFrame({"policy": ["teacher"] * 2, "config": [cfg, cfg], "weights_sha1": [weights_sha1("teacher"), "x"]})
    cmds = eval_commands(df)
    plain = "python -m bench.run --policy teacher --suite libero_spatial --episodes-per-task 5 --workers 2"
    assert cmds[0] == plain + " --no-cost"
    assert cmds[1].endswith("--checkpoint checkpoints/teacher_wip --out runs/e --no-cost")


def test_expert_page_is_written_from_the_expert_records(tmp_path) -> None:
    root = tmp_path / "results"
    runs = [("libero_goal", [True, True, False, True]), ("libero_spatial", [True] * 4), ("libero_goal", [False])]
    for suite, hits in runs:
        for k, hit in enumerate(hits):
            task, error = (2, "UnsupportedTask: no strategy\ntraceback") if len(hits) == 1 else (k % 2, None)
            rec = {"policy": "expert", "suite": suite, "task_id": task, "init_state": k, "seed": k, "success": hit}
            rec |= {"steps": 100, "error": error, "instruction": f"task {task}", "config": {"workers": 2}}
            append_record(root / "episodes" / "expert" / f"{suite}.jsonl", rec)
    assert write_expert(root) == root / "expert.md"
    text = (root / "expert.md").read_text()
    assert text.index("## libero_spatial") < text.index("## libero_goal")  # the suites in their usual order
    assert "python -m bench.run --policy expert --suite libero_goal --episodes-per-task 2 --workers 2" in text
    assert "libero_goal       all  3/5 = 60.0%" in text
    assert "- task 2: UnsupportedTask: no strategy" in text and "traceback" not in text
    assert write_expert(tmp_path / "empty") is None


def test_main_table_has_the_columns_of_every_teacher(tmp_path) -> None:
    """A second teacher (``teacher_gl``, LIBERO-Goal and -10) adds its suites' columns beside the teacher's."""
    root = tmp_path / "results"
    _records(root, "teacher", "libero_spatial", [True] * 4)
    _records(root, "teacher_gl", "libero_goal", [True, False, True, True])
    _records(root, "student_b0.5", "libero_goal", [True] * 4, keeps=["110010"])
    main = report.write(root, checkpoints=tmp_path / "no_checkpoints")["main"].set_index("policy")
    assert [c for c in ("Spatial", "Object", "Goal") if c in main.columns] == ["Spatial", "Goal"]
    assert main.loc["Teacher VLA, LIBERO-Goal and LIBERO-10", "Goal"].startswith("75.0")
    assert main.loc["Teacher VLA", "Goal"] == "" and main.loc["Teacher VLA", "LIBERO avg"] == "100.0 (1 of 2)"
