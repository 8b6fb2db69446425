"""Features declared once, computed by a causal batch engine and a streaming engine.

- :mod:`~apibehave.features.spec`: :class:`FeatureSpec`, :class:`FeatureSet` (and its hash);
- :mod:`~apibehave.features.default`: :data:`DEFAULT_FEATURE_SET`;
- :mod:`~apibehave.features.prepare`: :func:`prepare_events`, :class:`FeatureContext`;
- :mod:`~apibehave.features.vocabulary`: :class:`Vocabulary` (fitted, JSON round trip);
- :mod:`~apibehave.features.batch`: :func:`compute_features` over a whole log;
- :mod:`~apibehave.features.streaming`: :class:`StreamingFeatures`, one call at a time.
"""

from apibehave.features.batch import compute_features
from apibehave.features.default import DEFAULT_FEATURE_SET
from apibehave.features.derive import UNKNOWN_API
from apibehave.features.prepare import FeatureContext, prepare_events
from apibehave.features.spec import FeatureSet, FeatureSpec, FeatureSpecError
from apibehave.features.streaming import StreamingFeatures
from apibehave.features.vocabulary import ApiVocabulary, Vocabulary

__all__ = [
    "DEFAULT_FEATURE_SET",
    "UNKNOWN_API",
    "ApiVocabulary",
    "FeatureContext",
    "FeatureSet",
    "FeatureSpec",
    "FeatureSpecError",
    "StreamingFeatures",
    "Vocabulary",
    "compute_features",
    "prepare_events",
]
