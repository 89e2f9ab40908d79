"""Moved to ``demos.files`` (issue 40: the data pipeline is the ``demos`` package).

This shim keeps ``from bench.demo_files import ...`` working for this release.
"""

from demos.files import (
    CONTENT_FIELDS,
    DemoConfig,
    Job,
    SettingsMismatch,
    check_settings,
    existing_demos,
    sim_state,
    task_file,
    write_demo,
    write_images,
    write_scene,
)

__all__ = [
    "CONTENT_FIELDS",
    "DemoConfig",
    "Job",
    "SettingsMismatch",
    "check_settings",
    "existing_demos",
    "sim_state",
    "task_file",
    "write_demo",
    "write_images",
    "write_scene",
]
