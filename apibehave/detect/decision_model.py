"""Everything the engine needs to decide: features, vocabulary, detectors, catalogue, policy."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from apibehave.detect.model import DetectorSet
from apibehave.detect.payload import PayloadDetector
from apibehave.detect.policy import DecisionPolicy
from apibehave.detect.rules import InvalidApiRule
from apibehave.features.prepare import FeatureContext
from apibehave.features.spec import FeatureSet
from apibehave.features.vocabulary import Vocabulary
from apibehave.schema.catalogue import Catalogue


@dataclass(frozen=True)
class DecisionModel:
    """A trained, deployable decision model: what a bundle holds.

    Attributes
    ----------
    feature_set : FeatureSet
        The features, declared once.
    vocabulary : Vocabulary
        Per-API learned vocabulary (novelty features).
    detectors : DetectorSet
        Per-API thresholds and their status.
    catalogue : Catalogue
        The APIs (resolution, identifiers, login and decoy paths, modes).
    policy : DecisionPolicy
        TTLs, standing allow entries and rule settings.
    payload : PayloadDetector or None
        The payload detector (injection, fuzzing, tampering), when trained.
    """

    feature_set: FeatureSet
    vocabulary: Vocabulary
    detectors: DetectorSet
    catalogue: Catalogue
    policy: DecisionPolicy
    payload: PayloadDetector | None = None

    @cached_property
    def invalid_api_rule(self) -> InvalidApiRule:
        """The invalid-API rule with the policy's ceiling (off without a catalogue)."""
        limit = self.policy.invalid_api_max_calls if len(self.catalogue) else float("inf")
        return InvalidApiRule(self.feature_set, limit)

    def feature_context(self) -> FeatureContext:
        """Return the per-API facts the feature engines need (login paths)."""
        return FeatureContext(
            login_paths={api.name: api.login_paths for api in self.catalogue if api.login_paths}
        )
