"""The sideband enforcer: an HTTP service around the live decision engine.

``apibehave enforce --bundle B`` serves CONTRACT section 5: PingIntelligence ASE sideband
routes, nginx ``auth_request``, deny and allow list administration, reports, health and
Prometheus metrics. The decisions come from :class:`apibehave.engine.live.LiveEngine`, the
twin of ``replay``. Start with :func:`apibehave.enforce.app.create_app`; the routes and
settings are described in ``docs/enforce.md``.
"""
