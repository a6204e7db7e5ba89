"""Command line: `python -m training COMMAND`. Each command parses its arguments and calls one function."""

from __future__ import annotations

import logging
import os
import shlex
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from typer.core import TyperGroup

from classifiers.errors import UserInputError
from classifiers.redaction import RedactingFilter, redact_text, redact_uri
from training import locations, stop_requests

if TYPE_CHECKING:
    # Only for the annotations: `--help` stays instant without the trainer's and MLflow's imports.
    from training.abandoned_runs import RunEnding
    from training.trainer import TrainResult


class _Commands(TyperGroup):
    """The commands, whose stops before a command takes charge of its own (while the command line is parsed, while the
    command's libraries load) end in one logged line too: Typer ends a Ctrl-C there in exit code 130 without a word."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _said_before_command():
            return super().make_context(*args, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        with _said_before_command():
            return super().invoke(*args, **kwargs)


@contextmanager
def _said_before_command() -> Iterator[None]:
    try:
        yield
    except (KeyboardInterrupt, stop_requests.Stopped) as stop:
        raise typer.Exit(stop_requests.said_before_command(stop)) from stop


app = typer.Typer(
    help="Train, evaluate and promote the news topic and stance classifiers.",
    cls=_Commands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
logger = logging.getLogger("training")


@app.callback()
def _configure(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    # By default SIGTERM (`kill`, a container stopping) ends the process where it stands: a run would stay RUNNING.
    signal.signal(signal.SIGTERM, stop_requests.stop)
    signal.signal(signal.SIGINT, stop_requests.stop)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=stop_requests.LOG_FORMAT,
    )
    # MLflow and SQLAlchemy log URIs too. MLflow would log through a handler of its own; without it,
    # its records reach the root handler, whose filter every record passes.
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(_tracking_uri()))


def _tracking_uri() -> str:
    # Read here rather than through classifiers.store, which imports MLflow: `--help` stays instant.
    # Only a URI from the environment can carry a secret; the default store is a local file.
    return os.environ.get("MLFLOW_TRACKING_URI", "")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn bad-input errors into a one-paragraph message and exit code 1."""
    try:
        yield
    except UserInputError as err:
        typer.echo(f"error: {redact_text(str(err), _tracking_uri())}", err=True)
        # A training stopped by a signal while its tracking server was lost exits with the signal's code.
        raise typer.Exit(getattr(err, "exit_code", 1)) from err
    # Outside a run (promotion, the experiment's creation) a lost tracking server is met in MLflow's own calls.
    except Exception as err:
        from classifiers.store import lost_server_reason  # imports MLflow: not before it is needed

        reason = lost_server_reason(err)
        if reason is None and isinstance(err, OSError) and err.filename is not None:
            # A file the command opens that the system refuses (a data file a config names, a seed file of --raw-dir,
            # without read permission): the parser checks only the paths given on the command line.
            typer.echo(f"error: {redact_text(f'{err.filename}: {err.strerror}', _tracking_uri())}", err=True)
            raise typer.Exit(1) from err
        if reason is None:
            raise
        uri = redact_uri(_tracking_uri())
        typer.echo(f"error: the MLflow tracking server at {uri} stopped answering: {reason}", err=True)
        raise typer.Exit(1) from err


@contextmanager
def _stop_reported(command: str, left: Callable[[list[str]], str]) -> Iterator[None]:
    """End a command stopped by Ctrl-C or SIGTERM in one logged line, `<command> interrupted (Ctrl-C)` or `<command>
    stopped by SIGTERM` and what it left, and the signal's exit code (130, 143). `left` says what it left, from the
    notes the stop gathered on its way out (tracking.note_undone's: the runs marked FAILED, the versions deleted),
    beginning with the words that join it on (": ...", " after it ended: ...")."""
    try:
        yield
        # A stop that landed in the command's last store call is sent again a moment later, by then past this block:
        # it ended the command without a word (Ctrl-C) or in a line that said nothing of it (SIGTERM).
        stop_requests.raise_if_pending()
    except (KeyboardInterrupt, stop_requests.Stopped) as stop:
        logger.error("%s %s%s", command, stop_requests.said(stop), left(getattr(stop, "__notes__", [])))
        raise typer.Exit(stop_requests.exit_code(stop)) from stop


def _training_left(undone: list[str], unreported: list[TrainResult]) -> str:
    """What a stopped training left: the runs it marked FAILED and the versions it deleted (the notes on the stop), the
    version of a training that had ended (the command keeps its result in `unreported` until its report is written),
    or that no run of it had started."""
    if undone:
        return f": {'; '.join(undone)}; nothing it trained stays registered"
    if unreported:
        # It ended whole before the stop, which undoes nothing of it: said here, its report cut short.
        result = unreported[-1]
        champion = ", as champion" if result.promotion is not None and result.promotion.promoted else ""
        version = f"{result.registered_model} version {result.version} (run {result.run_id})"
        return f" after it ended: {version} stays registered{champion}"
    return " before its run started: no run of it recorded, nothing registered"


def _file_identity(path: Path) -> tuple[int, int] | None:
    """The file's (device, inode), None where there is none: an output moved into place gets a new one."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _outputs_left(before: dict[Path, tuple[int, int] | None]) -> str:
    """What a stopped command left of its outputs (`before`: their identities before it ran), each of which is moved
    into place whole once written, or not at all."""
    written = [path for path, identity in before.items() if _file_identity(path) != identity]
    if written:
        return f" after it ended: {' and '.join(map(str, written))} written"
    kept = [str(path) for path, identity in before.items() if identity is not None]
    as_it_was = f", {' and '.join(kept)} left as {'it was' if len(kept) == 1 else 'they were'}" if kept else ""
    return f": no output written{as_it_was}"


@app.command()
def ingest(
    raw_dir: Annotated[
        Path, typer.Option(help="Folder of scraped seed files (*.txt, the suffix in any case: *.TXT too).")
    ] = locations.RAW_SEEDS_DIR,
    out_dir: Annotated[Path, typer.Option(help="Where segments.jsonl and articles.jsonl go.")] = locations.SEEDS_DIR,
) -> None:
    """Parse the seed files into articles and segments."""
    from training.corpus.seed_files import ingest as run_ingest
    from training.corpus.seed_files import output_paths

    before = {path: _file_identity(path) for path in output_paths(out_dir)}
    with _stop_reported("ingest", lambda _: _outputs_left(before)), _user_errors():
        if not raw_dir.is_dir():
            # A mistyped path would read as a folder without seed files.
            raise UserInputError(f"--raw-dir {raw_dir}: {'not a folder' if raw_dir.exists() else 'no such folder'}")
        if out_dir.resolve() == locations.SEEDS_DIR.resolve() and raw_dir.resolve() != locations.RAW_SEEDS_DIR.resolve():
            # They replaced the seed corpus's segments, which seeds/labels.jsonl labels: every seed training broke.
            raise UserInputError(
                f"--raw-dir {raw_dir} would replace the seed corpus in {locations.shown(out_dir)} (the segments "
                f"{locations.shown(locations.LABELS_PATH)} labels): give other files an --out-dir of their own"
            )
        run_ingest(raw_dir, out_dir)


@app.command("validate-labels")
def validate_labels(
    labels: Annotated[Path, typer.Option(help="Labels file to check.")] = locations.LABELS_PATH,
    segments: Annotated[Path, typer.Option(help="Segments the labels refer to.")] = locations.SEGMENTS_PATH,
) -> None:
    """Check labels.jsonl: known labels and targets, every segment labelled once."""
    from training.corpus.labels import validate_labels as run_validation

    with _stop_reported("validate-labels", lambda _: ": its check not finished (it writes nothing)"), _user_errors():
        rows = run_validation(labels, segments)
        logger.info("%s: %d segments labelled, all valid", labels, len(rows))


# What label-counts may replace: its own output's kind.
MARKDOWN_SUFFIXES = (".md", ".markdown")


@app.command("label-counts")
def label_counts(
    labels: Annotated[Path, typer.Option(help="Labels file.")] = locations.LABELS_PATH,
    segments: Annotated[Path, typer.Option(help="Segments the labels refer to.")] = locations.SEGMENTS_PATH,
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = locations.SEEDS_DIR / "LABEL_COUNTS.md",
) -> None:
    """Write the label count tables (per label, per article) as Markdown."""
    from training.atomic_files import write_texts_atomically
    from training.corpus.label_counts import label_counts as count_labels

    before = {out: _file_identity(out)}
    with _stop_reported("label-counts", lambda _: _outputs_left(before)), _user_errors():
        if out.resolve() in (labels.resolve(), segments.resolve()):
            raise UserInputError(f"--out {out} is an input of the count: give another file")
        if out.is_file() and out.suffix.lower() not in MARKDOWN_SUFFIXES:
            # As `score` refuses to replace a file that is not Parquet: a mistyped --out replaced a data file.
            raise UserInputError(f"--out {out} is a file that is not Markdown ({out.suffix or 'no suffix'}): give a .md path")
        seeds = (locations.LABELS_PATH.resolve(), locations.SEGMENTS_PATH.resolve())
        if out.resolve() == (locations.SEEDS_DIR / "LABEL_COUNTS.md").resolve() and (labels.resolve(), segments.resolve()) != seeds:
            raise UserInputError(f"--out {locations.shown(out)} holds the seed corpus's counts: give other files' counts an --out of their own")
        write_texts_atomically({out: count_labels(labels, segments)})
        logger.info("wrote %s", out)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="Experiment YAML, e.g. configs/topic/tfidf_logreg.yaml.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="Dotted overrides: model.C=0.5 seed=1.")] = None,
) -> None:
    """Run one experiment end to end (a sweep when the config has one)."""
    from training.config.resolve import load_config
    from training.trainer import train as run_experiment

    unreported: list[TrainResult] = []
    with _stop_reported("training", lambda undone: _training_left(undone, unreported)), _user_errors():
        experiment = load_config(config, overrides or [])
        _reported(run_experiment(experiment, config, overrides or []), unreported)


@app.command("config-keys")
def config_keys(
    family: Annotated[str | None, typer.Option(help="Only this model family's `model.*` keys (e.g. tfidf).")] = None,
) -> None:
    """List every key an experiment config takes (the keys of dotted overrides too): values, default, meaning."""
    from training.config.reference import config_keys as keys_of
    from training.config.reference import render

    with _stop_reported("config-keys", lambda _: ": it writes nothing"), _user_errors():
        typer.echo(render(keys_of(family)))


def _reported(result: TrainResult, unreported: list[TrainResult]) -> None:
    """Report a training that ended, kept in `unreported` until its report is written (`_training_left` reads it)."""
    unreported.append(result)
    _report(result)
    unreported.clear()


def _report(result: TrainResult) -> None:
    logger.info(
        "%s version %s registered (run %s): %s = %.4f",
        result.registered_model,
        result.version,
        result.run_id,
        result.primary_metric,
        result.primary_value,
    )
    if result.promotion is not None:
        logger.info("promotion: %s", result.promotion.reason)
    else:
        logger.info(
            "not made champion (%s); to serve it: python -m training promote --name %s --version %s "
            "(add --force where it does not beat the champion)",
            result.not_tried,
            # Pasted into a shell: a name made from a file's (`topic-my data (v2)`) must stay one word.
            shlex.quote(result.registered_model),
            result.version,
        )


@app.command("train-defaults")
def train_defaults(
    overrides: Annotated[
        list[str] | None, typer.Argument(help="dotted.key=value applied to every default config.")
    ] = None,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain",
            help="Train even where a champion exists, and make the new versions champion (promote: always; a promote "
            "override is refused beside it).",
        ),
    ] = False,
) -> None:
    """Train the default topic and stance models on the seed corpus where no champion exists yet, or where the
    champion was trained from another config and no default version has competed with it."""
    from training.defaults import train_defaults as run_defaults

    unreported: list[TrainResult] = []
    with _stop_reported("training", lambda undone: _training_left(undone, unreported)), _user_errors():
        # Each said as soon as it is registered: a later model's failure or stop leaves it registered.
        run_defaults(retrain, overrides or [], on_trained=lambda result: _reported(result, unreported))


@app.command()
def evaluate(
    model_uri: Annotated[str, typer.Option(help="e.g. models:/news-topic@champion or runs:/<run id>/<config name>.")],
    data: Annotated[
        Path | None,
        typer.Option(help="JSONL with text, label (and target for stance); rows naming a document are read beside each other."),
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Benchmark in its official layout: fnc1, semeval2016, bbc_news, vast.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help=f"--dataset: the folder holding the benchmark folders (default: {locations.DEFAULT_DATA_DIR}).")
    ] = None,
    split: Annotated[str | None, typer.Option(help="--dataset: its split, e.g. test (default: its training split).")] = None,
    group_column: Annotated[
        str | None,
        typer.Option(help="--data: a field naming each row's article; the macro-F1 interval resamples articles, not rows."),
    ] = None,
    label_map: Annotated[
        list[str] | None,
        typer.Option(
            help="DATA_LABEL=MODEL_LABEL, repeated, for a model with other labels than the benchmark's or the file's "
            "(business=economy); rows of unnamed labels are left out."
        ),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            help="Also record the evaluation as a run of this MLflow experiment (created if missing): the training "
            "runs' metric names, the data as its input, the JSON as an artifact; the JSON gains `run`."
        ),
    ] = None,
) -> None:
    """Score a model on labelled data; the last stdout line is the metrics as JSON.

    Give either --data (a JSONL file) or --dataset (optionally with --data-dir and --split).
    """
    import json

    from classifiers import store
    from training.evaluation.held_out import evaluate_benchmark, evaluate_file
    from training.evaluation.recording import check_experiment
    from training.path_names import require_utf8_name

    scored: list[dict[str, object]] = []
    with _stop_reported("evaluate", lambda undone: _evaluation_left(undone, experiment, scored)), _user_errors():
        if (data is None) == (dataset is None):
            raise UserInputError("give exactly one of --data FILE.jsonl or --dataset NAME")
        if group_column is not None and data is None:
            raise UserInputError("--group-column goes with --data (a benchmark's rows carry their own groups)")
        # Said rather than ignored: a file given by --data is scored whole, from where it is.
        for option, value in (("--split", split), ("--data-dir", data_dir)):
            if value is not None and dataset is None:
                raise UserInputError(f"{option} goes with --dataset (the file --data names is scored whole)")
        # A run to record needs a store that takes it: found out before minutes of scoring, not after. A model folder
        # scored without one reads no store, and a mistyped MLFLOW_TRACKING_URI was made an empty store.
        if experiment is not None or store.reads_the_store(model_uri):
            store.use_store(writable=experiment is not None, create=not store.reads_the_store(model_uri))
        if experiment is not None:
            if data is not None:
                # The run names its data file: MLflow refused such a path only after the whole scoring, an empty
                # experiment left behind.
                require_utf8_name(data, "--data", "an MLflow run cannot record")
            check_experiment(experiment)
        if data is not None:
            metrics = evaluate_file(model_uri, data, group_column, experiment, _label_pairs(label_map or []))
        else:
            assert dataset is not None  # exactly one of the two, checked above
            benchmarks = data_dir or locations.DEFAULT_DATA_DIR
            metrics = evaluate_benchmark(model_uri, dataset, benchmarks, split, _label_pairs(label_map or []), experiment)
        scored.append(metrics)
        typer.echo(json.dumps(metrics))


def _evaluation_left(undone: list[str], experiment: str | None, scored: list[dict[str, object]]) -> str:
    """What a stopped evaluation left: the run it marked FAILED (the note on the stop), the run of an evaluation that
    had ended (its metrics, in `scored`, maybe not printed), or that it recorded none."""
    if undone:
        return f": {'; '.join(undone)}; no metrics printed"
    if experiment is None:
        return f": nothing recorded (only --experiment records a run){'' if scored else ', no metrics printed'}"
    if scored:
        run = scored[-1]["run"]
        assert isinstance(run, dict), "a recorded evaluation names its run"
        return f" after it ended: run {run['run_id']} of experiment '{experiment}' stays recorded"
    return ": no run of it recorded, no metrics printed"


def _label_pairs(entries: list[str]) -> dict[str, str]:
    """`--label-map` entries (`business=economy`) as a dict; UserInputError naming a malformed or repeated one."""
    pairs: dict[str, str] = {}
    for entry in entries:
        source, sep, target = (part.strip() for part in entry.partition("="))
        if not (sep and source and target):
            raise UserInputError(f"--label-map '{entry}': expected DATA_LABEL=MODEL_LABEL, e.g. business=economy")
        if source in pairs:
            raise UserInputError(f"--label-map: '{source}' is mapped twice")
        pairs[source] = target
    return pairs


@app.command()
def score(
    model_uri: Annotated[str, typer.Option(help="e.g. models:/news-topic@champion or runs:/<run id>/<config name>.")],
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            help="JSONL or Parquet with text (and target for stance); an optional document column reads an article's "
            "consecutive rows beside each other; other columns are kept.",
        ),
    ],
    output: Annotated[Path, typer.Option(help="Parquet to write (with --engine spark, a folder of part files).")],
    # A Literal rather than training.scoring.Engine, so that `--help` stays instant without the scoring imports;
    # tests/training/scoring/test_score_command.py checks that the two name the same engines.
    engine: Annotated[Literal["local", "spark"], typer.Option(help="local (this process, input order kept) or spark.")] = "local",
    master: Annotated[
        str | None, typer.Option(help="--engine spark: the Spark master, e.g. local[4] or spark://host:7077 (default: local[*]).")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per model call; bounds the memory.")] = 1000,
) -> None:
    """Add the model's label, score and per-class probabilities to every row of a file, as Parquet."""
    from classifiers import store
    from training.scoring import Engine
    from training.scoring import score as run_scoring
    from training.scoring.spark_engine import DEFAULT_MASTER

    before = {output: _file_identity(output)}
    with _stop_reported("score", lambda _: _outputs_left(before)), _user_errors():
        if master is not None and engine != Engine.SPARK:
            # Said rather than ignored: the local engine scores in this process.
            raise UserInputError("--master goes with --engine spark (the local engine scores in this process)")
        # A model folder reads no store: a mistyped MLFLOW_TRACKING_URI was made an empty store.
        if store.reads_the_store(model_uri):
            store.use_store(create=False)
        result = run_scoring(model_uri, input_path, output, Engine(engine), master or DEFAULT_MASTER, chunk_rows)
        logger.info("wrote %d rows to %s in %.1f s", result.rows, result.output, result.seconds)


@app.command()
def promote(
    name: Annotated[str, typer.Option(help="Registered model name, e.g. news-topic.")],
    version: Annotated[str | None, typer.Option(help="Version to promote (default: the newest).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even if it does not beat the champion.")] = False,
) -> None:
    """Make a version `champion` if it beats the current one on the same data."""
    from classifiers import store
    from training.promotion import PromotionProgress
    from training.promotion import promote as run_promotion

    progress = PromotionProgress(name)
    with _stop_reported("promote", lambda _: f": {progress.describe()}"), _user_errors():
        # Only versions already in the store are promoted: a mistyped store is named, not made empty.
        result = run_promotion(store.use_store(writable=True, create=False), name, version, force, progress=progress)
        typer.echo(f"{name} version {result.version}: {result.reason}")


@app.command("fail-runs")
def fail_runs(
    run_ids: Annotated[
        list[str], typer.Argument(metavar="RUN_ID...", help="Runs to mark FAILED, as the error message or the MLflow UI names them.")
    ],
) -> None:
    """Mark runs left RUNNING by a training that ended without ending them (a lost server, a killed process) FAILED."""
    from classifiers import store
    from training.abandoned_runs import fail_abandoned_runs

    endings: list[RunEnding] = []
    with _stop_reported("fail-runs", lambda undone: _runs_left(undone, endings)), _user_errors():
        endings = fail_abandoned_runs(store.use_store(writable=True, create=False), run_ids)
        for ending in endings:
            typer.echo(ending.describe())


def _runs_left(undone: list[str], endings: list[RunEnding]) -> str:
    """What a stopped fail-runs left: the runs it marked FAILED and those it left RUNNING (the notes on the stop), or,
    stopped once it had ended, what it did to each."""
    if endings:
        return f" after it ended: {'; '.join(ending.describe() for ending in endings)}"
    return f": {'; '.join(undone) or 'no run changed'}"


@app.command()
def ui(
    # A port past 65535 made the bind below raise OverflowError; port 0 would link to a port no one listens on.
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the MLflow UI.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Open the MLflow UI over the project's store (or MLFLOW_TRACKING_URI); a tracking server serves its own."""
    import sys

    from classifiers import store
    from classifiers.listening import listen_problem

    with _stop_reported("ui", lambda _: ": no UI started"):
        uri = store.tracking_uri()
        served = uri.startswith(store.HTTP_SCHEMES)
        # mlflow ui logs a port in use and exits 0, and the links below would open whatever holds the port (the shared
        # stack's tracking server holds 5000), so the port is checked before they are printed.
        problem = None if served else listen_problem(host, port, "--port", "--host")
        if problem is not None:
            typer.echo(f"error: the MLflow UI cannot listen on {host}:{port}: {problem}", err=True)
            raise typer.Exit(1)
        with _user_errors():
            # It only reads the store: a mistyped one is named, not made empty (and shown without an experiment).
            client = store.use_store(uri, create=False)
        # A tracking server already serves the UI at its own address: link to it rather than start another.
        base = uri.rstrip("/") if served else f"http://{host}:{port}"
        logger.info("MLflow UI for %s at %s", uri, base)
        # The UI opens in its GenAI view unless told otherwise; these links open each experiment's runs table.
        for experiment in client.search_experiments():
            logger.info(
                "  %s: %s/#/experiments/%s?workflowType=machine_learning", experiment.name, base, experiment.experiment_id
            )
        if served:
            return
        # A stop still on its way would be lost with this process, and the UI started all the same.
        stop_requests.raise_if_pending()
        # Its GenAI job runner starts eight processes that classic training never uses (off in the shared stack too).
        os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        # One worker: mlflow's default four each import mlflow, which doubles the start (40 s instead of 20 s on 2 cores)
        # and the memory for a UI that one person browses.
        os.execvp(
            sys.executable,
            [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port),
             "--workers", "1"],
        )

