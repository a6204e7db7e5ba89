"""Score with Spark: the same registered model applied by `mlflow.pyfunc.spark_udf` across executors.

Rows are spread over all cores (a small file is one partition, which would keep one core busy), so the
output's row order is not the input's: join on an id column to match rows with the input. With a `document`
column, each document's rows are kept in one partition, consecutive and in file order, and a partition is one
model call, so the model reads every segment beside its neighbours as the local engine does. The output is a
Parquet dataset folder of part files, which `pandas.read_parquet` and Spark read as one table.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow.pyfunc
import pyarrow as pa
import pyarrow.parquet as pq

from classifiers.contract import DOCUMENT_COLUMN
from classifiers.errors import UserInputError
from training import stop_requests
from training.scoring.inputs import PARQUET, InputFile
from training.scoring.model import LABEL_COLUMN, MODEL_FILE, ModelSpec
from training.scoring.outputs import staged_output

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

logger = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
APP_NAME = "news-classify-score"
STANDALONE_PREFIX = "spark://"
MASTER_CONNECT_TIMEOUT_S = 5
# A killed task ends once Spark has killed its Python worker (spark.python.task.killTimeout, 2 s) and aborted its part
# files; a task that does not end is not waited for long.
TASKS_END_TIMEOUT_S = 30.0
_TASKS_POLL_S = 0.1
# A request to cancel the jobs takes milliseconds, or fails at once where the JVM is gone: one that hangs is not waited
# for long.
CANCEL_END_TIMEOUT_S = 10.0
# Columns this engine adds (the UDF's struct, exploded into the output columns; a row's place in the file, and the
# keys that lay documents out); random, so no input column can have their names.
_PREDICTION = f"prediction_{uuid.uuid4().hex}"
_POSITION = f"position_{uuid.uuid4().hex}"
_DOCUMENT_KEY = f"document_{uuid.uuid4().hex}"
_ALONE_KEY = f"alone_{uuid.uuid4().hex}"
# Arrow's largest byte limit per batch (it must stay under INT_MAX): with no record limit, a batch is a whole partition.
_NO_BYTE_LIMIT = 2**31 - 2
_JAVA_REASON = re.compile(r"[\w.$]+(?:Exception|Error): (.+)$", re.MULTILINE)
# local, local[N], local[*], local[N,F] and local-cluster[...]: Spark parses what is in the brackets itself.
_LOCAL_MASTER = re.compile(r"local(-cluster)?(\[.*\])?")
_HADOOP_GLOB = re.compile(r"([\[\]{}*?\\])")
# What the OS says when a write fails for want of room or of permission (the local engine's errnos), as Spark's write
# error quotes it deep in a Java stack trace.
_WRITE_FAILURES = ("No space left on device", "Disk quota exceeded", "File too large", "Read-only file system", "Permission denied")


def result_type(spec: ModelSpec) -> StructType:
    """The UDF's return type: the contract's columns (label string, score and proba_<label> doubles)."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    return StructType(
        [StructField(field.name, StringType() if field.name == LABEL_COLUMN else DoubleType()) for field in spec.output_fields]
    )


def check_master_form(master: str) -> None:
    """Refuse a master URL of a kind Spark does not run on, before Spark starts.

    spark-submit refuses it in a Java stack trace on the terminal, and PySpark's exception says only that the Java
    gateway exited.
    """
    if master == "yarn" or master.startswith((STANDALONE_PREFIX, "k8s://")) or _LOCAL_MASTER.fullmatch(master):
        return
    raise UserInputError(
        f"--master {master}: Spark takes local, local[N], spark://HOST:PORT, yarn or k8s://HOST:PORT (default: "
        f"{DEFAULT_MASTER})"
    )


def check_executor_python(master: str) -> None:
    """On a cluster the executors run the model in the Python that PYSPARK_PYTHON names: refuse to start without it.

    Without it they run their default `python3`, which lacks this project's packages, and the job fails only once
    its first task runs, in a traceback of a hundred lines.
    """
    if not master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
        raise UserInputError(
            f"--master {master}: set PYSPARK_PYTHON to the executors' Python that has this project's dependencies "
            "(the versions in the model's requirements.txt), e.g. PYSPARK_PYTHON=/opt/news/.venv/bin/python"
        )


def check_master_reachable(master: str) -> None:
    """A standalone master (spark://host:port, or several comma-separated) must accept a connection now: refuse to
    start otherwise. Spark would retry for a minute, print a hundred lines of Java stack traces and then fail with
    "Cannot call methods on a stopped SparkContext". Other masters (local, YARN, Kubernetes) are not checked."""
    if not master.startswith(STANDALONE_PREFIX):
        return
    reasons = []
    for address in master.removeprefix(STANDALONE_PREFIX).split(","):
        host, _, port = address.strip().rpartition(":")
        # isdigit alone takes "²", which int() refuses; the kernel would wrap a port past 65535 to another.
        if not host or not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise UserInputError(f"--master {master}: expected spark://HOST:PORT with a port from 1 to 65535, got '{address}'")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=MASTER_CONNECT_TIMEOUT_S):
                return
        except OSError as err:
            reasons.append(f"{host}:{port}: {err.strerror or err}")
    raise UserInputError(f"--master {master}: no Spark master answers ({'; '.join(reasons)})")


def check_spark_paths(*paths: Path) -> None:
    """Hadoop's paths cannot hold a colon (it reads one as a URI scheme): refuse such a path before Spark starts."""
    for path in paths:
        if ":" in str(path.resolve()):
            raise UserInputError(f"{path}: Spark cannot read or write a path with ':' in it; rename it or use --engine local")


def check_spark_types(source: InputFile) -> None:
    """Refuse, before Spark starts, a Parquet column of a type Spark's reader cannot read (it reads every column, the
    passed-through ones too): nanosecond timestamps (what pandas writes by default) and times of day."""
    if source.schema is None:
        return  # JSONL: JSON's own types only
    for field in source.schema:
        kind = field.type
        if (pa.types.is_timestamp(kind) and kind.unit == "ns") or pa.types.is_time(kind):
            raise UserInputError(
                f"{source.path}: column '{field.name}' is {kind}, which Spark cannot read; write it in microseconds "
                "(pandas: `to_parquet(..., coerce_timestamps='us', allow_truncated_timestamps=True)`) or as a "
                "string, or use --engine local"
            )


def check_spark_json_fields(source: InputFile) -> None:
    """Refuse, before Spark starts, a JSONL field named by an empty key (`""`), at any depth: Spark's JSON reader drops
    it, so a top-level one failed the job in a traceback and a nested one was left out of the output without a word.
    Needs the file's schema over all its records (`check_records`); Parquet's empty names Spark reads."""
    if source.suffix == PARQUET or source.schema is None:
        return
    for field in source.schema:
        path = _empty_key(field)
        if path is not None:
            raise UserInputError(
                f"{source.path}: field {path} has an empty name (\"\"), which Spark's JSON reader drops; give it a name, "
                "or use --engine local"
            )


def _empty_key(field: pa.Field, parent: str = "") -> str | None:
    """The dotted path of the first field named "" in field or its objects (as `'meta'.''`), or None."""
    where = f"{parent}'{field.name}'"
    if field.name == "":
        return where
    kind = field.type
    while pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    if pa.types.is_struct(kind):
        for index in range(kind.num_fields):
            found = _empty_key(kind.field(index), f"{where}.")
            if found is not None:
                return found
    return None


def start_session(master: str, chunk_rows: int | None) -> SparkSession:
    """A session on master whose Python workers run this interpreter and get chunk_rows rows per model call (a
    whole partition when None)."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(APP_NAME)
        # Arrow batches are the pandas frames the model predicts on: chunk_rows bounds a worker's memory (0: no limit).
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows or 0))
        # Columns are told apart by case, as the checks before Spark (and the local engine) tell them apart.
        .config("spark.sql.caseSensitive", "true")
    )
    if chunk_rows is None:
        builder = builder.config("spark.sql.execution.arrow.maxBytesPerBatch", str(_NO_BYTE_LIMIT))
    if master.startswith("local"):
        # env_manager="local" assumes the workers' Python has this project's packages: locally, it is this one.
        # PySpark reads the workers' interpreter from this variable when the session starts (the
        # spark.pyspark.python setting only reaches it through spark-submit); one set by the user wins.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    ctrl_c = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    try:
        spark = builder.getOrCreate()
    # A master URL Spark cannot parse or reach fails here, in a Java stack trace: its first line says why.
    except Exception as err:
        raise UserInputError(f"--master {master}: Spark could not start: {_first_reason(err)}") from err
    finally:
        # pyspark sets a Ctrl-C handler bound to the new session and leaves it once the session stops, so a later
        # Ctrl-C in the process failed in an AttributeError; while the scoring runs, signals_cancel_jobs cancels.
        if ctrl_c is not None:
            signal.signal(signal.SIGINT, ctrl_c)
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _first_reason(err: Exception) -> str:
    """The message of the first exception a Java stack trace names (py4j's own first line only says a call failed)."""
    text = str(err)
    found = _JAVA_REASON.search(text)
    if found is not None:
        return found.group(1).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), type(err).__name__)


def _column(name: str) -> Column:
    """A top-level column by name, even one with a dot (which Spark would read as a field access)."""
    from pyspark.sql import functions as F

    return F.col(_quoted(name))


def read_input(spark: SparkSession, source: InputFile) -> DataFrame:
    """The input with its columns in file order (Spark's JSON reader would sort them by name)."""
    reader = spark.read
    # Spark reads a path as a glob: brackets, braces, * and ? in a file name stand for themselves only escaped.
    path = _HADOOP_GLOB.sub(r"\\\1", str(source.path))
    if source.suffix == PARQUET:
        frame = reader.parquet(path)
    else:
        # The file was checked line by line already; FAILFAST still refuses to guess at a line that changed since.
        frame = reader.option("mode", "FAILFAST").json(path)
    return frame.select(*[_column(name) for name in source.columns])


def documents_together(frame: DataFrame, partitions: int) -> DataFrame:
    """The rows in `partitions` partitions, each document's rows in one, consecutive and in file order (rows without
    a document anywhere), with the document as a string in a column of its own."""
    from pyspark.sql import functions as F

    # Numbered as read, before any shuffle: the ids grow with the row's place in the file.
    frame = frame.withColumn(_POSITION, F.monotonically_increasing_id())
    document = _column(DOCUMENT_COLUMN).cast("string")
    frame = frame.withColumn(_DOCUMENT_KEY, document).withColumn(
        _ALONE_KEY, F.when(document.isNull(), F.col(_POSITION)).otherwise(F.lit(-1))
    )
    keys = [F.col(_DOCUMENT_KEY), F.col(_ALONE_KEY)]
    return frame.repartition(partitions, *keys).sortWithinPartitions(*keys, F.col(_POSITION))


@contextmanager
def signals_cancel_jobs(spark: SparkSession) -> Iterator[None]:
    """While the block runs, SIGTERM and Ctrl-C cancel Spark's jobs, and are delivered again when it ends, after the
    JVM has stopped writing. Raised inside a blocked py4j call instead, they would break the gateway's connection and
    leave the JVM writing part files into a staging folder already removed."""
    from py4j.protocol import Py4JError

    def cancel_all_jobs() -> None:
        # A signal sent to the whole process group has stopped the JVM too: nothing is left to cancel (py4j
        # then fails to connect, an OSError).
        with suppress(Py4JError, OSError):
            spark.sparkContext.cancelAllJobs()

    cancelling: list[threading.Thread] = []

    def cancel() -> None:
        # From another thread: py4j gives each thread its own connection, and this one's is in the middle of the call
        # the signal interrupted (a call from here would be a reentrant read on it).
        thread = threading.Thread(target=cancel_all_jobs, name="cancel-spark-jobs", daemon=True)
        cancelling.append(thread)
        thread.start()

    try:
        with stop_requests.held(on_first=cancel):
            yield
    finally:
        # py4j logs a call to a JVM stopped with the process group with a traceback, through the root logger: a cancel
        # still under way as the scoring ended logged it after the command's filter of those logs was gone.
        for thread in cancelling:
            thread.join(CANCEL_END_TIMEOUT_S)


def stop_after_its_tasks(spark: SparkSession, timeout_s: float = TASKS_END_TIMEOUT_S) -> None:
    """Stop the session once the tasks of its failed or cancelled jobs have ended (for at most timeout_s).

    A job fails as soon as it is cancelled, while its killed tasks are still aborting their part files: stopped
    then, Spark pulls their blocks from under them and they log Java stack traces after the command's last line.
    A JVM stopped by a signal to the process group can be neither asked nor stopped: the error in flight says more.
    """
    from py4j.protocol import Py4JError

    with suppress(Py4JError, OSError):
        deadline = time.monotonic() + timeout_s
        while _running_tasks(spark) and time.monotonic() < deadline:
            time.sleep(_TASKS_POLL_S)
        spark.stop()


def _running_tasks(spark: SparkSession) -> int:
    """Tasks still running in the stages of the session's jobs (the status tracker counts them until they end)."""
    tracker = spark.sparkContext.statusTracker()
    running = 0
    for job_id in tracker.getJobIdsForGroup():
        job = tracker.getJobInfo(job_id)
        for stage_id in job.stageIds if job is not None else []:
            stage = tracker.getStageInfo(stage_id)
            running += stage.numActiveTasks if stage is not None else 0
    return running


@contextmanager
def _without_py4j_root_logs() -> Iterator[None]:
    """py4j logs a broken connection (a JVM stopped by a signal to the whole process group) through the root
    logger, with a traceback, before raising it; the command reports the outcome itself."""

    def not_py4j(record: logging.LogRecord) -> bool:
        return f"{os.sep}py4j{os.sep}" not in record.pathname

    root = logging.getLogger()
    root.addFilter(not_py4j)
    try:
        yield
    finally:
        root.removeFilter(not_py4j)


def score_with_spark(source: InputFile, spec: ModelSpec, output: Path, master: str, chunk_rows: int, records: int) -> int:
    """Write the input (`records` rows, checked) with the model's columns appended as a Parquet folder at output;
    returns the row count."""
    # py4j logs every connection it opens at INFO.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    documents = DOCUMENT_COLUMN in source.columns
    if source.pandas_index:
        logger.warning(
            "%s: its pandas index (%s) is not in the Spark engine's output, whose part files cannot hold it as an "
            "index; to keep it, write the file with its index as a column (`frame.reset_index().to_parquet(...)`), or "
            "use --engine local, which keeps it as the index",
            source.path, ", ".join(source.pandas_index),
        )
    with _without_py4j_root_logs(), staged_output(output) as staged:
        # Spark stops before the staging folder is removed, so none of its tasks still writes there. A model call
        # never cuts a document: it takes a whole partition, and partitions of about chunk_rows rows bound a
        # worker's memory instead.
        spark = start_session(master, None if documents else chunk_rows)
        try:
            with signals_cancel_jobs(spark):
                _write_scores(spark, source, spec, staged, chunk_rows, records, documents)
        except Exception as err:
            stop_after_its_tasks(spark)
            failure = write_failure(str(err))
            if failure is not None:
                # A full disk or a read-only folder is the user's to free: one line, as the local engine says it.
                raise UserInputError(f"cannot write {output}: {failure}") from err
            raise
        except BaseException:
            stop_after_its_tasks(spark)
            raise
        spark.stop()
        # Counted from the written files' footers: counting the scored frame would run the model again (and Spark's
        # reader skips a hidden folder such as the staging one).
        rows = sum(pq.read_metadata(part).num_rows for part in staged.glob("part-*.parquet"))
        # Spark writes no metadata of ours into its parts; readers of the folder (Spark, pyarrow, pandas) skip a file
        # whose name starts with an underscore.
        (staged / MODEL_FILE).write_text(json.dumps(dict(spec.identity)), encoding="utf-8")
    logger.info("scored %d rows of %s into %s with Spark (%s)", rows, source.path, output, master)
    return rows


def write_failure(error: str) -> str | None:
    """The OS's reason where a Spark job's error is a write that failed for want of room or of permission."""
    return next((reason for reason in _WRITE_FAILURES if reason in error), None)


def _write_scores(
    spark: SparkSession, source: InputFile, spec: ModelSpec, staged: Path, chunk_rows: int, records: int, documents: bool
) -> None:
    """Score the input into the staging folder, as Parquet part files."""
    from pyspark.sql import functions as F

    frame = read_input(spark, source)
    parallelism = spark.sparkContext.defaultParallelism
    # A struct of the model's columns reaches the model as a frame with those column names.
    inputs = [_column(name) for name in spec.required_columns]
    if documents:
        frame = documents_together(frame, max(parallelism, math.ceil(records / chunk_rows)))
        # The signature's document column is a string: an integer article id names its document as well.
        inputs.append(F.col(_DOCUMENT_KEY).alias(DOCUMENT_COLUMN))
    elif frame.rdd.getNumPartitions() < parallelism:
        frame = frame.repartition(parallelism)
    udf = mlflow.pyfunc.spark_udf(spark, spec.uri, result_type=result_type(spec), env_manager="local")
    scored = frame.withColumn(_PREDICTION, udf(F.struct(*inputs))).select(
        *[_column(name) for name in passed_through(source)],
        *[F.col(f"{_PREDICTION}.{_quoted(name)}").alias(name) for name in spec.output_columns],
    )
    scored.write.parquet(str(staged))


def passed_through(source: InputFile) -> list[str]:
    """The input's columns the output repeats: all but a pandas index stored as columns, which Spark's part files,
    without pandas' metadata, would give back to pandas as columns (`__index_level_0__`) that the input does not have.
    """
    return [name for name in source.columns if name not in source.pandas_index]


def _quoted(name: str) -> str:
    """A column name as Spark SQL quotes it."""
    return "`" + name.replace("`", "``") + "`"
