import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from classifiers.document_context import mix_neighbours
from classifiers.pyfunc import load_pyfunc, predicted_frame
from tests.conftest import batching_tolerance
from tests.training.conftest import drop_a_stop
from training import stop_requests
from training.scoring import score
from training.scoring.model import MODEL_METADATA_KEY, describe_model

TOPIC = "models:/news-topic@champion"
STANCE = "models:/news-stance@champion"
INPUT_COLUMNS = ["row_id", "segment_id", "text", "target"]


@pytest.mark.parametrize(
    ("model_uri", "input_fixture"), [(TOPIC, "jsonl_input"), (STANCE, "parquet_input")], ids=["topic-jsonl", "stance-parquet"]
)
def test_every_row_is_scored_as_the_model_itself_scores_it_in_any_chunk_size(
    trained_store_uri: str,
    request: pytest.FixtureRequest,
    out_dir: Path,
    news_rows: list[dict[str, object]],
    model_uri: str,
    input_fixture: str,
) -> None:
    source: Path = request.getfixturevalue(input_fixture)
    spec = describe_model(model_uri)
    whole = score(model_uri, source, out_dir / "whole.parquet", chunk_rows=1000, progress=False)
    chunked = score(model_uri, source, out_dir / "chunked.parquet", chunk_rows=5, progress=False)
    assert (whole.rows, chunked.rows) == (12, 12)
    assert sorted(path.name for path in out_dir.iterdir()) == ["chunked.parquet", "whole.parquet"]  # no temporary files

    written = pd.read_parquet(whole.output)
    assert list(written.columns) == [*INPUT_COLUMNS, "label", "score", *(f"proba_{label}" for label in spec.labels)]
    # the input's columns pass through unchanged, ids (integer and string) included, in input order
    assert written[INPUT_COLUMNS].to_dict("records") == news_rows
    assert pq.read_schema(whole.output).field("row_id").type == pa.int64()

    inputs = pd.DataFrame(news_rows)[list(spec.required_columns)]
    expected = predicted_frame(load_pyfunc(model_uri), inputs)
    assert written["label"].tolist() == expected["label"].tolist()
    pd.testing.assert_frame_equal(written[spec.output_columns], expected[spec.output_columns], check_dtype=False, atol=1e-5)
    # five chunks (5 + 5 + 2 rows) give what one does
    pd.testing.assert_frame_equal(pd.read_parquet(chunked.output), written, atol=batching_tolerance())


def test_segments_that_name_their_document_are_read_beside_their_neighbours_in_any_chunk_size(
    trained_store_uri: str, inputs_dir: Path, out_dir: Path, news_rows: list[dict[str, object]]
) -> None:
    # three articles of four segments (integer ids), and two segments without one
    documents: list[int | None] = [1, 1, 1, 1, 2, 2, 2, 2, None, 3, 3, None]
    rows = [{"document": document, "text": row["text"]} for document, row in zip(documents, news_rows, strict=True)]
    source = inputs_dir / "articles.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    whole = pd.read_parquet(score(TOPIC, source, out_dir / "whole.parquet", progress=False).output)
    # chunks of 3 rows would cut articles 1 and 2: each waits for the rest of its rows
    chunked = pd.read_parquet(score(TOPIC, source, out_dir / "chunked.parquet", chunk_rows=3, progress=False).output)
    pd.testing.assert_frame_equal(chunked, whole, atol=batching_tolerance())
    assert whole["document"].tolist()[:8] == documents[:8]  # passed through unchanged (integers)

    model = load_pyfunc(TOPIC)
    frame = pd.DataFrame(rows)
    alone = predicted_frame(model, frame[["text"]])
    # the pyfunc itself reads the column (its signature names it), as `mlflow models serve` does
    beside = predicted_frame(model, frame.astype({"document": "string"}))
    proba = [f"proba_{label}" for label in describe_model(TOPIC).labels]
    np.testing.assert_allclose(whole[proba].to_numpy(), beside[proba].to_numpy(), atol=1e-5)
    # rows without a document are read alone; the others are mixed 0.7 / 0.3 with their neighbours' mean
    weight = model.unwrap_python_model().classifier.neighbour_weight
    assert weight == 0.3
    expected = mix_neighbours(alone[proba].to_numpy(), weight, documents)
    np.testing.assert_allclose(whole[proba].to_numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(whole.loc[[8, 11], proba].to_numpy(), alone.loc[[8, 11], proba].to_numpy(), atol=1e-5)
    assert not np.allclose(whole.loc[:7, proba].to_numpy(), alone.loc[:7, proba].to_numpy(), atol=1e-3)


def test_text_written_as_a_pandas_category_is_scored_as_text_and_passed_through_as_it_was(
    trained_store_uri: str, inputs_dir: Path, out_dir: Path, news_rows: list[dict[str, object]]
) -> None:
    frame = pd.DataFrame(news_rows)
    path = inputs_dir / "categories.parquet"
    frame.astype({"text": "category", "target": "category"}).to_parquet(path)  # Parquet keeps them dictionary-encoded
    assert pa.types.is_dictionary(pq.read_schema(path).field("text").type)

    result = score(STANCE, path, out_dir / "scores.parquet", progress=False)

    written = pd.read_parquet(result.output)
    assert written["text"].dtype == "category"  # passed through as it was
    expected = predicted_frame(load_pyfunc(STANCE), frame[["text", "target"]])
    assert written["label"].tolist() == expected["label"].tolist()



def test_a_parquet_input_written_by_pandas_reads_back_with_its_dtypes_and_index(
    trained_store_uri: str, inputs_dir: Path, out_dir: Path, news_rows: list[dict[str, object]]
) -> None:
    # A nullable id with a null, past 2**53: read back by Arrow types alone it came back float64, another number.
    ids = pd.array([2**53 + 1, None, *range(10)], dtype="Int64")
    flags = pd.array([True, None, *[False] * 10], dtype="boolean")
    index = pd.Index(range(100, 112), name="position")
    frame = pd.DataFrame({"id": ids, "flag": flags, "text": [row["text"] for row in news_rows]}, index=index)
    path = inputs_dir / "pandas.parquet"
    frame.to_parquet(path)

    written = pd.read_parquet(score(TOPIC, path, out_dir / "scores.parquet", progress=False).output)

    pd.testing.assert_frame_equal(written[frame.columns], frame)
    assert written["label"].tolist() == predicted_frame(load_pyfunc(TOPIC), frame[["text"]])["label"].tolist()

@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped exception, on purpose
@pytest.mark.usefixtures("fresh_stop_requests")
def test_a_stop_whose_raise_was_dropped_ends_the_scoring_before_the_next_chunk_and_publishes_nothing(
    trained_store_uri: str, jsonl_input: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SIGTERM landing in a finaliser: Python printed the exception and the scoring went on, to exit 0 with its output.
    from training.scoring import local_engine

    predicted = local_engine.with_predictions
    chunks: list[int] = []

    def signalled_inside_a_finaliser(*args: object) -> object:
        chunks.append(1)
        if len(chunks) == 2:
            drop_a_stop()
        return predicted(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(local_engine, "with_predictions", signalled_inside_a_finaliser)
    with pytest.raises(stop_requests.Stopped, match="stopped by SIGTERM"):
        score(TOPIC, jsonl_input, out_dir / "scores.parquet", chunk_rows=2, progress=False)
    assert len(chunks) == 2 and list(out_dir.iterdir()) == []


def test_a_parquet_input_without_rows_gets_an_output_with_all_columns(trained_store_uri: str, inputs_dir: Path, out_dir: Path) -> None:
    source = inputs_dir / "empty.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.int32()), "text": pa.array([], pa.string())}), source)
    result = score(TOPIC, source, out_dir / "scores.parquet", progress=False)
    assert result.rows == 0
    schema = pq.read_schema(result.output)
    assert schema.names == ["id", "text", *describe_model(TOPIC).output_columns]
    assert schema.field("id").type == pa.int32()


def test_the_output_names_the_version_the_alias_pointed_at_and_its_run(
    trained_store_uri: str, jsonl_input: Path, out_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="training.scoring.orchestration")
    result = score(TOPIC, jsonl_input, out_dir / "scores.parquet", progress=False)
    champion = MlflowClient().get_model_version_by_alias("news-topic", "champion")
    recorded = json.loads(pq.read_schema(result.output).metadata[MODEL_METADATA_KEY])
    assert recorded == {"uri": TOPIC, "name": "news-topic", "version": str(champion.version), "run_id": champion.run_id}
    assert f"with news-topic version {champion.version} ({TOPIC})" in caplog.text


def test_a_latest_uri_is_read_once_and_the_output_names_the_version(trained_store_uri: str, jsonl_input: Path, out_dir: Path) -> None:
    # `latest` moves with every new version, as an alias moves: the version it names now scores every row and is named.
    newest = max(MlflowClient().search_model_versions("name = 'news-topic'"), key=lambda version: int(version.version))
    uri = "models:/news-topic/latest"
    assert describe_model(uri).uri == f"models:/news-topic/{newest.version}"
    result = score(uri, jsonl_input, out_dir / "scores.parquet", progress=False)
    recorded = json.loads(pq.read_schema(result.output).metadata[MODEL_METADATA_KEY])
    assert recorded == {"uri": uri, "name": "news-topic", "version": str(newest.version), "run_id": newest.run_id}
