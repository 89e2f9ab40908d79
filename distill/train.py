"""ActDistill training: stage 1 (graph + probes on the frozen teacher), stage 2 (routed students).

Stage 1 trains the graph encapsulation and per-depth probes with the teacher frozen and exports the
per-layer action-change profile. Stage 2 derives one student per budget from the teacher and trains
it with action loss + teacher distillation + hierarchical graph supervision + routing loss; a method
(``METHODS``, a ``MethodSpec``) names its routing strategy and the loss terms it composes, so baselines
switch terms off or replace the router (``DistillConfig.method``). Checkpoints every ``ckpt_every``
steps, one per run name; a rerun resumes, refusing a checkpoint written under other settings. After
training, the gate threshold is calibrated on validation frames so the realised fraction of layers
does not exceed the budget.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from distill.checkpoint import save_student
from distill.graph import Encapsulation, GraphConfig, action_change_profile, depth_weights
from distill.lora import add_lora, is_trunk_matrix
from distill.losses import TEACHER_TERMS, TERMS, LossInputs, compose, prior_targets
from distill.router import RouterConfig
from distill.routing import ROUTINGS
from distill.student import RoutedVLA, StudentConfig
from policies.paths import profile_path
from policies.training import atomic_save, effective_precision, perturb_state, pick_device, record_training
from policies.vla.checkpoint import fingerprint, load_vla
from policies.vla.data import FrameSet, feature_blocks_of, feature_face_budget, load_frames
from policies.vla.model import VLA


@dataclass(frozen=True)
class MethodSpec:
    """A training method: its routing strategy (``distill.routing``) and the loss terms it composes
    (``distill.losses.TERMS``; a term whose weights are all 0 in a run is switched off)."""

    routing: str
    terms: tuple[str, ...]
    static: str = "truncate"  # the mask of static routing: truncate | uniform

    def __post_init__(self) -> None:
        if self.routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {sorted(ROUTINGS)}, got {self.routing!r}")
        if "action" not in self.terms or not set(self.terms) <= set(TERMS):
            raise ValueError(f"terms must include 'action' and be among {list(TERMS)}, got {self.terms}")

    @property
    def graph(self) -> bool:
        """Graph supervision and the router prior (needs stage 1)."""
        return "graph" in self.terms

    @property
    def distill(self) -> bool:
        """Teacher action distillation."""
        return "distill" in self.terms


METHODS = {
    "actdistill": MethodSpec("learned", ("action", "distill", "graph", "routing")),
    "nograph": MethodSpec("learned", ("action", "routing")),  # router + action loss only (MoLe-VLA-like)
    "truncate": MethodSpec("static", ("action", "distill")),
    "uniform": MethodSpec("static", ("action", "distill"), static="uniform"),
    "random": MethodSpec("random", ("action", "distill")),
    "early_exit": MethodSpec("early_exit", ("action", "distill", "exits")),  # every depth's action supervised
}
GUIDANCE = {  # how the teacher-guidance terms (distillation, node, relation) are weighted (ours)
    "constant": "fixed weights (the published students)",
    "anneal": "weights decay linearly to 0 over training: teacher-guided early, demonstrations only at the end",
    "late": "weights rise linearly from 0: the router first settles on demonstrations alone, the teacher joins later",
    "agree": "distillation per frame weighted by exp(-e / mean e), e the teacher's L1 to the demonstration",
}
TUNES = {  # which of the student's parameters fine-tuning changes (the router always trains)
    "all": "every parameter of the teacher's copy (a student file as large as the teacher)",
    "io": "the norm gains, input projections, query and position embeddings and the action head; the trunk's "
    "attention and MLP matrices stay the teacher's (a student file of about 1.5 MB)",
    "lora": "as io, and a rank-``lora_rank`` delta on each trunk matrix (distill.lora; about 4 MB at rank 16)",
}
GRAPH_WEIGHTS = ("w_node", "w_rel", "w_prior")  # the graph terms' weights (node, relation, router prior)
LOSS_WEIGHTS = ("w_distill", *GRAPH_WEIGHTS)  # settable from the CLI; 0 switches a term off


@dataclass
class DistillConfig:
    teacher: str = "checkpoints/teacher"
    features: str = "data/features"
    suites: list[str] = field(default_factory=lambda: ["libero_spatial", "libero_object", "robosuite"])
    out: str = "runs/distill"
    export: str = "checkpoints/students"
    results: str = "results"  # the action-change profile is also written to <results>/profiles for the report
    method: str = "actdistill"
    name: str = ""  # checkpoint / run tag prefix (default: the method); a variant gets its own name
    budgets: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])
    graph: GraphConfig = field(default_factory=GraphConfig)
    router: RouterConfig = field(default_factory=RouterConfig)
    relation: str = "depth"  # depth (ours) | batch (the authors')
    stage1_steps: int = 1000
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-4
    router_lr: float = 1e-3
    graph_lr: float = 1e-3
    w_distill: float = 1.0
    w_node: float = 1.0
    w_rel: float = 0.5
    w_budget: float = 10.0
    w_prior: float = 0.1
    gamma: float = 2.0
    tau_end: float = 0.3
    state_noise: float = 0.0  # Gaussian noise on the proprio, in units of its std (the teacher trained with 0.1)
    guidance: str = "constant"  # how the teacher terms are weighted, see GUIDANCE
    tune: str = "all"  # which parameters fine-tuning changes, see TUNES
    lora_rank: int = 16  # tune="lora" only
    val_every: int = 10
    ckpt_every: int = 250
    seed: int = 0
    threads: int = 2
    device: str = "auto"
    bf16: bool = True  # bf16 autocast where the hardware has native bf16 (policies.training.use_bf16), else fp32

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        self.name = self.name or self.method
        if not self.name.replace("_", "").isalnum():
            raise ValueError(f"name must be letters, digits and underscores, got {self.name!r}")
        for b in self.budgets:
            if not 0.0 < b <= 1.0:
                raise ValueError(f"budgets must be in (0, 1], got {b}")
        if self.tune not in TUNES:
            raise ValueError(f"tune must be one of {sorted(TUNES)}, got {self.tune!r}")
        if self.lora_rank < 1:
            raise ValueError(f"lora_rank must be >= 1, got {self.lora_rank}")
        if self.guidance not in GUIDANCE:
            raise ValueError(f"guidance must be one of {sorted(GUIDANCE)}, got {self.guidance!r}")
        if self.guidance != "constant" and not set(TEACHER_TERMS) & set(METHODS[self.method].terms):
            raise ValueError(f"--guidance {self.guidance} weights teacher terms; method {self.method!r} has none")
        for k in (*LOSS_WEIGHTS, "state_noise"):
            if getattr(self, k) < 0:
                raise ValueError(f"{k} must be >= 0, got {getattr(self, k)}")


# Fields a checkpoint may resume under other values of (where outputs go, threads; more steps extend a
# run); every other field must match.
_RUN_ONLY = ("out", "export", "results", "budgets", "ckpt_every", "threads", "device", "steps")
_STAGE2_ONLY = (
    "method",
    "router",
    "lr",
    "router_lr",
    "w_distill",
    "w_node",
    "w_rel",
    "w_budget",
    "w_prior",
    "gamma",
    "tau_end",
    "state_noise",
    "guidance",
    "tune",
    "lora_rank",
)


def resume_key(cfg: DistillConfig, stage: int) -> dict:
    """The settings a resumable checkpoint of ``stage`` (1: graph + probes, 2: a student) depends on,
    and the teacher's weights (a teacher retrained in the same folder does not resume the old run)."""
    skip = _RUN_ONLY + (_STAGE2_ONLY + ("stage1_steps",) if stage == 1 else ())
    key = {k: v for k, v in asdict(cfg).items() if k not in skip}
    if Path(cfg.teacher).is_dir():  # else loading the teacher fails with its own error
        key["teacher_sha1"] = fingerprint(cfg.teacher)
    return key


def uses_graph(cfg: DistillConfig) -> bool:
    """Whether the run needs stage 1: its method has graph terms and one of their weights is non-zero."""
    return METHODS[cfg.method].graph and max(getattr(cfg, k) for k in GRAPH_WEIGHTS) > 0


def uses_distill(cfg: DistillConfig) -> bool:
    return METHODS[cfg.method].distill and cfg.w_distill > 0


def loss_terms(cfg: DistillConfig) -> tuple[str, ...]:
    """The loss terms a run composes: its method's, less those its weights switch off."""
    off = {"distill": not uses_distill(cfg), "graph": not uses_graph(cfg)}
    return tuple(t for t in METHODS[cfg.method].terms if not off.get(t, False))


def changed_weights(cfg: DistillConfig) -> dict[str, float]:
    """The loss weights this run changed from the defaults, among those its method uses (an ablation)."""
    spec = METHODS[cfg.method]
    used = {"w_distill": spec.distill} | dict.fromkeys(GRAPH_WEIGHTS, spec.graph)
    return {k: getattr(cfg, k) for k, on in used.items() if on and getattr(cfg, k) != getattr(DistillConfig, k)}


def stage1_path(cfg: DistillConfig) -> Path:
    return Path(cfg.out) / f"stage1_{cfg.name}_{cfg.graph.kind}.pt"


def student_path(cfg: DistillConfig, budget: float) -> Path:
    return Path(cfg.out) / f"{cfg.name}_b{budget:g}.pt"


class ResumeMismatch(ValueError):
    """A resumable checkpoint exists for this run name but was written under other settings."""


def load_resume(path: Path, key: dict, device: torch.device) -> dict | None:
    """The checkpoint at ``path`` if there is one; refuses one written under other settings."""
    if not path.exists():
        return None
    st = torch.load(path, map_location=device, weights_only=False)
    if st.get("key") is not None:  # settings added since the checkpoint was written held their defaults
        defaults = asdict(DistillConfig())
        st["key"] = {k: v for k, v in key.items() if k not in st["key"] and v == defaults.get(k)} | st["key"]
    if st.get("key") != key:
        old = st.get("key") or {}
        diff = sorted(k for k in set(key) | set(old) if key.get(k) != old.get(k)) or ["(unrecorded)"]
        raise ResumeMismatch(
            f"{path} was written with other settings ({', '.join(diff)}): delete it to start over, "
            "or give this run its own --name"
        )
    return st


def teacher_states(teacher: VLA, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states at every depth (B, layers + 1, T, d) and the teacher's normalised chunk."""
    states = [x]
    teacher.run_trunk(x, hook=lambda i, h: states.append(h))
    return torch.stack(states, 1), teacher.decode(states[-1])


def _batch(model: VLA, data: FrameSet, idx: torch.Tensor, device: torch.device):
    feats, lang, state, chunk = (t.to(device) for t in data.batch(idx))
    return model.embed(feats, lang, state), model.normalise_actions(chunk)


def stage1(cfg: DistillConfig, teacher: VLA, train: FrameSet, val: FrameSet, device: torch.device):
    """Trains graph + probes on the frozen teacher; returns them and the action-change profile."""
    c = teacher.cfg
    enc = Encapsulation(c.hidden_size, c.num_layers, c.chunk, c.action_dim, cfg.graph).to(device)
    path = stage1_path(cfg)
    key = resume_key(cfg, 1)
    opt = torch.optim.AdamW(enc.parameters(), lr=cfg.graph_lr)
    step = 0
    if (st := load_resume(path, key, device)) is not None:
        enc.load_state_dict(st["enc"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
    g = torch.Generator().manual_seed(cfg.seed + step)
    bar = tqdm(total=cfg.stage1_steps, initial=step, desc=f"stage 1 ({cfg.graph.kind})", unit="step")
    while step < cfg.stage1_steps:
        idx = torch.randint(len(train), (cfg.batch_size,), generator=g)
        with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=cfg.bf16):
            x, target = _batch(teacher, train, idx, device)
            states, _ = teacher_states(teacher, x)
        _, acts = enc(states.float())
        loss = (acts - target[:, None]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if step % cfg.ckpt_every == 0 or step == cfg.stage1_steps:
            atomic_save(path, enc=enc.state_dict(), opt=opt.state_dict(), step=step, key=key)
    bar.close()
    enc.eval().requires_grad_(False)
    profile, probe_err = _profile(cfg, teacher, enc, val, device)
    out = {
        "name": cfg.name,
        "graph": cfg.graph.kind,
        "seed": cfg.seed,
        "action_change": profile.tolist(),
        "probe_l1_per_depth": probe_err.tolist(),
    }
    tag = f"{cfg.name}_{cfg.graph.kind}"
    (Path(cfg.out) / f"profile_{tag}.json").write_text(json.dumps(out, indent=2) + "\n")
    report = profile_path(cfg.results, tag)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(out, indent=2) + "\n")
    return enc, profile


@torch.no_grad()
def _profile(cfg: DistillConfig, teacher: VLA, enc: Encapsulation, val: FrameSet, device: torch.device):
    changes, errs = [], []
    for i in range(0, min(len(val), 2048), 128):
        idx = torch.arange(i, min(i + 128, len(val)))
        x, target = _batch(teacher, val, idx, device)
        _, acts = enc(teacher_states(teacher, x)[0].float())
        changes.append(action_change_profile(acts) * len(idx))
        errs.append((acts - target[:, None]).abs().mean(dim=(0, 2, 3)) * len(idx))
    n = min(len(val), 2048)
    return torch.stack(changes).sum(0).cpu() / n, torch.stack(errs).sum(0).cpu() / n


def frame_weights(cfg: DistillConfig, t_chunk: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-frame weights (mean 1) of the distillation term: uniform, or under ``guidance="agree"``
    exp(-e / mean e) with e the teacher's L1 to the demonstration on that frame, so frames where the
    teacher is wrong pull the student towards it less."""
    if cfg.guidance != "agree":
        return torch.ones(len(target), device=target.device)
    e = (t_chunk.float() - target).abs().mean(dim=(1, 2))
    w = torch.exp(-e / e.mean().clamp_min(1e-8))
    return w / w.mean()


def train_student(
    cfg: DistillConfig,
    budget: float,
    teacher: VLA,
    enc: Encapsulation | None,
    profile,
    train,
    val,
    device: torch.device,
) -> RoutedVLA:
    spec, terms_on = METHODS[cfg.method], loss_terms(cfg)
    graph_on = "graph" in terms_on
    scfg = StudentConfig(budget=budget, routing=spec.routing, static=spec.static, router=cfg.router)
    student = RoutedVLA(copy.deepcopy(teacher), scfg).to(device).train()
    student.vla.requires_grad_(True)
    if cfg.tune in ("io", "lora"):
        for name, p in student.vla.named_parameters():
            p.requires_grad_(not is_trunk_matrix(name))
    if cfg.tune == "lora":
        add_lora(student.vla, cfg.lora_rank)
    router_params = list(student.router.parameters()) if student.router is not None else []
    rid = {id(p) for p in router_params}
    groups = [{"params": [p for p in student.parameters() if id(p) not in rid and p.requires_grad], "lr": cfg.lr}]
    if router_params:
        groups.append({"params": router_params, "lr": cfg.router_lr})
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    path = student_path(cfg, budget)
    tag = path.stem
    step, wall = 0, 0.0
    key = resume_key(cfg, 2)
    if (st := load_resume(path, key, device)) is not None:
        student.load_state_dict(st["student"])
        opt.load_state_dict(st["opt"])
        step, wall = st["step"], st["wall"]
    w = depth_weights(teacher.cfg.num_layers, cfg.gamma).to(device)
    prior = prior_targets(profile, budget).to(device) if (graph_on and profile is not None) else None
    g = torch.Generator().manual_seed(cfg.seed + step)
    log = (Path(cfg.out) / f"{tag}.jsonl").open("a")
    bar = tqdm(total=cfg.steps, initial=step, desc=tag, unit="step")
    t0 = time.time() - wall
    while step < cfg.steps:
        frac = step / max(1, cfg.steps - 1)
        tau = scfg.router.tau * (cfg.tau_end / scfg.router.tau) ** frac
        for group, base in zip(opt.param_groups, [cfg.lr, cfg.router_lr], strict=False):
            group["lr"] = base * 0.5 * (1 + math.cos(math.pi * frac))
        idx = torch.randint(len(train), (cfg.batch_size,), generator=g)
        with torch.autocast(device.type, torch.bfloat16, enabled=cfg.bf16):
            with torch.no_grad():
                # teacher and student read the same (noisy) frame; the student's embedding has gradients
                feats, lang, state, chunk = (t.to(device) for t in train.batch(idx))
                if cfg.state_noise > 0:  # as the teacher was trained
                    state = perturb_state(state, cfg.state_noise, teacher.state_std, g)
                target = teacher.normalise_actions(chunk)
                t_states, t_chunk = teacher_states(teacher, teacher.embed(feats, lang, state))
                t_nodes = enc(t_states.float())[0] if graph_on else None
            out = student.forward_train(student.vla.embed(feats, lang, state), tau)
        inputs = LossInputs(
            out=out,
            acts=out["actions"].float(),
            target=target,
            decode=student.vla.decode,
            depth_w=w,
            weights={k: getattr(cfg, k) for k in (*LOSS_WEIGHTS, "w_budget")},
            budget=budget,
            guide={"anneal": 1.0 - frac, "late": frac}.get(cfg.guidance, 1.0),
            t_chunk=t_chunk,
            frame_w=frame_weights(cfg, t_chunk, target),
            enc=enc,
            t_nodes=t_nodes,
            relation=cfg.relation,
            prior=prior,
        )
        terms = compose(terms_on, inputs)
        loss = sum(terms.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update()
        frac_run = out["gates"].float().mean().item()
        bar.set_postfix(loss=f"{loss.item():.3f}", run=f"{frac_run:.2f}")
        if step % 10 == 0:
            row = {"step": step, "tau": round(tau, 3), "run_fraction": round(frac_run, 4)}
            row.update({k: round(v.item(), 5) for k, v in terms.items()})
            log.write(json.dumps(row) + "\n")
            log.flush()
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            atomic_save(
                path, student=student.state_dict(), opt=opt.state_dict(), step=step, wall=time.time() - t0, key=key
            )
    bar.close()
    student.eval()
    return student


@torch.no_grad()
def realised(student: RoutedVLA, val: FrameSet, device: torch.device, n: int = 1024) -> tuple[float, float]:
    """Mean fraction of layers run and L1 action error (normalised) on up to n validation frames."""
    fr, err, m = 0.0, 0.0, min(n, len(val))
    for i in range(0, m, 128):
        idx = torch.arange(i, min(i + 128, m))
        x, target = _batch(student.vla, val, idx, device)
        h, keep = student.route(x)
        fr += keep.float().mean().item() * len(idx)
        err += (student.vla.decode(h) - target).abs().mean().item() * len(idx)
    return fr / m, err / m


def calibrate(student: RoutedVLA, val: FrameSet, device: torch.device) -> dict[str, float]:
    """Lowest threshold whose realised fraction on validation frames is within the budget (gate logit
    threshold for learned routers, action-change threshold for early exit)."""
    grid = student.routing.thresholds
    if not grid:  # fixed masks: nothing to calibrate
        return dict(zip(("fraction", "val_l1"), realised(student, val, device), strict=True))
    for t in grid:
        student.cfg.threshold = t
        frac, err = realised(student, val, device)
        if frac <= student.cfg.budget + 1e-6:
            break
    return {"threshold": t, "fraction": frac, "val_l1": err}


def run(cfg: DistillConfig, command: str | None = None) -> dict[float, dict[str, float]]:
    """Trains a student per budget and exports each; ``command``: the command line that started the run
    (``distill.run``), kept in every student's metadata; None from a library call."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    cfg = effective_precision(cfg, device)
    checks = [(stage1_path(cfg), 1)] if uses_graph(cfg) else []
    for path, stage in checks + [(student_path(cfg, b), 2) for b in cfg.budgets]:
        load_resume(path, resume_key(cfg, stage), torch.device("cpu"))  # refuse before loading anything
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    (Path(cfg.out) / f"config_{cfg.name}.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    teacher = load_vla(cfg.teacher).to(device).requires_grad_(False)
    rendered = feature_face_budget(cfg.features, cfg.suites)
    if rendered != teacher.cfg.face_budget:
        raise ValueError(
            f"features under {cfg.features} were rendered with face_budget={rendered}, the teacher was trained on "
            f"face_budget={teacher.cfg.face_budget}: distil on features of the teacher's own render path"
        )
    if feature_blocks_of(cfg.features, cfg.suites) != teacher.cfg.feature_blocks:
        raise ValueError(f"features under {cfg.features} were not encoded at the teacher's feature_blocks")
    train = load_frames(cfg.features, cfg.suites, teacher.cfg.chunk, "train", cfg.val_every)
    val = load_frames(cfg.features, cfg.suites, teacher.cfg.chunk, "val", cfg.val_every)
    enc, profile = (None, None)
    if uses_graph(cfg):
        enc, profile = stage1(cfg, teacher, train, val, device)
    results = {}
    for budget in cfg.budgets:
        t0 = time.time()
        student = train_student(cfg, budget, teacher, enc, profile, train, val, device)
        cal = calibrate(student, val, device)
        meta = {
            "method": cfg.method,
            "name": cfg.name,
            "graph": cfg.graph.kind if enc is not None else None,
            "relation": cfg.relation,
            "steps": cfg.steps,
            "stage1_steps": cfg.stage1_steps if enc is not None else None,
            "batch_size": cfg.batch_size,
            "seed": cfg.seed,
            "state_noise": cfg.state_noise,
            "guidance": cfg.guidance,
            "tune": cfg.tune,
            **({"lora_rank": cfg.lora_rank} if cfg.tune == "lora" else {}),
            "weights": changed_weights(cfg),
            "calibration": cal,
            "train_wall_s": round(time.time() - t0, 1),
            **({"command": command} if command else {}),
        }
        folder = Path(cfg.export) / f"{cfg.name}_b{budget:g}"
        save_student(student.cpu(), teacher.cpu(), folder, os.path.relpath(cfg.teacher, folder), meta)
        record_training(cfg.results, folder.name, json.loads((folder / "student.json").read_text()))
        teacher.to(device)
        results[budget] = cal
        print(f"{cfg.method} budget {budget}: {cal}")
    return results
