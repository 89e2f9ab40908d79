"""Render paths: simplified visual meshes, their cache, physics left alone, images re-rendered from states."""

import h5py
import numpy as np
import pytest

import envs
from envs.meshes import simplify
from envs.render import RenderSettings


def _soup_grid(n: int) -> dict:
    """A wavy n x n grid as MuJoCo stores textured meshes: triangle soup, one texcoord per corner."""
    u, v = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
    pts = np.stack([u, v, 0.05 * np.sin(6 * u) * np.cos(4 * v)], -1).reshape(-1, 3)
    uv = np.stack([u, v], -1).reshape(-1, 2)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    quads = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], -1).reshape(-1, 4)
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    corners = tris.reshape(-1)
    soup = np.arange(corners.size).reshape(-1, 3)
    return {"vert": pts[corners], "face": soup, "texcoord": uv[corners], "facetexcoord": soup}


def test_simplify_keeps_a_subset_of_vertices_with_their_texcoords():
    mesh = _soup_grid(40)  # 3200 faces
    out = simplify(mesh, 300)
    assert 12 <= len(out["face"]) <= 300
    pairs = {tuple(np.round(np.r_[p, t], 9)) for p, t in zip(mesh["vert"], mesh["texcoord"], strict=True)}
    kept = {tuple(np.round(np.r_[p, t], 9)) for p, t in zip(out["vert"], out["texcoord"], strict=True)}
    assert kept <= pairs  # every kept vertex is an original one, with its own texture coordinate
    assert out["face"].max() < len(out["vert"])
    small = simplify(mesh, 10**6)  # under budget: welded only, same surface
    assert len(small["face"]) == len(mesh["face"]) and len(small["vert"]) == 41 * 41


def test_render_settings_validate_and_read_old_records():
    assert RenderSettings.of(True, None) == RenderSettings("full")
    assert RenderSettings.of(True, 800) == RenderSettings("simplified", 800)
    assert RenderSettings.of(False) == RenderSettings("robosuite")
    with pytest.raises(ValueError, match="Unknown render path"):
        RenderSettings("fancy")
    with pytest.raises(ValueError, match="face_budget"):
        RenderSettings("full", 800)
    with pytest.raises(ValueError, match="face_budget needs fast_render"):
        RenderSettings.of(False, 800)
    assert RenderSettings.from_record({"image_size": 96, "fast_render": True}).label() == "full"  # before the field
    assert RenderSettings.from_record({"render_path": "simplified", "face_budget": 800}).label() == "simplified800"


@pytest.mark.sim
def test_simplified_path_renders_close_to_full_meshes_and_leaves_physics_alone(tmp_path, monkeypatch):
    from skimage.metrics import structural_similarity

    import envs.meshes as meshes

    monkeypatch.setenv("VLABENCH_CACHE", str(tmp_path))
    actions = np.random.default_rng(0).uniform(-0.5, 0.5, (6, 7))
    runs = {}
    for name, kw in {"full": {}, "simplified": {"face_budget": 400}, "physics": {"render_images": False}}.items():
        env = envs.make_env("robosuite", 0, image_size=64, **kw).unwrapped
        obs, _ = env.reset(seed=0, options={"init_state": 3})
        seq = [obs] + [env.step(a)[0] for a in actions]
        runs[name] = (seq, env.describe(), env)
    full, simp, phys = (runs[k][0] for k in ("full", "simplified", "physics"))
    for a, b, c in zip(full, simp, phys, strict=True):
        assert np.array_equal(a["state"], b["state"]) and np.array_equal(a["state"], c["state"])
        for cam in ("agentview", "wrist"):
            assert structural_similarity(a[cam], b[cam], channel_axis=2) > 0.9
    assert runs["simplified"][1]["render_path"] == "simplified" and runs["simplified"][1]["face_budget"] == 400
    assert runs["full"][1]["render_path"] == "full" and runs["full"][1]["face_budget"] is None
    simplified_env = runs["simplified"][2]
    render = simplified_env._renderer.model
    assert render.mesh_facenum.max() <= 1.25 * 400 < simplified_env.model.mesh_facenum.max()
    # in one pose, the 400-face render differs from a render model that decimates nothing, which itself
    # matches the full path up to its sub-step pose lag
    from envs.render import FastRenderer, SimplifiedRenderer

    whole = SimplifiedRenderer(simplified_env.model, simplified_env.scene_xml(), 10**9, 64, 64)
    whole.pose_from(simplified_env.model, simplified_env.data)
    simplified_env._renderer.pose_from(simplified_env.model, simplified_env.data)
    full = FastRenderer(simplified_env.model, 64, 64)
    for cam in ("agentview", "robot0_eye_in_hand"):
        ref = whole.render(cam)
        assert not np.array_equal(ref, simplified_env._renderer.render(cam))
        assert np.abs(ref.astype(int) - full.render(simplified_env.data, cam)).mean() < 0.5
    whole.close()
    full.close()
    assert len(list((tmp_path / "meshes").glob("*.npz"))) > 0
    assert len(list((tmp_path / "models").glob("*.mjb"))) == 2  # budgets 400 and 10**9
    # a second build loads the cached binary model: nothing is decimated or compiled again
    monkeypatch.setattr(meshes, "_compile", lambda *a: pytest.fail("compiled again despite the cache"))
    again = meshes.render_model(simplified_env.model, simplified_env.scene_xml(), 400)
    assert np.array_equal(again.mesh_face, render.mesh_face)
    for _, _, env in runs.values():
        env.close()


@pytest.mark.sim
def test_demos_keep_states_and_rerender_to_the_recorded_frames(tmp_path, monkeypatch, capsys):
    """Recording with images and re-rendering the stored states give the same frames, bit for bit."""
    from demos import record, render

    monkeypatch.setenv("VLABENCH_CACHE", str(tmp_path / "cache"))
    live, states_only, again = tmp_path / "live", tmp_path / "states", tmp_path / "again"
    common = ["--suite", "robosuite", "--tasks", "0", "--episodes-per-task", "1", "--noise-frac", "0"]
    common += ["--image-size", "32", "--workers", "1"]
    record.main([*common, "--face-budget", "400", "--frame-stride", "2", "--out", str(live)])
    record.main([*common, "--no-images", "--out", str(states_only)])
    args = ["--image-size", "32", "--frame-stride", "2", "--face-budget", "400", "--workers", "1"]
    render.main(["--demos", str(states_only), "--out", str(again), *args])
    with h5py.File(live / "robosuite" / "task_0.hdf5") as a, h5py.File(again / "robosuite" / "task_0.hdf5") as b:
        ga, gb = a["data/demo_0"], b["data/demo_0"]
        assert "agentview_rgb" not in h5py.File(states_only / "robosuite" / "task_0.hdf5")["data/demo_0/obs"]
        assert np.array_equal(ga["states"][()], gb["states"][()])  # physics-only recording: the same episode
        assert np.array_equal(ga["obs_steps"][()], gb["obs_steps"][()])
        for key in ("agentview_rgb", "eye_in_hand_rgb"):
            assert ga["obs"][key].shape[0] == len(ga["obs_steps"])
            assert np.array_equal(ga["obs"][key][()], gb["obs"][key][()])
        assert '"render_path": "simplified"' in b["data"].attrs["env_args"]
    render.main(["--demos", str(states_only), "--out", str(again), *args])  # up to date: nothing to do
    with pytest.raises(SystemExit):  # another image size into the same folder is refused
        render.main(["--demos", str(states_only), "--out", str(again), "--image-size", "64", "--workers", "1"])
    assert "was rendered with" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # nor is rendering into a folder of live recordings
        render.main(["--demos", str(states_only), "--out", str(live), *args])
    assert "recorded live" in capsys.readouterr().err


@pytest.mark.sim
def test_render_demos_per_task_takes_a_subset_first_and_the_rest_on_a_later_run(tmp_path, monkeypatch):
    """--demos-per-task 1 renders only demo_0; a later run without it adds the others."""
    from demos import record, render

    monkeypatch.setenv("VLABENCH_CACHE", str(tmp_path / "cache"))
    states, out = tmp_path / "states", tmp_path / "out"
    record.main(
        ["--suite", "robosuite", "--tasks", "0", "--episodes-per-task", "2", "--noise-frac", "0"]
        + ["--workers", "1", "--no-images", "--out", str(states)]
    )
    args = ["--demos", str(states), "--out", str(out), "--image-size", "16", "--frame-stride", "8", "--workers", "1"]

    def rendered() -> list[str]:
        with h5py.File(out / "robosuite" / "task_0.hdf5") as f:
            return sorted(k for k in f["data"] if k.startswith("demo_"))

    render.main([*args, "--demos-per-task", "1"])
    assert rendered() == ["demo_0"]
    render.main(args)
    assert rendered() == ["demo_0", "demo_1"]
    with pytest.raises(SystemExit):
        render.main([*args, "--demos-per-task", "0"])


def test_records_of_another_render_path_are_refused(tmp_path):
    from bench import run
    from bench.records import append_record

    cfg = run.RunConfig(policy="expert", suites=["robosuite"], tasks=[0], out=str(tmp_path))
    path = run.records_path(cfg, "robosuite")
    base = {"task_id": 0, "init_state": 0, "seed": 0, "success": True}
    append_record(path, {**base, "env": {"fast_render": True, "image_size": 128}})  # before the field: full
    assert sorted(run.recorded(cfg, "robosuite")) == [(0, 0)]
    append_record(path, {**base, "init_state": 1, "seed": 1, "env": {"render_path": "simplified", "face_budget": 800}})
    with pytest.raises(run.StaleRecordsError, match="rendered on another path"):
        run.recorded(cfg, "robosuite")
    simplified = run.RunConfig(policy="expert", suites=["robosuite"], tasks=[0], out=str(tmp_path), face_budget=800)
    assert simplified.label == "expert_fb800"  # an override renders elsewhere: its own records file
    assert run.records_path(simplified, "robosuite") != path and run.recorded(simplified, "robosuite") == {}


def test_training_takes_the_render_path_of_its_features(tmp_path):
    """A teacher trained on simplified renders records the face budget, so evaluation renders alike."""
    from helpers import write_features

    from policies.vla.data import feature_face_budget

    write_features(tmp_path, tasks=2)
    assert feature_face_budget(tmp_path, ["libero_spatial"]) is None  # files from before the field: full meshes
    for t in (0, 1):
        with h5py.File(tmp_path / "libero_spatial" / f"task_{t}.hdf5", "a") as f:
            f.attrs["render_path"] = "simplified1500"
    assert feature_face_budget(tmp_path, ["libero_spatial"]) == 1500
    with h5py.File(tmp_path / "libero_spatial" / "task_1.hdf5", "a") as f:
        f.attrs["render_path"] = "full"
    with pytest.raises(ValueError, match="several render paths"):
        feature_face_budget(tmp_path, ["libero_spatial"])


@pytest.mark.sim
def test_render_model_puts_every_mesh_vertex_where_the_physics_model_has_it(tmp_path, monkeypatch):
    """Meshes passed through user data (undecimated) land in the same world places: the compiler's
    centring and alignment (mesh_pos, mesh_quat) is undone and redone correctly."""
    import mujoco

    import envs.meshes as meshes

    monkeypatch.setenv("VLABENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(meshes, "cached_simplify", lambda mesh, budget: meshes.simplify(mesh, 10**9))
    env = envs.make_env("robosuite", 0, image_size=32, render_images=False).unwrapped
    env.reset(seed=0, options={"init_state": 0})
    phys, render = env.model, meshes.render_model(env.model, env.scene_xml(), 1)  # every mesh replaced
    data, rdata = mujoco.MjData(phys), mujoco.MjData(render)
    data.qpos[:] = rdata.qpos[:] = env.data.qpos
    for m, d in ((phys, data), (render, rdata)):
        m.body_pos[:], m.body_quat[:] = env.model.body_pos, env.model.body_quat
        mujoco.mj_kinematics(m, d)
    checked = 0
    for g in np.flatnonzero(phys.geom_type == mujoco.mjtGeom.mjGEOM_MESH):
        boxes = []
        for m, d in ((phys, data), (render, rdata)):
            i = m.geom_dataid[g]
            v = m.mesh_vert[m.mesh_vertadr[i] : m.mesh_vertadr[i] + m.mesh_vertnum[i]]
            w = d.geom_xpos[g] + v @ d.geom_xmat[g].reshape(3, 3).T
            boxes.append(np.r_[w.min(0), w.max(0)])
        np.testing.assert_allclose(boxes[0], boxes[1], atol=1e-5)
        checked += 1
    assert checked > 20
    env.close()


def test_scene_track_stores_changing_fields_per_step():
    from types import SimpleNamespace

    from envs.render import SYNCED_FIELDS, SceneTrack

    track = SceneTrack()
    model = SimpleNamespace(**{k: np.zeros((3, 4)) for k in SYNCED_FIELDS})
    for t in range(4):
        model.site_rgba[1, 3] = float(t >= 2)  # a flame lit at step 2
        track.record(model)
    static, per_step = track.arrays()
    assert set(per_step) == {"site_rgba"} and per_step["site_rgba"].shape == (4, 3, 4)
    assert per_step["site_rgba"][:, 1, 3].tolist() == [0, 0, 1, 1] and "body_pos" in static


def test_compiled_models_are_fresh_copies():
    from envs.model_cache import compiled

    xml = '<mujoco><worldbody><body name="b" pos="0 0 1"><freejoint/><geom size=".1"/></body></worldbody></mujoco>'
    a, b = compiled(xml), compiled(xml)
    assert a is not b and (a.body_pos == b.body_pos).all()
    a.body_pos[1] = [5, 5, 5]  # robosuite and LIBERO move bodies of the model they get
    assert compiled(xml).body_pos[1].tolist() == [0, 0, 1]
