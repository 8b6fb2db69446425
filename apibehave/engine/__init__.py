"""The causal decision engine shared by ``replay`` and the live enforcer."""
