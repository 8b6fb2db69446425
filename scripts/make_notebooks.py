"""Write notebooks/01_traffic.ipynb .. 07_forensics.ipynb (thin, output-free).

Each notebook is a title, a ``parameters`` cell (papermill injects the pipeline's values
after it) and calls into :mod:`apibehave.workbench`; no function or class is defined in a
notebook (tests/test_notebooks.py checks). Edit the cells here and run::

    .venv/bin/python scripts/make_notebooks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

PARAMETERS = """\
# the settings file, relative to the project folder
params_path = "params.yaml"
# settings overrides as in `apibehave pipeline -p`, e.g. "simulate.scale=0.1"
overrides = []
# the pipeline's run folder; None: runs/manual
run_dir = None
# the pipeline's MLflow run; None: a run of its own
parent_run_id = None
# None: the nearest folder above holding params.yaml
project_dir = None"""


def opening(name: str, imports: str) -> str:
    """Return the first code cell after the parameters: imports and the step."""
    return (
        f"{imports}\n"
        "from apibehave.workbench.step import open_step\n\n"
        f'step = open_step("{name}", params_path, overrides, run_dir, parent_run_id, '
        "project_dir)\n"
        "p = step.params"
    )


CELLS: dict[str, list[tuple[str, str]]] = {
    "01_traffic": [
        (
            "md",
            "# 01 Traffic: simulate or ingest, discover the API catalogue\n\n"
            "`data.source: simulate` simulates `simulate:` (training period clean, every "
            "attack campaign in the test period, the fixed held-out set); any other source "
            "is a log or event file (e.g. the enforcer's call log) that is ingested and "
            "trained on whole. Discovery proposes a catalogue from the training events.",
        ),
        (
            "code",
            opening(
                "01_traffic",
                "from apibehave.schema.catalogue import load_catalogue\n"
                "from apibehave.workbench import data",
            ),
        ),
        ("md", "## Events"),
        (
            "code",
            'files = data.prepare_data(p)\nstep.record("data", files.to_dict())\nfiles.to_dict()',
        ),
        ("md", "## Data summary"),
        (
            "code",
            "summary = data.data_summary(files)\n"
            'step.log_metrics({f"{row.set}.events": row.events '
            "for row in summary.itertuples()})\nsummary",
        ),
        ("md", "## The catalogue used for training, against discovery's proposal"),
        (
            "code",
            "used = load_catalogue(files.catalogue)\n"
            "discovered = load_catalogue(files.discovered)\n"
            'print(f"training uses {files.catalogue}: {len(used)} APIs; discovery '
            'proposed {len(discovered)}")\n'
            "data.compare_catalogues(used, discovered)",
        ),
        ("code", "step.finish()"),
    ],
    "02_explore": [
        (
            "md",
            "# 02 Explore: API usage, traffic and errors per API, top clients\n\n"
            "The usage report has the seeds' shape: total requests, per source IP counts, "
            "methods and devices, user agents, paths, devices.",
        ),
        (
            "code",
            opening(
                "02_explore",
                "from apibehave.reports.usage import format_usage_report, "
                "usage_report\n"
                "from apibehave.schema.catalogue import load_catalogue, resolve_apis\n"
                "from apibehave.schema.event_io import read_events\n"
                "from apibehave.workbench import plots",
            ),
        ),
        (
            "code",
            'files = step.load("data")\n'
            'catalogue = load_catalogue(files["catalogue"])\n'
            'train = read_events(files["train"])\n'
            'held_out = read_events(files["held_out"])',
        ),
        ("md", "## Usage report (training period)"),
        (
            "code",
            "report = usage_report(train, top=p.evaluate.top_n, catalogue=catalogue)\n"
            'step.record("usage", report)\n'
            "print(format_usage_report(report))",
        ),
        ("md", "## Traffic and errors per API"),
        (
            "code",
            "figure = plots.traffic_figure(train.assign(api=resolve_apis(train, "
            "catalogue)))\n"
            'step.log_figure(figure, "traffic_train.png")',
        ),
        (
            "code",
            "figure = plots.traffic_figure(held_out.assign(api=resolve_apis(held_out, "
            "catalogue)))\n"
            'step.log_figure(figure, "traffic_held_out.png")',
        ),
        ("md", "## Top clients"),
        (
            "code",
            'figure = plots.top_clients_figure(report)\nstep.log_figure(figure, "top_clients.png")',
        ),
        (
            "code",
            'step.log_metrics({"usage.total_requests": report["summary"]'
            '["total_requests"], "usage.error_ratio": report["summary"]'
            '["error_ratio"], "usage.unique_ips": report["summary"]'
            '["unique_ips"]})\nstep.finish()',
        ),
    ],
    "03_train": [
        (
            "md",
            "# 03 Train: per-API models and their thresholds\n\n"
            "Learns the vocabulary and per-API normal and extreme thresholds from the "
            "training events with `train:` (and `train.per_api`), writes a sealed bundle "
            "in the run folder and checks it loads back.",
        ),
        (
            "code",
            opening(
                "03_train",
                "from tqdm.auto import tqdm\n\nfrom apibehave.workbench import plots, stages",
            ),
        ),
        (
            "code",
            'files = step.load("data")\n'
            "candidate = stages.train_candidate(step, files)\n"
            'print(f"trained on {candidate.n_events:,} events in '
            '{candidate.seconds:.1f} s; bundle {candidate.bundle}")\n'
            "candidate.status_table()",
        ),
        (
            "md",
            "## Thresholds against the training distribution, per API\n\n"
            "Dashed: normal threshold; solid: extreme threshold (a crossing blocks).",
        ),
        (
            "code",
            "model = candidate.result.model\n"
            "features, apis = candidate.threshold_inputs()\n"
            'for api in tqdm(sorted(model.detectors.detectors), desc="threshold plots"):\n'
            "    figure = plots.threshold_figure(model, features, apis, api)\n"
            '    display(step.log_figure(figure, f"thresholds_{api}.png"))',
        ),
        ("code", "step.finish()"),
    ],
    "04_tune": [
        (
            "md",
            "# 04 Tune: catch attacks vs. block nobody legitimate\n\n"
            "A multi-objective Optuna study (NSGA-II) over detector settings, scored on "
            "a separate simulated world (never the held-out set), stored on disk "
            "(`tune.storage`) so parallel workers and later runs join it. The chosen "
            "trial: the best recall among trials that block at most "
            "`tune.max_benign_share_calls_blocked` of benign calls. The candidate is then "
            "retrained on the real training events with the chosen settings.",
        ),
        ("code", opening("04_tune", "from apibehave.workbench import stages")),
        (
            "code",
            'files = step.load("data")\n'
            "if p.pipeline.tune:\n"
            "    result, candidate = stages.tune_candidate(step, files)\n"
            "    print(result.summary())\n"
            '    display(step.log_figure(result.figure, "pareto_front.png"))\n'
            "else:\n"
            '    print("pipeline.tune is false: the candidate of 03 keeps train: as '
            'written")',
        ),
        ("md", "## Trials"),
        ("code", "result.trials if p.pipeline.tune else None"),
        ("code", "step.finish()"),
    ],
    "05_evaluate_register": [
        (
            "md",
            "# 05 Evaluate and register\n\n"
            "Replays the fixed held-out set with the candidate, scores it per attack type, "
            "logs it as an MLflow pyfunc model and registers it as `challenger`. It is "
            "promoted only when it beats the current champion on the same held-out set; "
            "the decision and its reasons are tags on the version. In a pipeline a winner "
            "takes `staging` here and `champion` once every notebook has succeeded.",
        ),
        (
            "code",
            opening(
                "05_evaluate_register",
                "from apibehave.schema.event_io import read_events\n"
                "from apibehave.workbench import plots, registry, stages\n"
                "from apibehave.workbench.evaluate import format_evaluation\n"
                "from apibehave.workbench.pyfunc_model import log_bundle_model\n"
                "from apibehave.workbench.train import events_digest",
            ),
        ),
        (
            "code",
            'files = step.load("data")\n'
            'candidate = step.load("candidate")\n'
            'held_out = read_events(files["held_out"])\n'
            'scored = stages.evaluate_bundle(candidate["bundle"], held_out)\n'
            'step.log_dataset(held_out, name="held_out", source=files["held_out"], '
            "digest=events_digest(held_out))\n"
            "step.log_metrics(scored.metrics())\n"
            'step.record("evaluation", {**scored.evaluation.to_dict(), '
            '"text": format_evaluation(scored.evaluation)})\n'
            "print(format_evaluation(scored.evaluation))",
        ),
        ("md", "## Per attack type"),
        (
            "code",
            "figure = plots.recall_figure(scored.evaluation.by_type)\n"
            'step.log_figure(figure, "recall_by_type.png")',
        ),
        ("md", "## Confusion matrix (calls)"),
        (
            "code",
            "figure = plots.confusion_figure(held_out, scored.decisions)\n"
            'step.log_figure(figure, "confusion.png")',
        ),
        ("md", "## Calls to first block"),
        (
            "code",
            "figure = plots.first_block_figure(scored.outcomes)\n"
            'step.log_figure(figure, "calls_to_first_block.png")',
        ),
        ("md", "## Benign clients blocked"),
        ("code", "scored.evaluation.benign"),
        ("md", "## Register the challenger, promote only if it beats the champion"),
        (
            "code",
            'info = log_bundle_model(candidate["bundle"], example_events=held_out.head(20))\n'
            "name = p.register.model_name\n"
            "version = registry.register_challenger(info.model_uri, name, tags={\n"
            '    "params_hash": p.params_hash, "tuned": str(candidate["tuned"]),\n'
            '    "training_data_digest": candidate["training_data_digest"],\n'
            '    "run_id": str(step.run_id)})\n'
            "alias, release_on_success = stages.promotion_alias(step, parent_run_id is "
            "not None)\n"
            "decision = registry.promote(name, version, held_out, "
            "rule=p.register.promotion_rule(), alias=alias)\n"
            'step.record("registry", {"model_name": name, "version": version, '
            '"alias": alias, "promoted": decision.promoted, "release_on_success": '
            'release_on_success, "summary": decision.summary(), "decision": '
            'decision.to_dict(), "model_uri": info.model_uri})\n'
            'step.set_tags({"registry.version": version, "registry.promoted": '
            "decision.promoted})\n"
            "print(decision.summary())",
        ),
        ("code", "step.finish()"),
    ],
    "06_export": [
        (
            "md",
            "# 06 Export the champion's bundle\n\n"
            "Exports the bundle of the version that is champion (or becomes champion when "
            "this pipeline succeeds) into the run folder, verifies it, shows its manifest "
            "and what changed from the bundle served now (`export.bundle_dir`). The "
            "pipeline swaps it into place only at the end of a successful run.",
        ),
        ("code", opening("06_export", "import json\n\nfrom apibehave.workbench import stages")),
        (
            "code",
            'exported = stages.export_for_run(step, step.load("registry"))\n'
            'step.record("export", exported)\n'
            'print(exported["reason"])',
        ),
        ("md", "## Manifest"),
        (
            "code",
            'print(json.dumps(exported["manifest"], indent=2)[:6000] '
            'if exported["manifest"] else "no bundle")',
        ),
        ("md", "## What changed from the served bundle"),
        ("code", 'print(exported["diff"] or "no bundle")'),
        ("code", "step.finish()"),
    ],
    "07_forensics": [
        (
            "md",
            "# 07 Forensics\n\n"
            "Replays a log (`evaluate.forensics_events`: the held-out set by default) with "
            "the exported bundle: the attack list, then per blocked identifier a forensic "
            "report (identifier, total calls, its IPs with counts, methods, URLs, APIs, "
            "evidence) as JSON and as a readable table.",
        ),
        (
            "code",
            opening(
                "07_forensics",
                "from apibehave.bundle.model_bundle import load_model_bundle\n"
                "from apibehave.engine.replay import replay_events\n"
                "from apibehave.schema.event_io import read_events\n"
                "from apibehave.workbench import forensics",
            ),
        ),
        (
            "code",
            'files = step.load("data")\n'
            'bundle = step.load("export")["bundle"] or '
            'step.load("candidate")["bundle"]\n'
            'source = files["held_out"] if p.evaluate.forensics_events == "held_out" '
            "else p.evaluate.forensics_events\n"
            "events = read_events(source)\n"
            "replayed = replay_events(events, load_model_bundle(bundle))\n"
            'print(f"replayed {len(events):,} events of {source} with {bundle}: '
            "{replayed.stats['blocked']:,} blocked, {replayed.stats['new_blocks']:,} "
            'blocks")',
        ),
        ("md", "## Attack list"),
        (
            "code",
            "attacks = forensics.attack_list(replayed.new_blocks)\n"
            'attacks.groupby("attack_type").size().rename("blocks").to_frame()',
        ),
        ("code", "attacks.head(50)"),
        ("md", "## Forensic reports per blocked identifier"),
        (
            "code",
            "reports = forensics.forensic_reports(events, replayed.decisions, "
            "replayed.new_blocks, limit=p.evaluate.max_forensic_reports, "
            "top=p.evaluate.top_n)\n"
            'step.record("forensics", {"source": source, "bundle": bundle, '
            '"blocks": len(attacks), "identifiers": int(replayed.new_blocks'
            '[["identifier_kind", "identifier"]].drop_duplicates().shape[0]), '
            '"reports": reports})\n'
            "forensics.reports_table(reports)",
        ),
        (
            "code",
            "for report in reports[:5]:\n"
            '    print(forensics.format_forensic_report(report), end="\\n\\n")',
        ),
        (
            "code",
            'step.log_metrics({"forensics.blocks": len(attacks), '
            '"forensics.reports": len(reports)})\nstep.finish()',
        ),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """Return the notebook ``name``: its title, the parameters cell, then ``cells``."""
    title, rest = cells[0], cells[1:]
    parameters = new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})
    body = [new_markdown_cell(text) if kind == "md" else new_code_cell(text)
            for kind, text in rest]  # fmt: skip
    notebook = new_notebook(cells=[new_markdown_cell(title[1]), parameters, *body])
    notebook.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3 (apibehave)", "language": "python",
    }  # fmt: skip
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name.replace('_', '-')}-{index:02d}"
    return notebook


def main() -> int:
    """Write every notebook; print what changed."""
    NOTEBOOKS.mkdir(exist_ok=True)
    for name, cells in CELLS.items():
        target = NOTEBOOKS / f"{name}.ipynb"
        text = nbformat.writes(build(name, cells)) + "\n"
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
