import errno
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from classifiers.errors import UserInputError
from training.scoring.model import MODEL_FILE
from training.scoring.outputs import check_output, move_into_place, staged_output


def test_the_output_must_be_a_new_parquet_path_in_an_existing_folder(jsonl_input: Path, out_dir: Path) -> None:
    check_output(out_dir / "scores.parquet", jsonl_input)
    with pytest.raises(UserInputError, match=r"scores.csv must end in .parquet"):
        check_output(out_dir / "scores.csv", jsonl_input)
    with pytest.raises(UserInputError, match=r"output folder .*missing does not exist"):
        check_output(out_dir / "missing" / "scores.parquet", jsonl_input)


def test_the_input_and_unrelated_folders_are_never_overwritten(parquet_input: Path, out_dir: Path) -> None:
    with pytest.raises(UserInputError, match="is the input file"):
        check_output(parquet_input, parquet_input)
    notes = out_dir / "notes.parquet"
    notes.mkdir()
    (notes / "README.md").write_text("mine")
    with pytest.raises(UserInputError, match="holds other files than Parquet parts; not replacing it"):
        check_output(notes, parquet_input)
    spark_output = out_dir / "spark.parquet"
    spark_output.mkdir()
    # What Spark writes, and the file that names the model beside it: a second run replaces its own output.
    for name in ("part-00000-x.snappy.parquet", ".part-00000-x.snappy.parquet.crc", "_SUCCESS", MODEL_FILE):
        (spark_output / name).write_bytes(b"")
    check_output(spark_output, parquet_input)
    part = spark_output / "part-00000-x.snappy.parquet"
    with pytest.raises(UserInputError, match=r"spark\.parquet is the folder that holds the input .*part-00000-x\.snappy\.parquet; not replacing it"):
        check_output(spark_output, part)
    not_parquet = out_dir / "letter.parquet"
    not_parquet.write_text("Dear editor,")
    with pytest.raises(UserInputError, match="letter.parquet exists and is not a Parquet file; not replacing it"):
        check_output(not_parquet, parquet_input)
    earlier = out_dir / "earlier.parquet"
    earlier.write_bytes(parquet_input.read_bytes())
    check_output(earlier, parquet_input)


def test_a_file_replaces_an_earlier_folder_output_and_a_folder_replaces_a_file(out_dir: Path) -> None:
    output = out_dir / "scores.parquet"
    output.mkdir()
    (output / "part-00000.parquet").write_text("old folder")
    staged = out_dir / ".new"
    staged.write_text("new file")
    move_into_place(staged, output)
    assert output.read_text() == "new file"
    staged.mkdir()
    (staged / "part-00000.parquet").write_text("new folder")
    move_into_place(staged, output)
    assert (output / "part-00000.parquet").read_text() == "new folder"
    assert [path.name for path in out_dir.iterdir()] == ["scores.parquet"]


def test_a_failed_write_leaves_the_previous_output_and_no_temporary_file(out_dir: Path) -> None:
    output = out_dir / "scores.parquet"
    output.write_text("previous")
    with pytest.raises(RuntimeError, match="writer failed"), staged_output(output) as staged:
        staged.write_text("half written")
        raise RuntimeError("writer failed")
    assert [path.name for path in out_dir.iterdir()] == ["scores.parquet"]
    assert output.read_text() == "previous"
    with staged_output(output) as staged:
        staged.mkdir()
        (staged / "part-0.parquet").write_text("complete")
    assert (output / "part-0.parquet").read_text() == "complete"
    assert [path.name for path in out_dir.iterdir()] == ["scores.parquet"]


@pytest.mark.usefixtures("ctrl_c_raises")
def test_a_stop_while_the_earlier_folder_is_removed_takes_effect_once_it_is_gone(
    out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Ctrl-C as the replaced Spark output was being deleted left it, or part of it, beside the new one as a hidden
    # folder that nothing removes.
    output = out_dir / "scores.parquet"
    output.mkdir()
    (output / "part-00000.parquet").write_text("old folder")
    staged = out_dir / ".new"
    staged.mkdir()
    (staged / "part-00000.parquet").write_text("new folder")
    real_rmtree = shutil.rmtree

    def stopped_then_removed(path: Path, *args: Any, **kwargs: Any) -> None:
        signal.raise_signal(signal.SIGINT)
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", stopped_then_removed)
    with pytest.raises(KeyboardInterrupt):
        move_into_place(staged, output)
    assert (output / "part-00000.parquet").read_text() == "new folder"
    assert [path.name for path in out_dir.iterdir()] == ["scores.parquet"]


@pytest.mark.parametrize("earlier", ["file", "folder"])
def test_an_output_the_system_will_not_replace_is_named_and_left_as_it_was(
    out_dir: Path, monkeypatch: pytest.MonkeyPatch, earlier: str
) -> None:
    # An immutable output (`chattr +i`) was reported by the hidden staged file's name, which no longer exists.
    output = out_dir / "scores.parquet"
    if earlier == "folder":
        output.mkdir()
        (output / "part-00000.parquet").write_text("old")
    else:
        output.write_text("old")
    real_replace = os.replace

    def refused_over_output(source: Any, destination: Any) -> None:
        if Path(destination) == output and Path(source).name.endswith(".tmp"):  # the earlier output can move back
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(source), str(destination))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", refused_over_output)
    with pytest.raises(UserInputError) as raised, staged_output(output) as staged:
        staged.write_text("new")
    assert str(raised.value) == f"cannot replace {output}: Operation not permitted; it is left as it was"
    kept = output / "part-00000.parquet" if earlier == "folder" else output
    assert kept.read_text() == "old"
    assert [path.name for path in out_dir.iterdir()] == ["scores.parquet"]
