"""Registered trajectory terms (:mod:`.registry`). Adding one is one module here, imported
below, plus its weight in config/ros/planner.yaml (docs/architecture.md)."""

from . import smoothness
from .registry import TRAJECTORY_TERMS, trajectory_term, TrajectoryTerm, weight_parameter

__all__ = ['TRAJECTORY_TERMS', 'trajectory_term', 'TrajectoryTerm', 'weight_parameter',
           'smoothness']
