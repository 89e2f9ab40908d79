"""The cameras every env renders and every VLA reads, in this order: observation key -> MuJoCo camera.

One definition for ``envs`` and ``policies``. It lives here, not in ``envs``, because importing ``envs``
loads MuJoCo and robosuite, and ``policies.vla.config`` must not need them; this module imports nothing.
"""

CAMERAS: dict[str, str] = {"agentview": "agentview", "wrist": "robot0_eye_in_hand"}
# the same cameras in a demonstration file (robomimic layout: ``obs/<key>``)
DEMO_IMAGE_KEYS: dict[str, str] = {"agentview": "agentview_rgb", "wrist": "eye_in_hand_rgb"}
