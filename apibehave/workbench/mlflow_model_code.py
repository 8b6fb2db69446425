"""The MLflow "model from code" file: a pyfunc that scores events with a bundled model.

MLflow copies this file into every logged model (``python_model=<this file>``) and runs it
at load time; it must stay import-light and define no state at import. The model's only
artifact is a bundle directory (``artifacts["bundle"]``), loaded with
:func:`apibehave.bundle.model_bundle.load_model_bundle`, which verifies every checksum and
never unpickles anything. ``predict`` replays the given events causally, exactly as
``apibehave replay`` does, and returns the decisions frame (CONTRACT section 3).

Usage (via :mod:`apibehave.workbench.pyfunc_model`, not directly)::

    model = mlflow.pyfunc.load_model("models:/apibehave@champion")
    decisions = model.predict(events)  # one row per event, replay semantics
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext


class BundleDecisionModel(PythonModel):
    """A pyfunc around one apibehave bundle: events in, replay decisions out."""

    def load_context(self, context: PythonModelContext) -> None:
        """Verify and load the bundle artifact (no pickle)."""
        from apibehave import __version__
        from apibehave.bundle.model_bundle import load_model_bundle

        wanted = (context.model_config or {}).get("apibehave_version")
        if wanted and wanted != __version__:
            raise RuntimeError(
                f"this model was logged with apibehave {wanted} but {__version__} is "
                "installed; install the wheel logged beside it (see requirements.txt)"
            )
        self._model = load_model_bundle(context.artifacts["bundle"])

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Return one decision per input event (columns of the decisions file)."""
        from apibehave.engine.replay import replay_events
        from apibehave.schema import normalize_events

        events = normalize_events(pd.DataFrame(model_input), source="model input")
        return replay_events(events, self._model).decisions


mlflow.models.set_model(BundleDecisionModel())
