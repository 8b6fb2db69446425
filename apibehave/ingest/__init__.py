"""Readers that turn gateway logs and event files into canonical events.

Kept free of heavy imports: import the submodules you need, e.g.
:mod:`apibehave.ingest.pipeline` or :mod:`apibehave.ingest.formats.combined`.
"""
