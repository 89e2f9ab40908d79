"""Teacher VLA: model, checkpoints, data, policy chunking, FLOP counting, training with resume."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from helpers import TINY, obs, write_features

from bench.cost import count_flops, flops
from bench.readme import training_commands
from policies.train import TrainConfig, train, use_bf16
from policies.train import main as train_main
from policies.vla.checkpoint import CheckpointError, fingerprint, load_vla, save_vla
from policies.vla.config import VLAConfig
from policies.vla.data import chunk_targets, load_frames
from policies.vla.model import VLA
from policies.vla.policy import VLAPolicy

TINY = {**TINY, "num_layers": 3}


def tiny(**kw) -> VLA:
    torch.manual_seed(0)
    return VLA(VLAConfig(**{**TINY, **kw})).eval()


def inputs(b: int = 2):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, 2, 1280, 2, 2, generator=g), torch.randn(b, 384, generator=g), torch.randn(b, 18, generator=g)


@pytest.mark.parametrize("trunk_type", ["llama", "qwen2"])
def test_trunk_types_build_and_attend_both_ways(trunk_type: str) -> None:
    m = tiny(trunk_type=trunk_type)
    assert m(*inputs()).shape == (2, 4, 7)
    x = torch.randn(1, m.cfg.num_tokens, 32)
    y = x.clone()
    y[0, -1] += 1.0  # a change in the last token must reach the first: bidirectional attention
    assert (m.run_trunk(x)[0, 0] - m.run_trunk(y)[0, 0]).abs().max() > 1e-4


def test_camera_names_are_defined_once_and_the_vla_config_loads_no_simulator() -> None:
    """``envs`` and the VLA read one ``CAMERAS``; ``policies.vla.config`` imports neither ``envs`` nor MuJoCo."""
    from envs.base import CAMERAS as env_cameras
    from policies.cameras import CAMERAS
    from policies.vla import config

    assert env_cameras is CAMERAS and config.CAMERAS is CAMERAS
    code = "import sys, policies.vla.config; print([m for m in ('envs', 'mujoco', 'robosuite') if m in sys.modules])"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"


def test_unknown_trunk_type_is_a_clear_error() -> None:
    with pytest.raises(ValueError):
        VLA(VLAConfig(**{**TINY, "trunk_type": "no-such-model"}))


def test_skipped_layers_are_identity_and_not_run() -> None:
    m = tiny()
    x = torch.randn(1, m.cfg.num_tokens, 32)
    ran = []
    for i, layer in enumerate(m.layers):
        layer.register_forward_hook(lambda *_, i=i: ran.append(i))
    with torch.no_grad():
        assert torch.equal(m.run_trunk(x, keep=[False] * 3), x)
        assert ran == []
        only_middle = m.run_trunk(x, keep=[False, True, False])
        assert ran == [1]
        pe = m.position_embeddings(x)
        assert torch.allclose(only_middle, m.run_layer(1, x, pe))


def test_checkpoint_roundtrip_and_errors(tmp_path) -> None:
    m = tiny()
    m.action_std.fill_(2.0)
    save_vla(m, tmp_path / "ck")
    loaded = load_vla(tmp_path / "ck")
    assert torch.allclose(loaded(*inputs()), m(*inputs()), atol=2e-2)  # fp16 storage
    assert torch.equal(loaded.action_std, m.action_std)
    weights = tmp_path / "ck" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot read"):
        load_vla(tmp_path / "ck")
    save_vla(m, tmp_path / "ck2")
    cfg = json.loads((tmp_path / "ck2" / "config.json").read_text())
    cfg["num_layers"] = 5
    (tmp_path / "ck2" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="do not match"):
        load_vla(tmp_path / "ck2")
    with pytest.raises(CheckpointError, match="missing"):
        load_vla(tmp_path / "nowhere")


def test_hidden_state_dims_do_not_reach_the_policy(tmp_path) -> None:
    """``hidden_state``: those proprio dims cannot change the output; the config round-trips; fine-tuning a
    saved teacher with dims hidden is allowed (same weights' shapes); an out-of-range dim is refused."""
    m = tiny(hidden_state=[10, 9])
    assert m.cfg.hidden_state == (9, 10) and "state_keep" not in m.state_dict()
    feats, lang, state = inputs()
    moved = state.clone()
    moved[:, 9:11] += 5.0
    assert torch.equal(m(feats, lang, moved), m(feats, lang, state))
    moved[:, 2] += 5.0  # a visible dim still matters
    assert not torch.equal(m(feats, lang, moved), m(feats, lang, state))
    save_vla(m, tmp_path / "ck")
    assert load_vla(tmp_path / "ck").cfg.hidden_state == (9, 10)
    save_vla(tiny(), tmp_path / "plain")  # configs saved before the field load with nothing hidden
    cfg = json.loads((tmp_path / "plain" / "config.json").read_text())
    cfg.pop("hidden_state")
    (tmp_path / "plain" / "config.json").write_text(json.dumps(cfg))
    assert load_vla(tmp_path / "plain").cfg.hidden_state == ()
    from policies.train import check_init

    check_init(TrainConfig(init=str(tmp_path / "plain"), model=VLAConfig(**{**TINY, "hidden_state": (9, 10)})))
    with pytest.raises(ValueError, match="hidden_state"):
        VLAConfig(hidden_state=(18,))


def test_chunk_targets_pad_with_last_action() -> None:
    actions = np.arange(5, dtype=np.float32)[:, None].repeat(7, 1)
    out = chunk_targets(actions, np.array([0, 3]), 4)
    assert out[:, :, 0].tolist() == [[0, 1, 2, 3], [3, 4, 4, 4]]


def test_policy_executes_chunk_open_loop_then_replans() -> None:
    p = VLAPolicy(tiny(exec_steps=3))
    p.reset()
    assert p.needs_images_next()
    actions = [p.select_action(obs()) for _ in range(7)]
    assert len(p.call_ms) == 3  # calls at steps 0, 3, 6
    assert not p.needs_images_next()
    assert all(a.shape == (7,) and np.all(np.abs(a) <= 1) for a in actions)
    with pytest.raises(ValueError, match="image_size=64"):
        p.reset()
        p.select_action(obs(96))


def test_execution_horizon_overrides_the_config() -> None:
    p = VLAPolicy(tiny(exec_steps=4), exec_steps=2)
    p.reset()
    for _ in range(5):
        p.select_action(obs())
    assert len(p.call_ms) == 3  # calls at steps 0, 2, 4
    with pytest.raises(ValueError, match="exec_steps must be in"):
        VLAPolicy(tiny(), exec_steps=5)  # the tiny model predicts 4 actions per call


def test_flops_include_cpu_attention() -> None:
    m = tiny()
    x = torch.randn(1, m.cfg.num_tokens, 32)
    with torch.no_grad():
        with_attn = count_flops(m.run_trunk, x)
    t, d, n = m.cfg.num_tokens, 32, 3
    linear = 2 * t * n * (4 * d * d + 3 * d * 64)
    assert with_attn == pytest.approx(linear + n * 4 * t * t * d, rel=1e-6)  # QK^T and AV: 2 * 2 * t^2 * d
    f = flops(VLAPolicy(m), obs())
    assert f["gflops_trunk"] == pytest.approx(with_attn / 1e9, rel=1e-6)
    assert f["gflops_call"] > f["gflops_trunk"] > 0


def test_load_frames_splits_by_demo(tmp_path) -> None:
    write_features(tmp_path)
    train_set = load_frames(tmp_path, ["libero_spatial"], 4, "train", val_every=2)
    val_set = load_frames(tmp_path, ["libero_spatial"], 4, "val", val_every=2)
    assert len(train_set) == len(val_set) == 2 * 2 * 10
    assert train_set.image_feats.shape == (40, 2, 1280, 2, 2) and train_set.chunk.shape == (40, 4, 7)
    assert train_set.instructions == ["task 0", "task 1"]


def test_load_frames_keeps_only_the_rounds_asked_for(tmp_path) -> None:
    write_features(tmp_path)
    for f in sorted((tmp_path / "libero_spatial").glob("task_*.hdf5")):
        with h5py.File(f, "a") as h:  # two demos of DAgger round 1, one train and one val (val_every=2)
            h.copy("demo_0", "demo_100000")
            h.copy("demo_1", "demo_100001")
    every = load_frames(tmp_path, ["libero_spatial"], 4, "train", val_every=2)
    base = load_frames(tmp_path, ["libero_spatial"], 4, "train", val_every=2, max_round=0)
    base_val = load_frames(tmp_path, ["libero_spatial"], 4, "val", val_every=2, max_round=0)
    assert len(every) == 2 * 3 * 10 and len(base) == len(base_val) == 2 * 2 * 10
    assert len(load_frames(tmp_path, ["libero_spatial"], 4, "train", val_every=2, max_round=1)) == len(every)
    with pytest.raises(ValueError, match="max_round"):
        TrainConfig(max_round=-2)


def test_training_resumes_and_exports(tmp_path) -> None:
    write_features(tmp_path / "feats")
    cfg = TrainConfig(
        features=str(tmp_path / "feats"),
        suites=["libero_spatial"],
        out=str(tmp_path / "run"),
        export=str(tmp_path / "export"),
        results=str(tmp_path / "results"),
        steps=4,
        batch_size=8,
        warmup=2,
        val_every=2,
        eval_every=2,
        ckpt_every=2,
        threads=1,
        model=VLAConfig(**TINY),
    )
    train(cfg)
    first = load_vla(tmp_path / "export")
    cfg.steps = 6
    train(cfg)  # resumes from step 4
    meta = json.loads((tmp_path / "export" / "train.json").read_text())
    assert meta["steps"] == 6
    assert json.loads((tmp_path / "results" / "training" / "export.json").read_text()) == meta
    cmd = training_commands(tmp_path / "results")[0]  # the report repeats the command, dataset included
    assert f"--features {tmp_path / 'feats'} --out {tmp_path / 'run'} --export {tmp_path / 'export'}" in cmd
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "val_loss" in r] == [2, 4, 6]
    assert not torch.equal(first.queries, load_vla(tmp_path / "export").queries)


def _short_run(tmp_path, **kw) -> dict:
    """TrainConfig arguments of a tiny run on fresh features under ``tmp_path`` (``kw`` override them)."""
    write_features(tmp_path / "feats")
    return dict(
        features=str(tmp_path / "feats"),
        suites=["libero_spatial"],
        out=str(tmp_path / "run"),
        export=str(tmp_path / "export"),
        results=str(tmp_path / "results"),
        batch_size=8,
        warmup=1,
        val_every=2,
        eval_every=100,
        threads=1,
        model=VLAConfig(**TINY),
        **kw,
    )


def test_training_pauses_after_max_minutes_and_continues(tmp_path) -> None:
    common = _short_run(tmp_path, ckpt_every=100, steps=3)
    assert train(TrainConfig(**common, max_minutes=1e-9)) is None  # paused after its first step
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 1
    assert not (tmp_path / "export").exists()
    assert train(TrainConfig(**common)) is not None  # goes on from step 1 to the end and exports
    assert json.loads((tmp_path / "export" / "train.json").read_text())["steps"] == 3


def test_training_resumes_from_the_fp16_resume_point_on_a_fresh_machine(tmp_path, capsys) -> None:
    """--wip: written beside each checkpoint; with <out>/last.pt gone it restores the weights and the step."""
    import shutil

    from policies.train import rewarm

    common = _short_run(tmp_path, ckpt_every=2, steps=6, wip=str(tmp_path / "wip"))
    assert train(TrainConfig(**common, max_minutes=1e-9)) is None  # paused after step 1, resume point written
    assert json.loads((tmp_path / "wip" / "train.json").read_text())["step"] == 1
    at_pause = load_vla(tmp_path / "wip")
    shutil.rmtree(tmp_path / "run")  # a fresh machine: runs/ is gone, the committed resume point is not
    with pytest.raises(ValueError, match="batch_size"):
        train(TrainConfig(**{**common, "batch_size": 4}))
    shutil.rmtree(tmp_path / "run")
    capsys.readouterr()
    assert train(TrainConfig(**common)) is not None
    assert "resume point" in (out := capsys.readouterr().out) and "at step 1 " in out  # from step 1, not 0
    assert json.loads((tmp_path / "export" / "train.json").read_text())["steps"] == 6
    assert json.loads((tmp_path / "wip" / "train.json").read_text())["step"] == 6
    assert not torch.equal(at_pause.queries, load_vla(tmp_path / "export").queries)
    assert rewarm(10, None, 100) == 1.0 and rewarm(10, 10, 100) == 0.01 and rewarm(500, 10, 100) == 1.0


def test_training_starts_from_a_saved_teacher(tmp_path) -> None:
    """--init: the run starts from the saved weights and normalisation, and refuses another architecture."""
    write_features(tmp_path / "feats")
    base = tiny()
    base.state_mean.fill_(3.0)  # not what the data would give: fitting it again would change it
    save_vla(base, tmp_path / "init")
    cfg = TrainConfig(
        features=str(tmp_path / "feats"), suites=["libero_spatial"], out=str(tmp_path / "run"),
        export=str(tmp_path / "export"), results=str(tmp_path / "results"), steps=1, batch_size=4, warmup=1,
        lr=0.0, val_every=2, threads=1, init=str(tmp_path / "init"), model=VLAConfig(**TINY),
    )  # fmt: skip
    train(cfg)  # lr 0: the exported weights are the initial ones
    got, want = load_vla(tmp_path / "export").state_dict(), load_vla(tmp_path / "init").state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert json.loads((tmp_path / "export" / "train.json").read_text())["init_sha1"] == fingerprint(tmp_path / "init")
    assert f"--init {tmp_path / 'init'} --lr 0 --out" in training_commands(tmp_path / "results")[0]
    train(replace(cfg, out=str(tmp_path / "run3"), model=VLAConfig(**TINY, hidden_state=(9, 10))))
    assert "--lr 0 --hidden-state 9 10 --out" in training_commands(tmp_path / "results")[0]
    with pytest.raises(ValueError, match="hidden_size=32 \\(asked 64\\)"):
        train(replace(cfg, out=str(tmp_path / "run2"), model=VLAConfig(**{**TINY, "hidden_size": 64})))
    with pytest.raises(SystemExit):
        train_main(["--features", str(tmp_path / "feats"), "--init", str(tmp_path / "nothing")])


def test_the_cli_command_is_stored_and_printed(tmp_path) -> None:
    """policies.train keeps the exact command line it ran with in the run's metadata; the report prints it."""
    write_features(tmp_path / "feats")
    argv = ["--features", str(tmp_path / "feats"), "--suite", "libero_spatial", "--out", str(tmp_path / "run")]
    argv += ["--export", str(tmp_path / "export"), "--results", str(tmp_path / "results"), "--steps", "1"]
    argv += ["--batch-size", "4", "--warmup", "1", "--val-every", "2", "--threads", "1"]
    argv += [x for k, v in TINY.items() for x in ("--" + k.replace("_", "-"), str(v))]
    train_main(argv)
    meta = json.loads((tmp_path / "export" / "train.json").read_text())
    assert meta["command"] == "python -m policies.train " + shlex.join(argv)
    assert training_commands(tmp_path / "results") == [meta["command"] + "   # 0 min"]


def test_warm_start_takes_the_matching_modules_of_a_teacher_with_other_features(tmp_path) -> None:
    """--init-partial: trunk, language, proprio, queries and head from a teacher of the head's 3 x 3 features;
    the visual norm and projection start random and the normalisation is fitted to the data."""
    write_features(tmp_path / "feats", channels=112, hw=4, blocks=11)
    old = tiny()  # final-stage features, 1280 per token
    old.state_mean.fill_(3.0)
    save_vla(old, tmp_path / "init")
    cfg = TrainConfig(
        features=str(tmp_path / "feats"), suites=["libero_spatial"], out=str(tmp_path / "run"),
        export=str(tmp_path / "export"), results=str(tmp_path / "results"), steps=1, batch_size=4, warmup=1,
        lr=0.0, val_every=2, threads=1, init=str(tmp_path / "init"), model=VLAConfig(**TINY, token_merge=2),
    )  # fmt: skip
    with pytest.raises(ValueError, match="another architecture"):
        train(cfg)  # a full start needs the same features
    train(replace(cfg, init_partial=True))
    got, want = load_vla(tmp_path / "export").state_dict(), load_vla(tmp_path / "init").state_dict()
    assert got["vis_proj.weight"].shape != want["vis_proj.weight"].shape
    assert not torch.equal(got["vis_proj.bias"], want["vis_proj.bias"])  # the whole module starts afresh
    kept = ("trunk.", "lang_proj.", "state_proj.", "head.", "queries", "vis_pos")
    same = [k for k in want if k.startswith(kept)]
    assert len(same) > 20 and all(torch.equal(got[k], want[k]) for k in same)
    assert not torch.equal(got["state_mean"], want["state_mean"])  # fitted to this data
    meta = json.loads((tmp_path / "export" / "train.json").read_text())
    assert meta["init_fresh"] == ["vis_norm.bias", "vis_norm.weight", "vis_proj.bias", "vis_proj.weight"]
    assert f"--init {tmp_path / 'init'} --init-partial" in training_commands(tmp_path / "results")[0]
    with pytest.raises(ValueError, match="init_partial needs init"):
        TrainConfig(init_partial=True)


def test_bf16_only_where_the_hardware_has_it(tmp_path, monkeypatch, capsys) -> None:
    """bf16 autocast runs only on native-bf16 hardware; elsewhere training runs (and records) fp32."""
    cpu = torch.device("cpu")
    assert not use_bf16(False, cpu)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert use_bf16(True, cpu)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not use_bf16(True, cpu)
    write_features(tmp_path / "feats")
    cfg = TrainConfig(
        features=str(tmp_path / "feats"), suites=["libero_spatial"], out=str(tmp_path / "run"),
        export=str(tmp_path / "export"), results=str(tmp_path / "results"), steps=1, batch_size=4, warmup=1,
        val_every=2, threads=1, model=VLAConfig(**TINY),
    )  # fmt: skip
    train(cfg)
    assert "bf16 autocast off" in capsys.readouterr().out
    assert json.loads((tmp_path / "export" / "train.json").read_text())["train_config"]["bf16"] is False


def test_timing_records_other_processes_cpu_share(monkeypatch) -> None:
    """Latency figures carry the share of the CPU other processes used while timing; a high share is
    warned about in the printed cost."""
    from bench import cost
    from bench.measure import format_cost

    assert cost.other_cpu_share((100.0, 2), (110.0, 2), own_s=2.0, wall_s=5.0) == pytest.approx(0.8)
    assert cost.other_cpu_share((100.0, 2), (102.0, 2), own_s=2.0, wall_s=5.0) == 0.0
    assert cost.other_cpu_share(None, (1.0, 2), 0.0, 1.0) is None
    assert cost.contention_warning(0.05) == "" and "80%" in cost.contention_warning(0.8)
    reading = cost.cpu_busy_seconds()  # Linux: busy seconds since boot and the CPU count
    assert reading is None or (reading[0] > 0 and reading[1] >= 1)
    readings = iter([(100.0, 2), (100.0 + 1e6, 2)])  # as if another process kept both cores busy throughout
    monkeypatch.setattr(cost, "cpu_busy_seconds", lambda: next(readings))
    lat = cost.latency({"tiny": VLAPolicy(tiny())}, [obs()], calls=2, warmup=1, threads=1)["tiny"]
    assert lat["other_cpu_share"] == 1.0
    assert len(lat["call_ms_rounds"]) == 2  # as many rounds as calls when there are fewer calls than rounds
    rounds = cost.round_speedups({"call_ms_rounds": [10.0, 10.0, 10.0]}, {"call_ms_rounds": [5.0, 5.0, 5.5]})
    assert rounds["speedup_call_rounds"] == pytest.approx([2.0, 2.0, 1.8182], abs=1e-4)
    lo, hi = rounds["speedup_call_ci"]
    assert lo < 1.8182 and hi > 2.0 and "speedup_trunk_ci" not in rounds
    c = {"gflops_call": 1.0, "gflops_trunk": 0.8, "trunk_flops_share": 0.8, "gflops_instruction": 0.1, "threads": 1}
    c |= lat
    assert "other processes used 100% of the CPU" in format_cost(c)
    assert "other processes" not in format_cost(c | {"other_cpu_share": 0.0})


def test_finer_features_merged_into_tokens() -> None:
    """Features after 11 encoder blocks (112 channels, stride 16) with 2x2 cells merged per token: a 64 px
    image gives 4x4 cells, 2x2 tokens of 448 features; configs that do not fit are refused."""
    cfg = VLAConfig(**TINY, feature_blocks=11, token_merge=2)
    assert (cfg.image_feature_dim, cfg.cells) == (448, 4)
    assert VLAConfig(**TINY, feature_blocks=11).cells == 16
    assert VLAConfig(**TINY).image_feature_dim == 1280  # the head's features, as before
    m = VLA(cfg).eval()
    feats = torch.randn(2, 2, 112, 4, 4)
    assert m(feats, torch.randn(2, 384), torch.randn(2, 18)).shape == (2, 4, 7)
    moved = feats.clone()
    moved[0, 0, :, 0, 1] += 1.0  # another cell of the same merged token changes that token
    lang, state = torch.zeros(2, 384), torch.zeros(2, 18)
    tok, tok2 = m.embed(feats, lang, state), m.embed(moved, lang, state)
    changed = (tok - tok2).abs().amax(-1)[0]
    assert changed[0] > 0 and (changed[1:] == 0).all()
    with pytest.raises(ValueError, match="multiple of 48"):
        VLAConfig(**{**TINY, "feature_blocks": 11, "token_merge": 3})
    with pytest.raises(ValueError, match="does not match"):
        VLAConfig(**TINY, image_feature_dim=999)
    with pytest.raises(ValueError, match="feature_blocks"):
        VLAConfig(**TINY, feature_blocks=17)


def test_policy_encodes_at_its_feature_depth() -> None:
    """A policy trained on features after 11 blocks encodes its camera images the same way."""
    from policies.vla.encoders import ImageEncoder, encode_images

    img = obs()["agentview"][None]
    enc = ImageEncoder(blocks=11)
    assert enc(torch.from_numpy(img)).shape == (1, 112, 4, 4)
    enc.use_jit = False
    np.testing.assert_allclose(enc(torch.from_numpy(img)).numpy(), encode_images(img, blocks=11), atol=2e-2)
    torch.manual_seed(0)
    policy = VLAPolicy(VLA(VLAConfig(**TINY, feature_blocks=11, token_merge=2)).eval())
    assert policy.predict(obs()).shape == (4, 7)


def test_training_takes_the_feature_depth_and_drops_fingers(tmp_path) -> None:
    from policies.train import drop_fingers

    write_features(tmp_path / "feats", channels=112, hw=4, blocks=11)
    cfg = TrainConfig(
        features=str(tmp_path / "feats"), suites=["libero_spatial"], out=str(tmp_path / "run"),
        export=str(tmp_path / "export"), results=str(tmp_path / "results"), steps=2, batch_size=4, warmup=1,
        val_every=2, threads=1, finger_dropout=0.5, model=VLAConfig(**TINY, token_merge=2),
    )  # fmt: skip
    train(cfg)
    saved = load_vla(tmp_path / "export").cfg
    assert (saved.feature_blocks, saved.image_feature_dim, saved.cells) == (11, 448, 4)
    assert "--token-merge 2 --finger-dropout 0.5" in training_commands(tmp_path / "results")[0]
    state, mean = torch.randn(64, 18), torch.arange(18.0)
    assert torch.equal(drop_fingers(state, 0.0, mean), state)
    dropped = drop_fingers(state, 1.0, mean)
    assert (dropped[:, [9, 10]] == mean[[9, 10]]).all()
    assert torch.equal(dropped[:, :9], state[:, :9]) and torch.equal(dropped[:, 11:], state[:, 11:])
    half = drop_fingers(state, 0.5, mean)
    assert 0 < (half[:, 9] == 9.0).sum() < 64
    with pytest.raises(ValueError, match="finger_dropout"):
        TrainConfig(finger_dropout=1.5)


def test_train_cli_merges_tokens_of_finer_features(tmp_path) -> None:
    """--token-merge 2 at 64 px is valid for features after 11 blocks (stride 16), whatever the default depth."""
    write_features(tmp_path / "feats", channels=112, hw=4, blocks=11)
    args = ["--features", str(tmp_path / "feats"), "--suite", "libero_spatial", "--steps", "1", "--batch-size", "2"]
    args += ["--out", str(tmp_path / "run"), "--export", str(tmp_path / "export"), "--results", str(tmp_path / "r")]
    args += ["--threads", "1", "--val-every", "2", "--token-merge", "2", "--image-size", "64", "--hidden-size", "32"]
    args += ["--num-layers", "2", "--num-heads", "2", "--intermediate-size", "64", "--chunk", "4", "--exec-steps", "4"]
    train_main(args)
    assert load_vla(tmp_path / "export").cfg.cells == 4
