import os
from pathlib import Path

import pytest

from classifiers.errors import UserInputError
from training.path_names import require_utf8_name


def test_a_utf8_name_passes_and_a_latin1_one_is_named_by_its_byte() -> None:
    require_utf8_name(Path("café/نص.jsonl"), "input", "nothing can open")
    latin1 = Path(os.fsdecode(b"scratch/caf\xe9.jsonl"))
    with pytest.raises(UserInputError, match=r"^input scratch/caf\ufffd\.jsonl: its path is not UTF-8 \(byte 0xe9\), which nothing can open: rename it$"):
        require_utf8_name(latin1, "input", "nothing can open")
