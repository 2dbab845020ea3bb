"""Training: the loop, the step and optimizer, checkpointing, the clock, the schedule, the process
world, signals and progress.
"""
