"""Render-only models with simplified visual meshes, decimated once per mesh and cached on disk.

A scene's render model is compiled from the same XML as its physics model, with every mesh above a
face budget replaced by a decimated copy (``meshoptimizer``: edge collapses onto existing vertices, so
the kept vertices keep their texture coordinates; corners are welded by position and texture
coordinate first, which keeps texture seams as seams). Normals are recomputed by MuJoCo's compiler.
The physics model is never touched: it renders nothing on this path, so trajectories stay identical
with images on or off and with any face budget.

Caches (``VLABENCH_CACHE``, default ``~/.cache/vlabench``): ``meshes/<sha1>.npz`` per decimated mesh,
keyed by the mesh's compiled arrays, the budget and ``ALGORITHM``; ``models/<sha1>.mjb`` per compiled
render model, keyed by the XML, the physics model's mesh and texture data, the budget and
``ALGORITHM``. A second build of the same scene loads the binary model instead of compiling.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import mujoco
import numpy as np

ALGORITHM = "meshopt-weld-pos-uv-sloppy-v2"  # change when the decimation changes: it is part of every cache key


def cache_dir() -> Path:
    return Path(os.environ.get("VLABENCH_CACHE", Path.home() / ".cache" / "vlabench"))


def _atomic_write(path: Path, write) -> None:
    """Writes through a temporary file in the same folder, so a killed process never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _rotate(quat: np.ndarray, v: np.ndarray) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    return v @ mat.reshape(3, 3).T


def mesh_arrays(model: mujoco.MjModel, i: int) -> dict[str, np.ndarray | None]:
    """Mesh ``i`` of a compiled model, vertices moved back to the frame of the asset (scaled)."""
    va, vn = model.mesh_vertadr[i], model.mesh_vertnum[i]
    fa, fn = model.mesh_faceadr[i], model.mesh_facenum[i]
    ta, tn = model.mesh_texcoordadr[i], model.mesh_texcoordnum[i]
    # the compiler centres each mesh and aligns it with its inertia frame (mesh_pos, mesh_quat) and moves
    # its geoms to match; undoing it here lets the compiler redo it for the decimated mesh
    vert = _rotate(model.mesh_quat[i], model.mesh_vert[va : va + vn].astype(np.float64)) + model.mesh_pos[i]
    return {
        "vert": vert,
        "face": model.mesh_face[fa : fa + fn].copy(),
        "texcoord": model.mesh_texcoord[ta : ta + tn].copy() if tn > 0 else None,
        "facetexcoord": model.mesh_facetexcoord[fa : fa + fn].copy() if tn > 0 else None,
    }


def simplify(mesh: dict[str, np.ndarray | None], face_budget: int) -> dict[str, np.ndarray | None]:
    """Decimates a mesh to at most about ``face_budget`` faces.

    Topology-preserving edge collapses first; where borders and texture seams stop them above 1.25x the
    budget, meshoptimizer's sloppy simplifier (which ignores topology) instead. Both keep a subset of
    the vertices.
    Returns ``vert`` (V x 3), ``face`` (F x 3) and ``texcoord`` (V x 2 or None), one texture coordinate
    per vertex. Returns the welded mesh undecimated where decimation would leave it degenerate.
    """
    import meshoptimizer

    face, tex = mesh["face"], mesh["texcoord"]
    corners = mesh["vert"][face.ravel()]
    key = corners if tex is None else np.concatenate([corners, tex[mesh["facetexcoord"].ravel()]], 1)
    # MuJoCo stores textured meshes as triangle soup: weld equal corners, or nothing can collapse
    _, first, inv = np.unique(np.round(key * 1e6).astype(np.int64), axis=0, return_index=True, return_inverse=True)
    vert = corners[first]
    uv = None if tex is None else tex[mesh["facetexcoord"].ravel()][first]
    index = inv.reshape(-1).astype(np.uint32)
    welded = {"vert": vert, "face": index.reshape(-1, 3), "texcoord": uv}
    if len(face) <= face_budget:
        return welded
    dest, pos = np.zeros(index.size, np.uint32), vert.astype(np.float32)
    n = meshoptimizer.simplify(dest, index, pos, target_index_count=3 * face_budget, target_error=1.0)
    if n > 3 * face_budget * 1.25:  # topology (borders, seams) stopped the collapses: ignore it for this mesh
        n = meshoptimizer.simplify_sloppy(dest, index, pos, target_index_count=3 * face_budget, target_error=1.0)
    used, new_index = np.unique(dest[:n], return_inverse=True)
    if len(used) < 4 or n < 12:  # MuJoCo needs 4 vertices; a mesh that small is not worth decimating
        return welded
    return {
        "vert": vert[used],
        "face": new_index.reshape(-1, 3).astype(np.uint32),
        "texcoord": None if uv is None else uv[used],
    }


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


def cached_simplify(mesh: dict[str, np.ndarray | None], face_budget: int) -> dict[str, np.ndarray | None]:
    """``simplify`` through the on-disk cache, keyed by the mesh's content, the budget and ``ALGORITHM``."""
    parts = [ALGORITHM, str(face_budget)] + [np.ascontiguousarray(a).tobytes() for a in mesh.values() if a is not None]
    path = cache_dir() / "meshes" / f"{_digest(*parts)}.npz"
    if path.exists():
        with np.load(path) as z:
            return {"vert": z["vert"], "face": z["face"], "texcoord": z["texcoord"] if "texcoord" in z else None}
    out = simplify(mesh, face_budget)
    arrays = {k: v for k, v in out.items() if v is not None}
    _atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
    return out


def _compile(physics: mujoco.MjModel, xml: str, face_budget: int) -> mujoco.MjModel:
    spec = mujoco.MjSpec.from_string(xml)
    if len(spec.meshes) != physics.nmesh:
        raise ValueError(f"the XML has {len(spec.meshes)} meshes, the physics model {physics.nmesh}")
    for i, sm in enumerate(spec.meshes):
        if physics.mesh_facenum[i] <= face_budget:
            continue
        out = cached_simplify(mesh_arrays(physics, i), face_budget)
        sm.file = ""
        sm.scale = [1.0, 1.0, 1.0]
        sm.uservert = out["vert"].ravel().tolist()
        sm.userface = out["face"].ravel().tolist()
        if out["texcoord"] is not None:
            sm.usertexcoord = out["texcoord"].ravel().tolist()
            sm.userfacetexcoord = out["face"].ravel().tolist()
    return spec.compile()


def render_model(physics: mujoco.MjModel, xml: str, face_budget: int) -> mujoco.MjModel:
    """The render model of a scene: ``xml`` compiled with simplified meshes (cached as MJB on disk).

    ``physics`` is the model compiled from the same ``xml``; its meshes are the decimation's input.
    """
    if face_budget < 1:
        raise ValueError(f"face_budget must be >= 1, got {face_budget}")
    # keyed by what the MJCF's asset paths point at too, not only by its text
    assets = [np.ascontiguousarray(getattr(physics, k)).tobytes() for k in ("mesh_vert", "mesh_face", "tex_data")]
    path = cache_dir() / "models" / f"{_digest(ALGORITHM, str(face_budget), mujoco.__version__, xml, *assets)}.mjb"
    if path.exists():
        try:
            return mujoco.MjModel.from_binary_path(str(path))
        except Exception:  # an unreadable cache entry (another MuJoCo build): compile again
            path.unlink(missing_ok=True)
    model = _compile(physics, xml, face_budget)
    _atomic_write(path, lambda tmp: mujoco.mj_saveModel(model, tmp, None))
    return model
