"""apibehave: open, self-learning API behavioural security.

Learn each API's normal behaviour from its traffic, detect and attribute attacks,
and block attackers through a sideband enforcer that gateways call on every request.
"""

__version__ = "0.1.0"
