"""The ksqlDB table in docs/streaming.md points at lines of the Flink code: each cited line still holds what it
names. When the code moves, this fails, and the table and this list are updated together."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SQL_JOB = "streaming/sql_job.py"
# (text cited in the table, file, {line: text the line holds})
CITED = [
    (
        "lines 289, 297",
        SQL_JOB,
        {289: "CREATE TABLE sensor_dim_log", 297: "CREATE TEMPORARY VIEW sensor_dim AS"},
    ),
    (
        "lines 933\u2013940",  # the table uses an en dash
        SQL_JOB,
        {933: "INSERT INTO sensor_state_sink", 939: "FROM enriched GROUP BY sensor_id"},
    ),
    ("line 854", SQL_JOB, {854: '"debezium-json"'}),
    ("line 489", SQL_JOB, {489: "FROM TABLE(TUMBLE(TABLE enriched"}),
    ("line 818", SQL_JOB, {818: 'rollover = "2 s" if live'}),
    ("line 454", SQL_JOB, {454: "JOIN sensor_dim FOR SYSTEM_TIME AS OF e.event_time"}),
    ("line 108", SQL_JOB, {108: "def make_calibrate("}),
    ("line 165", SQL_JOB, {165: "def zscore("}),
    (
        "lines 868, 870",
        SQL_JOB,
        {868: 'create_temporary_function("calibrate"', 870: 'create_temporary_function("zscore"'},
    ),
    ("line 171", "streaming/datastream_job.py", {171: ".side_output_late_data("}),
]


def _ksqldb_section() -> str:
    text = (ROOT / "docs" / "streaming.md").read_text()
    start = text.index("## ksqlDB, side by side")
    return text[start : text.index("\n## ", start + 1)]


@pytest.mark.parametrize(("cited", "path", "lines"), CITED, ids=[c[0] for c in CITED])
def test_a_cited_line_holds_what_the_table_names(cited: str, path: str, lines: dict[int, str]) -> None:
    assert cited in _ksqldb_section(), f"the table no longer cites {cited!r}: update CITED"
    source = (ROOT / path).read_text().splitlines()
    for number, expected in lines.items():
        now = [i for i, line in enumerate(source, 1) if expected in line]
        assert expected in source[number - 1], f"{path}:{number} no longer holds {expected!r}; it is on {now}"
