from pathlib import Path

import pytest

from classifiers.errors import UserInputError
from training.text_decoding import decode_text, not_encoded


@pytest.mark.parametrize(
    ("data", "where"),
    [(b"caf\xe9 first", ":1: not UTF-8 text: byte 0xe9 at column 4"), (b"one\ntwo\nthree \xff", ":3: not UTF-8 text: byte 0xff at column 7")],
)
def test_an_undecodable_byte_is_named_with_its_line_and_column(data: bytes, where: str) -> None:
    path = Path("notes.txt")
    with pytest.raises(UserInputError) as err:
        decode_text(path, data)
    assert str(err.value) == f"notes.txt{where}; save the file as UTF-8"


def test_text_in_the_encoding_is_returned_as_it_is() -> None:
    assert decode_text(Path("a.txt"), "caf\u00e9\n".encode()) == "caf\u00e9\n"
    assert decode_text(Path("a.txt"), b"caf\xe9", "latin-1") == "caf\u00e9"


def test_the_encoding_is_named_in_the_error() -> None:
    assert str(not_encoded("a.csv:4", 0x81, 2, "cp1252")) == "a.csv:4: not CP1252 text: byte 0x81 at column 2; save the file as CP1252"
