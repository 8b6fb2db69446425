"""Payload detection: injection, fuzzing and tampering in path, query, body and headers.

Trained on normal calls only. :class:`PayloadDetector` (``model``) learns per API an
endpoint and parameter vocabulary and value models (``profile``, ``value_types``) over
the items a call is split into (``tokenize``); :func:`attack_type_of` (``explain``) names
the attack type its evidence points to. See docs/payload.md.
"""

from apibehave.detect.payload.explain import attack_type_of
from apibehave.detect.payload.model import PayloadDetector

__all__ = ["PayloadDetector", "attack_type_of"]
