"""Moved to ``demos.record`` (issue 40: the data pipeline is the ``demos`` package).

This shim keeps ``python -m bench.demos`` and ``from bench.demos import ...`` working for this release.
"""

from demos.record import (
    CONTENT_FIELDS,
    DemoConfig,
    Job,
    SettingsMismatch,
    check_settings,
    existing_demos,
    known_failures,
    main,
    plan_jobs,
    record_episode,
    run,
    sim_state,
    task_file,
    write_demo,
)

__all__ = [
    "CONTENT_FIELDS",
    "check_settings",
    "DemoConfig",
    "existing_demos",
    "Job",
    "known_failures",
    "main",
    "plan_jobs",
    "record_episode",
    "run",
    "SettingsMismatch",
    "sim_state",
    "task_file",
    "write_demo",
]

if __name__ == "__main__":
    main()
