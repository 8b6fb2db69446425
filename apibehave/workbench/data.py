"""Notebook 01's data step: simulate or ingest events, settle the API catalogue.

``data.source: simulate`` simulates the scenario of ``simulate:`` and writes its training
period (``train.parquet``), its test period (``test.parquet``, the fixed held-out set with
every attack campaign), all events, the simulator's ``apis.yaml`` and ``summary.json``
under ``data.dir``. Any other source is a log or event file (a gateway log, the enforcer's
call log): it is ingested into ``data.dir/ingested.parquet`` and every event is training
data; the held-out set is ``evaluate.held_out``. Either way discovery proposes a catalogue
from the training events (``apis.discovered.yaml``), and training uses ``data.apis`` when
set, else the simulator's catalogue, else the discovered one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from apibehave.common.errors import UserError
from apibehave.schema.catalogue import Catalogue, load_catalogue, save_catalogue
from apibehave.schema.event_io import read_events, write_events
from apibehave.workbench.params import HELD_OUT_SIMULATED, Params


@dataclass(frozen=True)
class DataFiles:
    """Where notebook 01 put the data (the ``data`` record of a run folder).

    Attributes
    ----------
    train : str
        Training events.
    held_out : str
        Labelled held-out events (evaluation and promotion).
    catalogue : str
        The catalogue training uses.
    discovered : str
        The catalogue discovery proposed from the training events.
    source : str
        ``simulate`` or the file read.
    """

    train: str
    held_out: str
    catalogue: str
    discovered: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Return plain data."""
        return asdict(self)


def prepare_data(params: Params, *, progress: bool = True) -> DataFiles:
    """Simulate or ingest the events of ``params`` and settle the catalogue."""
    folder = Path(params.data.dir)
    folder.mkdir(parents=True, exist_ok=True)
    if params.data.simulated:
        train_path, held_out, catalogue = _simulate(params, folder, progress=progress)
    else:
        train_path, catalogue = _ingest(params, folder)
        held_out = params.evaluate.held_out
    if params.evaluate.held_out != HELD_OUT_SIMULATED:
        held_out = params.evaluate.held_out
    if not Path(held_out).is_file():
        raise UserError(f"evaluate.held_out: {held_out}: no such event file")
    train = read_events(train_path)
    discovered = discover_catalogue(train, params)
    discovered_path = folder / "apis.discovered.yaml"
    save_catalogue(discovered, discovered_path, header="proposed by notebook 01 (discover)")
    if params.data.apis:
        catalogue = Path(params.data.apis)
    elif catalogue is None:
        catalogue = discovered_path
    load_catalogue(catalogue)  # it must load
    return DataFiles(
        train=str(train_path),
        held_out=str(held_out),
        catalogue=str(catalogue),
        discovered=str(discovered_path),
        source=params.data.source,
    )


def _simulate(params: Params, folder: Path, *, progress: bool) -> tuple[Path, Path, Path]:
    from apibehave.simulate import simulate

    result = simulate(params.scenario(), progress=progress)
    events = result.events
    write_events(events, folder / "events.parquet")
    paths = {}
    for period in ("train", "test"):
        part = events[events["period"] == period].reset_index(drop=True)
        paths[period] = folder / f"{period}.parquet"
        write_events(part, paths[period])
    catalogue = folder / "apis.yaml"
    catalogue.write_text(yaml.safe_dump(result.catalogue, sort_keys=False), encoding="utf-8")
    summary = {**result.summary, "settings": result.scenario.to_params()}
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return paths["train"], paths["test"], catalogue


def _ingest(params: Params, folder: Path) -> tuple[Path, Path | None]:
    from apibehave.ingest.pipeline import ingest

    out = folder / "ingested.parquet"
    report = ingest(params.data.source, params.data.format, out, force=True)
    print(report.summary())
    return out, None


def discover_catalogue(events: pd.DataFrame, params: Params) -> Catalogue:
    """Propose a catalogue from ``events`` with the ``data.discover`` settings."""
    from apibehave.ingest.discovery import discover

    d = params.data.discover
    return discover(events, depth=d.depth, min_calls=d.min_calls, min_2xx=d.min_2xx)


def data_summary(files: DataFiles) -> pd.DataFrame:
    """Return a table of the data sets: events, time span, APIs, labelled attacks."""
    rows = []
    for role, path in (("train", files.train), ("held_out", files.held_out)):
        events = read_events(path)
        labels = events["label"].astype(object) if "label" in events.columns else None
        attacks = int((labels != "normal").sum()) if labels is not None else None
        rows.append(
            {
                "set": role,
                "file": path,
                "events": len(events),
                "from": events["ts"].min() if len(events) else None,
                "to": events["ts"].max() if len(events) else None,
                "apis": int(events["api"].nunique()) if "api" in events.columns else None,
                "client_ips": int(events["client_ip"].nunique()),
                "attack_events": attacks,
                "attack_types": (
                    int(labels[labels != "normal"].nunique()) if labels is not None else None
                ),
            }
        )
    return pd.DataFrame(rows)


def compare_catalogues(used: Catalogue, discovered: Catalogue) -> pd.DataFrame:
    """Return, per API base path, whether the catalogue used and discovery agree."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for label, catalogue in (("used", used), ("discovered", discovered)):
        for api in catalogue.apis:
            key = (",".join(api.hosts) or "any", api.base_path)
            row = rows.setdefault(key, {"hosts": key[0], "base_path": key[1]})
            row[f"{label}_name"] = api.name
            row[f"{label}_endpoints"] = len(api.endpoints)
    frame = pd.DataFrame(list(rows.values()))
    return frame.sort_values(["hosts", "base_path"]).reset_index(drop=True)
