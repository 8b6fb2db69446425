"""Reports over events: shared by the enforcer's report routes and the workbench.

This room imports only :mod:`apibehave.schema` and :mod:`apibehave.common`. Import the
module you need, e.g. :mod:`apibehave.reports.usage`.
"""
