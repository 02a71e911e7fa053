"""The planner; it lives in :mod:`lazyarr.core.plan` (kept importable here)."""

from lazyarr.core.plan import CALL_COST_BYTES, SLAB_FACTOR, ReadPlan, fast_plan, plan, plan_read

__all__ = ["ReadPlan", "plan", "plan_read", "fast_plan", "CALL_COST_BYTES", "SLAB_FACTOR"]
