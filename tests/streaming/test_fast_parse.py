"""The fast parse (csv format + a raw dead-letter branch) against the SQL parse, on generated files with bad lines."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

from helpers import counted, run_module

from streaming.evaluate import dead_letters, read_json_rows
from streaming.generator import StreamSpec, generate, write_replay
from streaming.sql_job import GOOD_LINE

# Many bad lines (5 % instead of 0.2 %), so every kind of malformed line occurs several times.
SPEC = StreamSpec(day=date(2026, 1, 5), sensors=3, hours=3, malformed_share=0.05)


def test_good_line_expression_matches_exactly_the_genuine_lines() -> None:
    """No Flink: the prefilter of the dead-letter branch on the generator's lines (Python's and Java's regex
    agree on this syntax). Every genuine line (duplicates too) matches, no malformed line does."""
    stream = generate(SPEC)
    malformed = Counter(line for line, _ in stream.malformed)
    matching = Counter(line for line in stream.lines if re.search(GOOD_LINE, line))
    assert sum(malformed.values()) > 50
    assert not matching & malformed
    assert matching + malformed == Counter(stream.lines)


def test_fast_parse_gives_the_same_rows_and_dead_letters_as_the_sql_parse(tmp_path: Path) -> None:
    write_replay(generate(SPEC), tmp_path / "input")
    outputs = {}
    for parse in ("fast", "sql"):
        out = tmp_path / parse
        run_module("streaming.sql_job", "--input", str(tmp_path / "input"), "--out", str(out),
                   "--parse", parse, "--parts", "windows,anomalies,dead_letters")  # fmt: skip
        outputs[parse] = {
            name: counted(read_json_rows(out / name)) for name in ("windows", "anomalies", "dead_letters")
        }
    fast, sql = outputs["fast"], outputs["sql"]
    assert sum(fast["windows"].values()) > 500
    assert fast == sql
    result = dead_letters(tmp_path / "input", tmp_path / "fast")
    assert result["dead_lettered"] == result["injected"] == result["matching_payload_and_reason"] > 50
    # Garbage lines have one field: they are counted as wrong_field_count.
    assert set(result["by_reason"]) == {"wrong_field_count", "bad_timestamp", "bad_temperature"}
