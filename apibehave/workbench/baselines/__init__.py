"""Baselines that apibehave is measured against, on the same data and in the same shape.

Each baseline turns a log into decisions (CONTRACT section 3), causally, and names an
attack type for every block so attribution can be compared:

- :class:`~apibehave.workbench.baselines.crowdsec.CrowdSecRules`: a CrowdSec-style rule set
  (leaky buckets per IP with the published HTTP scenario thresholds, 4 h bans);
- :class:`~apibehave.workbench.baselines.iforest.WindowIsolationForest`: a plain per-IP
  IsolationForest over five-minute windows.

These are research code for the benchmark; the enforcer never imports them.
"""

from apibehave.workbench.baselines.crowdsec import CrowdSecRules, LeakyScenario
from apibehave.workbench.baselines.iforest import WindowIsolationForest

__all__ = ["CrowdSecRules", "LeakyScenario", "WindowIsolationForest"]
