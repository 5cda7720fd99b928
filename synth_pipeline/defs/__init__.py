"""The thin Dagster layer: assets, checks, sensors, schedules, partitions, resources, jobs.

Each module calls the Dagster-free core and adds no logic of its own beyond wiring.
"""
