import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from classifiers.errors import UserInputError
from classifiers.pyfunc import load_pyfunc, predicted_frame
from training.locations import PROJECT_ROOT
from training.scoring import Engine, score
from training.scoring.model import MODEL_FILE, MODEL_METADATA_KEY, ModelSpec, describe_model
from training.scoring.spark_engine import check_master_reachable, result_type, signals_cancel_jobs, write_failure

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# A job cancelled while its one task is in a slow model call, as a stop cancels the command's; the session is then
# stopped as the command stops it, and the process lives on a moment, as the command logs its last line.
CANCELLED_WRITE = """
import sys, threading, time
from pathlib import Path
import pandas as pd
from pyspark.sql import functions as F
from training.scoring.spark_engine import start_session, stop_after_its_tasks

spark = start_session("local[1]", None)
in_model_call = Path(sys.argv[2])

@F.pandas_udf("double")
def slow(values: pd.Series) -> pd.Series:
    in_model_call.touch()
    time.sleep(10)  # the killed task's worker is killed after spark.python.task.killTimeout (2 s)
    return values * 2.0

def cancel_once_in_the_model_call() -> None:
    while not in_model_call.exists():
        time.sleep(0.05)
    spark.sparkContext.cancelAllJobs()

threading.Thread(target=cancel_once_in_the_model_call, daemon=True).start()
try:
    spark.range(0, 100, numPartitions=4).withColumn("y", slow("id")).write.parquet(sys.argv[1])
except Exception:
    pass
stop_after_its_tasks(spark)
print("session stopped", file=sys.stderr, flush=True)
time.sleep(2)
"""


def test_the_udf_returns_the_contract_columns_as_a_struct() -> None:
    struct = result_type(ModelSpec("models:/x@champion", "stance", ("against", "favor", "none")))
    assert struct.simpleString() == "struct<label:string,score:double,proba_against:double,proba_favor:double,proba_none:double>"


def test_a_cluster_master_without_pyspark_python_is_refused_before_anything_starts(
    jsonl_input: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    # No store is set up: the check comes before the model is looked up.
    with pytest.raises(UserInputError, match=r"--master spark://nowhere:7077: set PYSPARK_PYTHON to the executors' Python"):
        score("models:/news-topic@champion", jsonl_input, out_dir / "s.parquet", engine=Engine.SPARK, master="spark://nowhere:7077")
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("pyspark_python", [None, sys.executable])
@pytest.mark.parametrize("master", ["nope", "localhost:7077", "mesos://host:5050"])
def test_a_master_spark_does_not_take_is_refused_naming_the_forms_before_anything_starts(
    jsonl_input: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch, master: str, pyspark_python: str | None
) -> None:
    # spark-submit refused it in a Java stack trace and py4j said only that the gateway exited; without PYSPARK_PYTHON
    # the message asked for that instead.
    if pyspark_python is None:
        monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    else:
        monkeypatch.setenv("PYSPARK_PYTHON", pyspark_python)
    expected = rf"--master {re.escape(master)}: Spark takes local, local\[N\], spark://HOST:PORT, yarn or k8s://"
    with pytest.raises(UserInputError, match=expected):
        score("models:/news-topic@champion", jsonl_input, out_dir / "s.parquet", engine=Engine.SPARK, master=master)
    assert list(out_dir.iterdir()) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_standalone_master_that_does_not_answer_is_refused_in_one_line_before_anything_starts(
    jsonl_input: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    first, second = closed_port(), closed_port()
    master = f"spark://127.0.0.1:{first},localhost:{second}"
    # No store is set up: the check comes before the model is looked up (and Spark's minute of retries).
    with pytest.raises(UserInputError) as refused:
        score("models:/news-topic@champion", jsonl_input, out_dir / "s.parquet", engine=Engine.SPARK, master=master)
    assert str(refused.value) == (
        f"--master {master}: no Spark master answers (127.0.0.1:{first}: Connection refused; localhost:{second}: "
        "Connection refused)"
    )
    assert list(out_dir.iterdir()) == []


def test_a_standalone_master_is_accepted_when_one_of_its_addresses_answers() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_master_reachable(f"spark://127.0.0.1:{closed_port()},127.0.0.1:{listening.getsockname()[1]}")


@pytest.mark.parametrize(
    "master",
    ["spark://127.0.0.1", "spark://:7077", "spark://host:port", "spark://host:\u00b2", "spark://host:99999", "spark://host:0"],
)
def test_a_standalone_master_without_host_and_port_is_refused_naming_it(master: str) -> None:
    expected = rf"--master {re.escape(master)}: expected spark://HOST:PORT with a port from 1 to 65535, got '"
    with pytest.raises(UserInputError, match=expected):
        check_master_reachable(master)


def test_a_path_with_a_colon_is_refused_before_anything_starts(inputs_dir: Path, out_dir: Path) -> None:
    source = inputs_dir / "news-2026-12-05T10:00.jsonl"
    source.write_text(json.dumps({"text": "Talks resumed."}) + "\n", encoding="utf-8")
    # No store is set up: the check comes before the model is looked up.
    with pytest.raises(UserInputError, match=f"{source}: Spark cannot read or write a path with ':' in it; rename it or use --engine local"):
        score("models:/news-topic@champion", source, out_dir / "s.parquet", engine=Engine.SPARK, master="local[1]")
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("column", "shown"),
    [
        (pa.array([1_700_000_000_000_000_000], pa.timestamp("ns")), "timestamp[ns]"),
        (pa.array([3_600_000_000], pa.time64("us")), "time64[us]"),
    ],
    ids=["nanoseconds", "time-of-day"],
)
def test_a_column_spark_cannot_read_is_named_before_anything_starts(
    inputs_dir: Path, out_dir: Path, column: pa.Array, shown: str
) -> None:
    path = inputs_dir / "news.parquet"
    pq.write_table(pa.table({"text": ["Talks resumed."], "published": column}), path)
    # No store is set up: the check comes before the model is looked up. The local engine reads such a file.
    with pytest.raises(UserInputError, match=rf"news.parquet: column 'published' is {re.escape(shown)}, which Spark cannot read"):
        score("models:/news-topic@champion", path, out_dir / "s.parquet", engine=Engine.SPARK, master="local[1]")
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("record", "shown"),
    [({"": 5}, "''"), ({"meta": {"source": "wire", "": 1}}, "'meta'.''"), ({"tags": [{"": "x"}]}, "'tags'.''")],
    ids=["top-level", "nested", "in-a-list"],
)
def test_a_jsonl_field_with_an_empty_name_is_named_before_spark_starts(
    tfidf_store_uri: str, inputs_dir: Path, out_dir: Path, record: dict[str, object], shown: str
) -> None:
    # Spark's JSON reader drops such a field: a top-level one failed the job in an AnalysisException traceback, a
    # nested one was left out of the output without a word. The local engine keeps it.
    path = inputs_dir / "news.jsonl"
    path.write_text(json.dumps({"text": "Talks resumed."}) + "\n" + json.dumps({"text": "Strikes hit.", **record}) + "\n")
    with pytest.raises(UserInputError, match=rf"news.jsonl: field {re.escape(shown)} has an empty name"):
        score("models:/news-topic@champion", path, out_dir / "s.parquet", engine=Engine.SPARK, master="local[1]")
    assert list(out_dir.iterdir()) == []


@pytest.mark.usefixtures("ctrl_c_raises")
def test_a_cancel_a_stop_began_has_ended_and_logged_before_the_block_ends(caplog: pytest.LogCaptureFixture) -> None:
    # Stopped with its process group, the JVM was gone while the cancelling thread called it: py4j logged the failed
    # call with a traceback after the command had removed its filter of those logs (one CI run in several).
    class DyingContext:
        def cancelAllJobs(self) -> None:  # noqa: N802 (pyspark's name)
            time.sleep(0.5)
            logging.getLogger().error("Exception while sending command.")

    with caplog.at_level(logging.ERROR), pytest.raises(KeyboardInterrupt):
        with signals_cancel_jobs(cast("SparkSession", SimpleNamespace(sparkContext=DyingContext()))):
            signal.raise_signal(signal.SIGINT)  # held, and delivered again as the block ends
    assert [record.getMessage() for record in caplog.records] == ["Exception while sending command."]


def test_a_write_that_failed_for_want_of_room_is_told_from_other_job_failures() -> None:
    # The last lines of what Spark raised on a full disk (2026-12-05): the reason is deep in the Java trace.
    full = (
        "py4j.protocol.Py4JJavaError: An error occurred while calling o87.parquet.\n"
        ": org.apache.spark.SparkException: [TASK_WRITE_FAILED] Task failed while writing rows to file:/s/.x.parquet.tmp.\n"
        "Caused by: java.io.IOException: No space left on device\n\tat java.base/java.io.FileOutputStream.writeBytes"
    )
    assert write_failure(full) == "No space left on device"
    assert write_failure("org.apache.spark.api.python.PythonException: ValueError: the model failed") is None


@pytest.mark.slow
def test_a_master_spark_cannot_parse_is_named_in_one_line(tfidf_store_uri: str, jsonl_input: Path, out_dir: Path) -> None:
    with pytest.raises(UserInputError, match=r"--master local\[x\]: Spark could not start: .*Could not parse Master URL"):
        score("models:/news-topic@champion", jsonl_input, out_dir / "s.parquet", engine=Engine.SPARK, master="local[x]")
    assert list(out_dir.iterdir()) == []


@pytest.mark.slow
def test_spark_reads_a_file_named_like_a_glob_and_columns_told_apart_by_case(
    tfidf_store_uri: str, inputs_dir: Path, out_dir: Path
) -> None:
    source = inputs_dir / "news[1]{a}.jsonl"
    rows = [{"id": n, "ID": f"wire-{n}", "text": f"Talks resumed, round {n}."} for n in range(3)]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    ctrl_c = signal.getsignal(signal.SIGINT)
    result = score("models:/news-topic@champion", source, out_dir / "s.parquet", engine=Engine.SPARK, master="local[1]")
    # pyspark set a Ctrl-C handler bound to its session and left it once the session stopped: a later Ctrl-C in the
    # process failed in an AttributeError (`cancelAllJobs` on a stopped context) instead of interrupting.
    assert signal.getsignal(signal.SIGINT) is ctrl_c
    written = pd.read_parquet(result.output).sort_values("id")
    assert result.rows == 3
    assert written["ID"].tolist() == ["wire-0", "wire-1", "wire-2"]


@pytest.mark.slow
def test_spark_and_local_engines_give_the_same_scores(tfidf_store_uri: str, jsonl_input: Path, out_dir: Path) -> None:
    """Spark spreads rows over its cores, so its output order is not the input's: rows are matched by id."""
    model_uri = "models:/news-stance@champion"
    local = score(model_uri, jsonl_input, out_dir / "local.parquet", chunk_rows=5, progress=False)
    spark = score(model_uri, jsonl_input, out_dir / "spark.parquet", engine=Engine.SPARK, master="local[2]", chunk_rows=5)
    assert spark.rows == local.rows == 12
    assert (out_dir / "spark.parquet").is_dir()  # a dataset folder of part files
    assert sorted(path.name for path in out_dir.iterdir()) == ["local.parquet", "spark.parquet"]  # no staging left

    expected = pd.read_parquet(local.output)
    written = pd.read_parquet(spark.output)
    assert list(written.columns) == list(expected.columns)
    written = written.set_index("row_id").loc[expected["row_id"]].reset_index()
    assert written["label"].tolist() == expected["label"].tolist()
    # TF-IDF scores a row alike in any batch: the engines agree to pandas' default tolerance
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    # Both name the version the alias pointed at, the local engine in its metadata, Spark in a file its readers skip.
    recorded = json.loads(pq.read_schema(local.output).metadata[MODEL_METADATA_KEY])
    assert recorded == json.loads((spark.output / MODEL_FILE).read_text(encoding="utf-8"))
    assert recorded["uri"] == model_uri and (recorded["name"], recorded["version"]) == ("news-stance", "1")


@pytest.mark.slow
def test_spark_output_has_the_columns_of_the_local_one_not_the_pandas_index(
    tfidf_store_uri: str, inputs_dir: Path, out_dir: Path, news_rows: list[dict[str, object]], caplog: pytest.LogCaptureFixture
) -> None:
    # Rows picked out of a frame keep their labels, an index pandas stores as a column, `__index_level_0__`: Spark
    # passed it through as a column of its own, which `pandas.read_parquet` of its folder then showed.
    frame = pd.DataFrame({"row_id": [row["row_id"] for row in news_rows], "text": [row["text"] for row in news_rows]})
    frame = frame.iloc[[3, 0, 7, 1, 10]]
    source = inputs_dir / "filtered.parquet"
    frame.to_parquet(source)
    model_uri = "models:/news-topic@champion"
    local = score(model_uri, source, out_dir / "local.parquet", progress=False)
    with caplog.at_level("WARNING", logger="training.scoring.spark_engine"):
        spark = score(model_uri, source, out_dir / "spark.parquet", engine=Engine.SPARK, master="local[1]")

    expected = pd.read_parquet(local.output)
    written = pd.read_parquet(spark.output)
    assert list(written.columns) == list(expected.columns) == ["row_id", "text", *describe_model(model_uri).output_columns]
    assert expected.index.tolist() == frame.index.tolist()  # the local engine keeps it as the index
    assert "its pandas index (__index_level_0__) is not in the Spark engine's output" in caplog.text


@pytest.mark.slow
def test_spark_reads_the_segments_of_a_document_beside_their_neighbours_as_the_local_engine_does(
    tfidf_store_uri: str, inputs_dir: Path, out_dir: Path, news_rows: list[dict[str, object]]
) -> None:
    """Three articles (integer ids) and rows without one, in partitions of about 3 rows: no document is cut."""
    documents: list[int | None] = [1, 1, 1, 1, 2, 2, 2, 2, None, 3, 3, None]
    rows = [
        {"row_id": row["row_id"], "document": document, "text": row["text"]}
        for document, row in zip(documents, news_rows, strict=True)
    ]
    source = inputs_dir / "articles.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    model_uri = "models:/news-topic@champion"
    local = score(model_uri, source, out_dir / "local.parquet", progress=False)
    spark = score(model_uri, source, out_dir / "spark.parquet", engine=Engine.SPARK, master="local[2]", chunk_rows=3)
    assert spark.rows == local.rows == 12

    expected = pd.read_parquet(local.output)
    written = pd.read_parquet(spark.output)
    assert list(written.columns) == list(expected.columns)  # the engine's own columns are gone
    written = written.set_index("row_id").loc[expected["row_id"]].reset_index()
    assert written["document"].tolist()[:8] == documents[:8]  # passed through unchanged (integers)
    assert written["label"].tolist() == expected["label"].tolist()
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    # read alone, the segments of the articles would score otherwise
    alone = predicted_frame(load_pyfunc(model_uri), pd.DataFrame(rows)[["text"]])
    proba = [name for name in written.columns if name.startswith("proba_")]
    assert not np.allclose(written.loc[:7, proba].to_numpy(), alone.loc[:7, proba].to_numpy(), atol=1e-3)


@pytest.mark.slow
def test_a_cancelled_job_is_stopped_once_its_killed_task_has_aborted(out_dir: Path) -> None:
    """Stopped at once, Spark pulled the aborting task's blocks from under it, and it logged Java stack traces after
    the command's last line (and after the staging folder was gone)."""
    stopping = subprocess.run(
        [sys.executable, "-c", CANCELLED_WRITE, str(out_dir / "scores"), str(out_dir / "in-model-call")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=True,
    )
    assert "SPARK_JOB_CANCELLED" in stopping.stderr  # the job was cancelled while its task ran
    assert "TaskKilled" in stopping.stderr, stopping.stderr[-3000:]  # and the task ended, killed, before the stop
    assert "Error in TaskCompletionListener" not in stopping.stderr, stopping.stderr[-3000:]
    assert stopping.stderr.strip().splitlines()[-1] == "session stopped", stopping.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("whole_group", [False, True], ids=["the command", "its process group, JVM included"])
def test_sigterm_while_spark_writes_leaves_the_previous_output_and_nothing_else(
    trained_store_uri: str, inputs_dir: Path, out_dir: Path, news_rows: list[dict[str, object]], whole_group: bool
) -> None:
    source = inputs_dir / "many.parquet"
    pq.write_table(pa.Table.from_pylist([{**row, "row_id": n} for n, row in enumerate(news_rows * 200)]), source)
    output = out_dir / "scores.parquet"
    pq.write_table(pa.table({"row_id": [1], "label": ["earlier"]}), output)
    previous = output.read_bytes()
    scoring = subprocess.Popen(
        [sys.executable, "-m", "training", "score", "--model-uri", "models:/news-topic@champion", "--input", str(source),
         "--output", str(output), "--engine", "spark", "--master", "local[1]", "--chunk-rows", "50"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": trained_store_uri},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not any(path.name.startswith(".scores.parquet.") for path in out_dir.iterdir()):
            assert scoring.poll() is None and time.monotonic() < deadline, "scoring ended before Spark began to write"
            time.sleep(0.2)
        time.sleep(3)  # into the writing, with part files under way
        # A process manager stopping the group stops Spark's JVM at the same moment as the command.
        if whole_group:
            os.killpg(scoring.pid, signal.SIGTERM)
        else:
            scoring.send_signal(signal.SIGTERM)
        _, stderr = scoring.communicate(timeout=120)
    finally:
        scoring.kill()

    assert scoring.returncode == 128 + signal.SIGTERM, stderr
    lines = stderr.strip().splitlines()
    stopped = [line for line in lines if " ERROR training: score stopped by SIGTERM" in line]
    assert len(stopped) == 1, stderr[-3000:]
    assert stopped[0].endswith(f"score stopped by SIGTERM: no output written, {output} left as it was"), stderr[-3000:]
    assert not [line for line in lines if line.startswith("error: ")], stderr[-3000:]
    # Stopped with the whole group, the dying JVM may still print to the shared stderr after the command's last line.
    assert whole_group or lines[-1] == stopped[0], stderr[-3000:]
    assert "Traceback" not in stderr  # the JVM logs the cancelled job; the driver's py4j calls stay whole
    time.sleep(3)  # a JVM still writing would bring the staging folder back
    assert [path.name for path in out_dir.iterdir()] == ["scores.parquet"]
    assert output.read_bytes() == previous
