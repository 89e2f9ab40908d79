"""ActDistill: routers, graph variants, losses, student training/export/loading, baselines."""

from __future__ import annotations

import copy
import json
import shlex

import pytest
import torch
from helpers import TINY, obs, write_features
from safetensors.torch import load_file

from bench.cost import call_parts, count_flops, flops
from bench.readme import training_commands
from distill.checkpoint import load_student
from distill.graph import Encapsulation, GraphConfig, action_change_profile, depth_weights
from distill.losses import TERMS, prior_targets, relation_loss
from distill.policy import StudentPolicy
from distill.router import RouterConfig
from distill.routing import ROUTINGS, make_routing, static_mask
from distill.run import main as distill_main
from distill.student import RoutedVLA, StudentConfig
from distill.train import (
    METHODS,
    DistillConfig,
    MethodSpec,
    ResumeMismatch,
    changed_weights,
    frame_weights,
    loss_terms,
    run,
    uses_distill,
    uses_graph,
)
from policies.vla.checkpoint import CheckpointError, save_vla
from policies.vla.config import VLAConfig
from policies.vla.model import VLA


def tiny_teacher() -> VLA:
    torch.manual_seed(0)
    return VLA(VLAConfig(**TINY)).eval()


def tiny_nograph(tmp_path, tag: str, **kw) -> DistillConfig:
    """A 2-step nograph run at budget 0.5 on ``tmp_path``'s teacher and features; folders end in ``tag``."""
    return DistillConfig(
        teacher=str(tmp_path / "teacher"), features=str(tmp_path / "feats"), out=str(tmp_path / f"run{tag}"),
        export=str(tmp_path / f"students{tag}"), results=str(tmp_path / f"results{tag}"), method="nograph",
        suites=["libero_spatial"], budgets=[0.5], steps=2, batch_size=8, val_every=2, threads=1, bf16=False, **kw,
    )  # fmt: skip


def test_static_masks_and_prior() -> None:
    assert static_mask(8, 0.25, "truncate") == [True, True] + [False] * 6
    assert static_mask(8, 0.5, "uniform").count(True) == 4
    assert static_mask(8, 0.5, "uniform")[0] and static_mask(8, 0.5, "uniform")[-1]
    prior = prior_targets(torch.tensor([4.0, 1.0, 0.5, 0.1, 0.1, 2.0]), 0.5)
    assert prior.mean().item() == pytest.approx(0.5, abs=1e-4)
    assert prior[0] > prior[2] > prior[3] and prior.max() <= 0.98


def test_methods_and_routings_are_registered_specs() -> None:
    """Methods name a routing strategy and loss terms; unknown names list the choices."""
    assert set(ROUTINGS) == {"learned", "static", "random", "early_exit"}
    assert {m.routing for m in METHODS.values()} == set(ROUTINGS)
    assert all(set(m.terms) <= set(TERMS) and "action" in m.terms for m in METHODS.values())
    with pytest.raises(ValueError, match="routing must be one of"):
        make_routing("sometimes")
    with pytest.raises(ValueError, match="routing must be one of"):
        MethodSpec("sometimes", ("action",))
    with pytest.raises(ValueError, match="terms must include 'action'"):
        MethodSpec("static", ("action", "magic"))
    assert loss_terms(DistillConfig()) == ("action", "distill", "graph", "routing")
    assert loss_terms(DistillConfig(w_distill=0.0, w_node=0.0, w_rel=0.0, w_prior=0.0)) == ("action", "routing")


@pytest.mark.parametrize("kind", ["hidden", "input"])
def test_route_runs_only_chosen_layers_and_matches_batched(kind: str) -> None:
    student = RoutedVLA(tiny_teacher(), StudentConfig(router=RouterConfig(kind=kind, init_bias=0.0)))
    torch.nn.init.normal_(next(iter(student.router.parameters())), std=1.0)
    x = torch.randn(5, student.vla.cfg.num_tokens, 32)
    h, keep = student.route(x)
    for i in range(5):
        hi, ki = student.route(x[i : i + 1])
        assert torch.equal(ki, keep[i : i + 1])
        assert torch.allclose(hi, h[i : i + 1], atol=1e-5)
        assert torch.allclose(hi, student.vla.run_trunk(x[i : i + 1], ki[0].tolist()), atol=1e-5)


def test_numpy_gates_compute_the_torch_gates() -> None:
    """Batch-1 gates run in numpy on views of the parameters: the same logits as the torch modules, after
    in-place updates and loads too; a deep copy gets its own; FLOP counting runs the torch arithmetic."""
    student = RoutedVLA(tiny_teacher(), StudentConfig(router=RouterConfig(kind="hidden", init_bias=0.0)))
    r = student.router
    torch.manual_seed(1)
    for p in r.parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(20, 1, student.vla.cfg.num_tokens, 32)

    def agree(router) -> None:
        for h in x:
            for i in range(student.num_layers):
                assert router._logit_numpy(i, h[0].numpy()) == pytest.approx(router.logit(i, h).item(), abs=1e-5)
                router.use_numpy = False
                decision = router.runs(i, h, 0.1)
                router.use_numpy = True
                assert router.runs(i, h, 0.1) == decision

    with torch.no_grad():
        agree(r)
        r.gates[2][1].bias.add_(1.0)  # in place (an optimiser step): the views follow
        agree(r)
        r.load_state_dict({k: v + 0.1 for k, v in r.state_dict().items()})
        agree(r)
        other = copy.deepcopy(r)
        other.gates[0][1].weight.mul_(2.0)  # the copy has its own parameters and views
        agree(other)
        agree(r)
    policy = StudentPolicy(student)
    f = flops(policy, obs())
    r.use_numpy = False
    with torch.inference_mode():
        torch_count = count_flops(policy.trunk, call_parts(policy, obs())["tokens"])
    assert f["gflops_trunk"] == pytest.approx(torch_count / 1e9, rel=1e-9) and r.use_numpy is False
    r.use_numpy = True
    flops(policy, obs())
    assert r.use_numpy  # restored


def test_early_exit_stops_when_the_action_settles() -> None:
    student = RoutedVLA(tiny_teacher(), StudentConfig(routing="early_exit"))
    x = torch.randn(3, student.vla.cfg.num_tokens, 32)
    student.cfg.threshold = 0.0
    assert student.route(x)[1].all()  # never settles exactly: every layer runs
    student.cfg.threshold = 1e9
    keep = student.route(x)[1]
    assert keep[:, :2].all() and not keep[:, 2:].any()  # two layers are needed to see a change
    h1, k1 = student.route(x[:1])
    assert torch.equal(k1, keep[:1])
    for t in (0.01, 0.05, 0.1, 0.3):  # the batch-1 path stops where the batched one does, row by row
        student.cfg.threshold = t
        h, keep = student.route(x)
        for i in range(3):
            hi, ki = student.route(x[i : i + 1])
            assert torch.equal(ki, keep[i : i + 1]) and torch.allclose(hi, h[i : i + 1], atol=1e-5)


def test_training_gates_act_like_inference_skips() -> None:
    """With hard gates at 0/1 the relaxed forward equals the hard route (residual-branch gating)."""
    student = RoutedVLA(tiny_teacher(), StudentConfig(routing="static", budget=0.5, static="uniform"))
    x = torch.randn(2, student.vla.cfg.num_tokens, 32)
    with torch.no_grad():
        out = student.forward_train(x)
        h, _ = student.route(x)
    assert torch.allclose(out["actions"], student.vla.decode(h), atol=1e-5)
    assert out["states"].shape == (2, 5, student.vla.cfg.num_tokens, 32)


@pytest.mark.parametrize("kind", ["dag", "token"])
def test_graph_variants_and_profile(kind: str) -> None:
    enc = Encapsulation(32, 4, 4, 7, GraphConfig(kind=kind, dim=16))
    nodes, acts = enc(torch.randn(3, 5, 15, 32))
    assert nodes.shape == (3, 5, 16) and acts.shape == (3, 5, 4, 7)
    assert action_change_profile(acts).shape == (4,)
    w = depth_weights(4)
    assert w.mean().item() == pytest.approx(1.0) and w[0] == 0 and w[-1] == w.max()
    for rel in ("depth", "batch"):
        assert relation_loss(nodes, nodes, w, rel).item() == pytest.approx(0.0, abs=1e-6)
        assert relation_loss(nodes, torch.randn_like(nodes), w, rel).item() > 0


def test_dag_graph_respects_edges() -> None:
    """Node j only reads depths <= j: changing the last depth leaves earlier node embeddings unchanged."""
    enc = Encapsulation(32, 4, 4, 7, GraphConfig(kind="dag", dim=16)).eval()
    s = torch.randn(1, 5, 15, 32)
    s2 = s.clone()
    s2[:, -1] += torch.randn(15, 32)  # (a constant shift would vanish in the input LayerNorm)
    a, b = enc(s)[0], enc(s2)[0]
    assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6) and not torch.allclose(a[:, -1], b[:, -1])


@pytest.mark.parametrize(
    "method,graph,router,relation",
    [
        ("actdistill", "dag", "hidden", "depth"),
        ("actdistill", "token", "input", "batch"),
        ("truncate", "dag", "hidden", "depth"),
    ],
)
def test_distill_end_to_end(tmp_path, capsys, method, graph, router, relation) -> None:
    name = "actdistill_authors" if graph == "token" else ""  # a variant exports under its own name
    write_features(tmp_path / "feats")
    save_vla(tiny_teacher(), tmp_path / "teacher")
    cfg = DistillConfig(
        teacher=str(tmp_path / "teacher"),
        features=str(tmp_path / "feats"),
        suites=["libero_spatial"],
        out=str(tmp_path / "run"),
        export=str(tmp_path / "students"),
        results=str(tmp_path / "results"),
        method=method,
        name=name,
        budgets=[0.5],
        graph=GraphConfig(kind=graph, dim=16),
        router=RouterConfig(kind=router),
        relation=relation,
        stage1_steps=3,
        steps=3,
        batch_size=8,
        val_every=2,
        ckpt_every=2,
        threads=1,
        bf16=False,
    )
    results = run(cfg)
    if method == "actdistill":
        report = tmp_path / "results" / "profiles" / f"action_change_{name or method}_{graph}.json"
        profile = json.loads(report.read_text())
        assert len(profile["action_change"]) == 4 and len(profile["probe_l1_per_depth"]) == 5
    folder = tmp_path / "students" / f"{name or method}_b0.5"
    meta = json.loads((folder / "student.json").read_text())
    assert meta["method"] == method and meta["student"]["budget"] == 0.5
    assert json.loads((tmp_path / "results" / "training" / f"{folder.name}.json").read_text()) == meta
    cmd = training_commands(tmp_path / "results")[0]
    assert cmd.startswith(f"python -m distill.run --method {method} --budgets 0.5 --steps 3")
    assert (f"--name {name}" in cmd) == bool(name) and (f"--router {router}" in cmd) == (method == "actdistill")
    stored = load_file(str(folder / "student.safetensors"))
    assert all(v.dtype in (torch.float16, torch.bool) for v in stored.values())
    assert ("router" in " ".join(stored)) == (method == "actdistill")
    student = load_student(folder)
    if method == "truncate":
        assert results[0.5]["fraction"] == pytest.approx(0.5)
    if method == "early_exit":
        assert results[0.5]["fraction"] <= 0.5 and "threshold" in results[0.5]
    policy = StudentPolicy(student)
    policy.reset()
    a = policy.select_action(obs())
    assert a.shape == (7,) and len(policy.keeps) == 1 and len(policy.keeps[0]) == 4
    if graph == "dag" and method == "actdistill":
        profile = json.loads((tmp_path / "run" / "profile_actdistill_dag.json").read_text())
        assert len(profile["action_change"]) == 4
        cfg.steps = 5
        run(cfg)  # resumes from step 3 and re-exports
        assert json.loads((folder / "student.json").read_text())["steps"] == 5
        cfg.seed = 1  # another seed under the same name must not resume the seed-0 checkpoints
        with pytest.raises(ValueError, match="other settings \\(seed\\)"):
            run(cfg)
        argv = ["--teacher", cfg.teacher, "--features", cfg.features, "--suite", "libero_spatial", "--out", cfg.out]
        with pytest.raises(SystemExit) as stop:  # the CLI says so in one line, exit status 2
            distill_main(argv + ["--export", cfg.export, "--budgets", "0.5", "--seed", "1", "--threads", "1"])
        assert stop.value.code == 2 and "was written with other settings" in capsys.readouterr().err
        cfg.name = "actdistill_s1"  # under its own name it trains from scratch, stage 1 included
        run(cfg)
        assert (tmp_path / "results" / "profiles" / "action_change_actdistill_s1_dag.json").exists()
        assert (
            json.loads((tmp_path / "results" / "profiles" / "action_change_actdistill_dag.json").read_text())["seed"]
            == 0
        )
        assert "--batch-size 8 --seed 1   #" in training_commands(tmp_path / "results")[1]
        torch.manual_seed(1)  # the teacher retrained in its folder: its students and runs no longer apply
        save_vla(VLA(VLAConfig(**TINY)), cfg.teacher)
        with pytest.raises(CheckpointError, match="derived from another teacher"):
            load_student(folder)
        with pytest.raises(ResumeMismatch, match="teacher_sha1"):
            run(cfg)


def test_the_cli_command_is_stored_and_printed(tmp_path, monkeypatch) -> None:
    """distill.run hands its exact command line to the run, which keeps it in each student's metadata; the
    report prints it instead of rebuilding one."""
    commands = []
    monkeypatch.setattr("distill.run.run", lambda cfg, command=None: commands.append(command))
    argv = ["--method", "truncate", "--budgets", "0.25", "0.5", "--out", "runs/a b"]
    distill_main(argv)
    assert commands == ["python -m distill.run " + shlex.join(argv)]
    write_features(tmp_path / "feats")
    save_vla(tiny_teacher(), tmp_path / "teacher")
    cfg = DistillConfig(
        teacher=str(tmp_path / "teacher"), features=str(tmp_path / "feats"), out=str(tmp_path / "run"),
        export=str(tmp_path / "students"), results=str(tmp_path / "results"), method="truncate",
        suites=["libero_spatial"], budgets=[0.5], steps=2, batch_size=8, val_every=2, threads=1, bf16=False,
    )  # fmt: skip
    run(cfg, command="python -m distill.run --method truncate --budgets 0.5 --steps 2")
    meta = json.loads((tmp_path / "students" / "truncate_b0.5" / "student.json").read_text())
    assert meta["command"] == "python -m distill.run --method truncate --budgets 0.5 --steps 2"
    assert training_commands(tmp_path / "results") == [meta["command"] + "   # 0 min"]


def test_loss_weight_ablations(tmp_path, monkeypatch) -> None:
    """A zero weight switches its term off: no graph terms means no stage 1; the weights are recorded
    and the rebuilt training command repeats them."""
    with pytest.raises(ValueError, match="w_distill must be >= 0"):
        DistillConfig(w_distill=-1.0)
    seen = []
    monkeypatch.setattr("distill.run.run", lambda cfg, command=None: seen.append(cfg))
    distill_main(["--name", "actdistill_graphoff", "--w-node", "0", "--w-rel", "0", "--w-prior", "0"])
    assert changed_weights(seen[0]) == {"w_node": 0.0, "w_rel": 0.0, "w_prior": 0.0} and not uses_graph(seen[0])
    nodistill = DistillConfig(name="actdistill_nodistill", w_distill=0.0)
    assert uses_graph(nodistill) and not uses_distill(nodistill) and changed_weights(nodistill) == {"w_distill": 0.0}
    assert changed_weights(DistillConfig(method="nograph", w_distill=0.0)) == {}  # nograph never distils
    write_features(tmp_path / "feats")
    save_vla(tiny_teacher(), tmp_path / "teacher")
    cfg = seen[0]
    for k, v in dict(teacher=tmp_path / "teacher", features=tmp_path / "feats", out=tmp_path / "run").items():
        setattr(cfg, k, str(v))
    cfg.export, cfg.results = str(tmp_path / "students"), str(tmp_path / "results")
    cfg.suites, cfg.budgets, cfg.graph = ["libero_spatial"], [0.5], GraphConfig(dim=16)
    cfg.steps, cfg.batch_size, cfg.val_every, cfg.threads, cfg.bf16 = 2, 8, 2, 1, False
    run(cfg)
    assert not list((tmp_path / "run").glob("stage1_*")) and not list((tmp_path / "run").glob("profile_*"))
    meta = json.loads((tmp_path / "students" / "actdistill_graphoff_b0.5" / "student.json").read_text())
    assert meta["weights"] == {"w_node": 0.0, "w_rel": 0.0, "w_prior": 0.0} and meta["graph"] is None
    cmd = training_commands(tmp_path / "results")[0]
    assert "--name actdistill_graphoff" in cmd and cmd.endswith("--w-node 0 --w-rel 0 --w-prior 0   # 0 min")


def test_state_noise_augments_training_and_is_recorded(tmp_path, monkeypatch) -> None:
    """--state-noise perturbs the proprio both models read (the teacher's recipe); it is recorded and
    repeated in the training command, and checkpoints written before the setting existed still resume."""
    with pytest.raises(ValueError, match="state_noise must be >= 0"):
        DistillConfig(state_noise=-0.1)
    seen = []
    monkeypatch.setattr("distill.run.run", lambda cfg, command=None: seen.append(cfg))
    distill_main(["--method", "nograph", "--state-noise", "0.1"])
    assert seen[0].state_noise == 0.1
    write_features(tmp_path / "feats")
    save_vla(tiny_teacher(), tmp_path / "teacher")
    weights = {}
    for noise in (0.0, 0.1):
        cfg = tiny_nograph(tmp_path, str(noise), state_noise=noise)
        run(cfg)
        folder = tmp_path / f"students{noise}" / "nograph_b0.5"
        weights[noise] = load_file(folder / "student.safetensors")
        assert json.loads((folder / "student.json").read_text())["state_noise"] == noise
    assert any(not torch.equal(weights[0.0][k], weights[0.1][k]) for k in weights[0.0])  # the noise reached training
    assert training_commands(tmp_path / "results0.1")[0].endswith("--state-noise 0.1   # 0 min")
    assert "--state-noise" not in training_commands(tmp_path / "results0.0")[0]
    ckpt = tmp_path / "run0.0" / "nograph_b0.5.pt"  # a checkpoint from before the setting: its key lacks it
    st = torch.load(ckpt, weights_only=False)
    del st["key"]["state_noise"]
    torch.save(st, ckpt)
    cfg.out, cfg.state_noise, cfg.export = str(tmp_path / "run0.0"), 0.0, str(tmp_path / "again")
    run(cfg)  # resumes (finished: nothing to train) under the default
    cfg.state_noise = 0.1
    with pytest.raises(ResumeMismatch, match="state_noise"):
        run(cfg)


def test_guidance_weights_the_teacher_terms(tmp_path, monkeypatch) -> None:
    """--guidance agree distils less on frames where the teacher is off the demonstration; --guidance
    anneal fades the teacher terms out, late fades them in; each reaches training, is recorded and repeated."""
    with pytest.raises(ValueError, match="guidance must be one of"):
        DistillConfig(guidance="sometimes")
    with pytest.raises(ValueError, match="has none"):  # the no-graph router has no teacher terms to weight
        DistillConfig(method="nograph", guidance="anneal")
    DistillConfig(method="truncate", guidance="anneal")  # the static baselines distil: accepted
    target = torch.zeros(3, 4, 7)
    t_chunk = target + torch.tensor([0.0, 0.1, 1.0])[:, None, None]  # right, nearly right, wrong
    assert torch.equal(frame_weights(DistillConfig(), t_chunk, target), torch.ones(3))
    w = frame_weights(DistillConfig(guidance="agree"), t_chunk, target)
    assert torch.allclose(w.mean(), torch.tensor(1.0)) and w[0] > w[1] > w[2] and w[2] < 0.3
    seen = []
    monkeypatch.setattr("distill.run.run", lambda cfg, command=None: seen.append(cfg))
    distill_main(["--guidance", "anneal"])
    assert seen[0].guidance == "anneal"
    write_features(tmp_path / "feats")
    save_vla(tiny_teacher(), tmp_path / "teacher")
    weights = {}
    for guidance in ("constant", "anneal", "late", "agree"):
        cfg = DistillConfig(
            teacher=str(tmp_path / "teacher"), features=str(tmp_path / "feats"), out=str(tmp_path / guidance),
            export=str(tmp_path / f"students_{guidance}"), results=str(tmp_path / f"results_{guidance}"),
            suites=["libero_spatial"], budgets=[0.5], graph=GraphConfig(dim=16), stage1_steps=2, steps=3,
            batch_size=8, val_every=2, threads=1, bf16=False, guidance=guidance,
        )  # fmt: skip
        run(cfg)
        folder = tmp_path / f"students_{guidance}" / "actdistill_b0.5"
        weights[guidance] = load_file(folder / "student.safetensors")
        assert json.loads((folder / "student.json").read_text())["guidance"] == guidance
    for guidance in ("anneal", "late", "agree"):  # the weighting reached training
        assert any(not torch.equal(weights["constant"][k], weights[guidance][k]) for k in weights["constant"])
        assert training_commands(tmp_path / f"results_{guidance}")[0].endswith(f"--guidance {guidance}   # 0 min")
    assert "--guidance" not in training_commands(tmp_path / "results_constant")[0]
    cfg.guidance = "constant"  # a checkpoint refuses to resume under another weighting
    with pytest.raises(ResumeMismatch, match="guidance"):
        run(cfg)


def test_random_routing_follows_the_episode_seed_not_the_process_history() -> None:
    """The same episode seed gives the same random layers, whatever the policy ran before (any worker count)."""
    policy = StudentPolicy(RoutedVLA(tiny_teacher(), StudentConfig(routing="random", budget=0.5)))

    def episode(seed: int) -> list[list[int]]:
        policy.seed(seed)
        policy.reset()
        for _ in range(3):
            policy.predict(obs())
        return policy.keeps

    first = episode(7)
    episode(8)  # another episode in between, as in a worker that ran other jobs
    assert episode(7) == first
    assert any(episode(s) != first for s in (1, 2, 3))  # still random across episodes


def test_tune_io_stores_only_what_it_trains(tmp_path, monkeypatch) -> None:
    """--tune io freezes the trunk's attention and MLP matrices: the student file holds the router and the
    small tensors it trained, loads against the teacher, and differs from a full fine-tune; the setting is
    recorded, repeated in the training command and part of the resume key."""
    from distill.lora import is_trunk_matrix

    with pytest.raises(ValueError, match="tune must be one of"):
        DistillConfig(tune="qlora")
    seen = []
    monkeypatch.setattr("distill.run.run", lambda cfg, command=None: seen.append(cfg))
    distill_main(["--method", "nograph", "--tune", "io"])
    assert seen[0].tune == "io"
    write_features(tmp_path / "feats")
    save_vla(tiny_teacher(), tmp_path / "teacher")
    stored = {}
    for tune in ("all", "io", "lora"):
        cfg = tiny_nograph(tmp_path, f"_{tune}", tune=tune)
        run(cfg)
        folder = tmp_path / f"students_{tune}" / "nograph_b0.5"
        stored[tune] = load_file(folder / "student.safetensors")
        assert json.loads((folder / "student.json").read_text())["tune"] == tune
        load_student(folder)  # assembles teacher + difference
    trunk = [k for k in stored["all"] if is_trunk_matrix(k.removeprefix("vla."))]
    assert trunk and not any(is_trunk_matrix(k.removeprefix("vla.")) for k in stored["io"])
    assert any(k.startswith("router.") for k in stored["io"]) and any(k.startswith("vla.head") for k in stored["io"])
    lora = {k for k in stored["lora"] if k.endswith(("lora_A", "lora_B"))}
    assert len(lora) == 2 * len(trunk) and set(stored["lora"]) - lora == set(stored["io"])
    assert training_commands(tmp_path / "results_io")[0].endswith("--tune io   # 0 min")
    cfg.tune = "all"  # the io run's checkpoint does not resume a full fine-tune
    with pytest.raises(ResumeMismatch, match="tune"):
        run(cfg)


def test_lora_student_loads_as_the_model_it_trained(tmp_path) -> None:
    """A LoRA student is stored as its factors and loads with B A merged: the same actions as the
    reparametrised model, from plain matrices; factors of another shape are refused."""
    from distill.checkpoint import save_student
    from distill.lora import add_lora

    teacher = tiny_teacher()
    save_vla(teacher, tmp_path / "teacher")
    student = RoutedVLA(copy.deepcopy(teacher), StudentConfig(budget=0.5))
    names = add_lora(student.vla, 4)
    assert names and all(not p.requires_grad for n, p in student.vla.named_parameters() if n.endswith(".original"))
    torch.manual_seed(1)
    with torch.no_grad():
        for n, p in student.named_parameters():
            if n.endswith(".B"):
                p.normal_(0, 0.05)
    folder = save_student(student, teacher, tmp_path / "s", "../teacher", {})
    stored = load_file(folder / "student.safetensors")
    assert not any(".parametrizations." in k for k in stored) and f"vla.{names[0]}.lora_A" in stored
    loaded = load_student(folder)
    x = torch.randn(3, 7, teacher.cfg.hidden_size)
    with torch.no_grad():
        want = student.vla.decode(student.route(x)[0])
        got = loaded.vla.decode(loaded.route(x)[0])
    assert torch.allclose(got, want, atol=2e-2) and not any("parametrizations" in k for k in loaded.state_dict())
    stored[f"vla.{names[0]}.lora_A"] = torch.zeros(5, 3, dtype=torch.float16)
    from safetensors.torch import save_file

    save_file(stored, str(folder / "student.safetensors"))
    with pytest.raises(CheckpointError, match="LoRA"):
        load_student(folder)
