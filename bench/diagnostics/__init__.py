"""One-off diagnostics of a policy's failures (not part of the benchmark run): the copycat probe, Lift grasp offsets."""
