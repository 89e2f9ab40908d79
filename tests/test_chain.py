"""bench.chain: stage commands, their log, and skipping what finished with the same command."""

import json

import pytest

from bench import chain


def test_chain_runs_each_stage_once_and_logs_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(chain.subprocess, "call", lambda argv: calls.append(argv[2:]) or 0)
    cfg = chain.ChainConfig(name="t", stages=["record", "render", "encode"], workers=1)
    cmds = cfg.commands()
    assert list(cmds) == ["record", "render", "encode"]
    assert chain._split(cmds["record"])[1][-3:] == ["robosuite", "--tasks", "0"]  # Lift only
    chain.run(cfg)
    assert [c[0] for c in calls] == ["demos.record", "demos.record", "demos.render", "demos.features"]
    log = [json.loads(x) for x in (tmp_path / "runs" / "chain_t" / "stages.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in log] == ["record", "render", "encode"] and all(r["rc"] == 0 for r in log)
    calls.clear()
    chain.run(cfg)  # all done with the same commands
    assert calls == []
    chain.run(chain.ChainConfig(name="t", stages=["encode"], workers=1, face_budget=1500))
    assert calls == []  # encode's command does not depend on the budget... but render's does:
    chain.run(chain.ChainConfig(name="t", stages=["render"], workers=1, face_budget=1500))
    assert [c[0] for c in calls] == ["demos.render"]
    calls.clear()  # new images: encode's same command runs again, record's does not
    chain.run(chain.ChainConfig(name="t", stages=["record", "render", "encode"], workers=1, face_budget=1500))
    assert [c[0] for c in calls] == ["demos.features"]
    calls.clear()
    chain.run(chain.ChainConfig(name="t", stages=["record", "render", "encode"], workers=1, face_budget=1500))
    assert calls == []


def test_chain_stops_at_a_failing_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(
        chain.subprocess, "call", lambda argv: calls.append(argv[2]) or (3 if argv[2] == "demos.features" else 0)
    )
    recs = chain.run(chain.ChainConfig(name="f", stages=["encode", "train"], workers=1))
    assert calls == ["demos.features"] and recs[-1]["rc"] == 3
    with pytest.raises(ValueError, match="unknown stages"):
        chain.ChainConfig(stages=["bake"])


def test_a_stage_logged_under_its_old_module_is_not_rerun(tmp_path, monkeypatch):
    """Logs written before the pipeline moved to ``demos`` (issue 40) name bench.demos etc.: still done."""
    monkeypatch.chdir(tmp_path)
    cfg = chain.ChainConfig(name="o", stages=["record", "render", "encode"], workers=1)
    old = {"demos.record": "bench.demos", "demos.render": "bench.render_demos"}
    old["demos.features"] = "policies.vla.features"
    cfg.log.parent.mkdir(parents=True)
    with open(cfg.log, "w") as f:
        for stage, cmd in cfg.commands().items():
            f.write(json.dumps({"stage": stage, "command": [old.get(a, a) for a in cmd], "rc": 0}) + "\n")
    calls = []
    monkeypatch.setattr(chain.subprocess, "call", lambda argv: calls.append(argv[2]) or 0)
    chain.run(cfg)
    assert calls == []


def test_chain_commands_carry_the_teacher_recipe():
    """Finer features reach the encoder and the trainer; LIBERO is evaluated on 50 init states per task, Lift on 100."""
    cmds = chain.ChainConfig(name="t", workers=1).commands()
    assert cmds["encode"][-2:] == ["--feature-blocks", "11"]
    assert "--token-merge 2 --finger-dropout 0.5" in " ".join(cmds["train"])
    libero, lift = chain._split(cmds["evaluate"])
    assert libero[libero.index("--episodes-per-task") + 1] == "50" and "libero_object" in libero
    assert lift[lift.index("--episodes-per-task") + 1] == "100" and lift[-3:] == ["robosuite", "--tasks", "0"]
    whole = chain.ChainConfig(name="t", feature_blocks=0, suites=["robosuite"]).commands()
    assert "--feature-blocks" not in whole["encode"] and len(chain._split(whole["evaluate"])) == 1


def test_a_dagger_round_trains_its_own_teacher_from_the_one_that_drove():
    drove = dict(dagger_policy="teacher", dagger_checkpoint="checkpoints/teacher_t")
    cfg = chain.ChainConfig(name="t", dagger_round=2, **drove)
    cmds = cfg.commands()
    dagger = chain._split(cmds["dagger"])[0]
    assert dagger[:2] == ["demos.dagger", "--policy"] and dagger[dagger.index("--round") + 1] == "2"
    train = cmds["train"]
    assert train[train.index("--init") + 1] == "checkpoints/teacher_t"
    assert train[train.index("--out") + 1] == "runs/teacher_t_r2"
    assert train[train.index("--export") + 1] == "checkpoints/teacher_t_r2"
    assert "checkpoints/teacher_t_r2" in cmds["evaluate"] and "runs/eval_t_r2" in cmds["evaluate"]
    assert [p[0] for p in chain._split(cmds["render"])] == ["demos.render"] * 2  # base and DAgger demos
    assert "--lr" not in train  # policies.train's default unless asked
    tuned = chain.ChainConfig(name="t", train_lr=1e-4, **drove).commands()["train"]
    assert tuned[tuned.index("--lr") + 1] == "0.0001"
    assert "--init-partial" not in train  # the teacher that drove has the same architecture
    first = chain.ChainConfig(name="t").commands()["train"]  # warm start from the committed teacher
    assert first[first.index("--init") :][:3] == ["--init", "checkpoints/teacher", "--init-partial"]
    assert "--init" not in chain.ChainConfig(name="t", warm_start="").commands()["train"]


def test_keep_going_reruns_a_paused_train_stage_and_train_writes_a_resume_point(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    codes = iter([chain.PAUSED, chain.PAUSED, 0, 0, 0])
    calls = []
    monkeypatch.setattr(chain.subprocess, "call", lambda argv: calls.append(argv[2]) or next(codes))
    recs = chain.run(chain.ChainConfig(name="k", stages=["train", "evaluate"], workers=1, keep_going=True))
    assert [r["rc"] for r in recs] == [chain.PAUSED, chain.PAUSED, 0, 0]  # 3 train records, then evaluate
    assert calls == ["policies.train"] * 3 + ["bench.run"] * 2  # LIBERO, then Lift
    train = chain.ChainConfig(name="k").commands()["train"]
    assert train[train.index("--wip") + 1] == "checkpoints/wip/teacher_k"
    calls.clear()
    monkeypatch.setattr(chain.subprocess, "call", lambda argv: calls.append(argv[2]) or chain.PAUSED)
    chain.run(chain.ChainConfig(name="j", stages=["train", "evaluate"], workers=1))  # without: exits paused
    assert calls == ["policies.train"]


def test_a_grasp_is_not_a_stall_but_a_still_hand_is():
    import numpy as np

    from demos.dagger import DaggerConfig, stalled

    cfg = DaggerConfig(stall_steps=15)
    still = [np.zeros(18, dtype=np.float32) for _ in range(15)]
    closing = [s.copy() for s in still]
    for k, s in enumerate(closing):
        s[9:11] = (0.04 - 0.002 * min(k, 10), -0.04 + 0.002 * min(k, 10))  # fingers closing for 10 steps
    moving = [s.copy() for s in still]
    for k, s in enumerate(moving):
        s[0] = 0.002 * k
    assert stalled(still, cfg)
    assert not stalled(closing, cfg) and not stalled(moving, cfg) and not stalled(still[:14], cfg)
