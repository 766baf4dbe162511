"""Event time vs processing time: the same per-sensor 1-minute count and mean, computed both ways.

    python -m streaming.time_semantics --input <generator replay folder> --out DIR [--minutes-per-second 5]

The replay is paced so that wall-clock time runs at a fixed multiple of event time (a Python UDF sleeps per
row, bundle size 1), and the processing-time window lasts the wall-clock equivalent of one event-time minute.
Out-of-order and late events then land in whichever processing-time window is open when they *arrive*, so its
counts and means drift from the truth; the event-time windows are exact (late rows excluded, see
docs/streaming.md). The comparison is written to `<out>/comparison.json`.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from pathlib import Path

from pyflink.table import DataTypes
from pyflink.table.udf import udf

from streaming.evaluate import parse_ts, read_json_rows
from streaming.flink_env import FlinkOptions, table_env
from streaming.sql_job import SqlJobConfig, _events, _sources


def run(input_dir: Path, out: Path, minutes_per_second: float, sensors: int) -> dict:
    lines_per_s = sensors * 6 * minutes_per_second  # one reading per 10 s per sensor
    window_ms = max(1, round(1000 / minutes_per_second))
    options = FlinkOptions(checkpoint_dir=out / "_checkpoints", bundle_size=1, bundle_time_ms=1)
    t_env = table_env(options)
    cfg = SqlJobConfig(
        events=input_dir / "events", dim=input_dir / "dim", calibration=input_dir, out=out, scalar_udf=False
    )
    _sources(t_env, cfg)
    _events(t_env, cfg)
    pause = 1.0 / lines_per_s

    @udf(result_type=DataTypes.BIGINT())
    def pace(event_id: int) -> int:
        time.sleep(pause)
        return event_id

    t_env.create_temporary_function("pace", pace)
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW paced AS
        SELECT pace(event_id) AS event_id, sensor_id, temperature, event_time, PROCTIME() AS proc_time FROM good
    """)
    for name in ("event_time_windows", "processing_time_windows"):
        t_env.execute_sql(f"""
            CREATE TABLE {name} (sensor_id STRING, window_start TIMESTAMP(3), events BIGINT, temp_mean DOUBLE,
                                 first_event TIMESTAMP(3), last_event TIMESTAMP(3))
            WITH ('connector' = 'filesystem', 'path' = '{(out / name).resolve().as_uri()}', 'format' = 'json')
        """)
    statements = t_env.create_statement_set()
    statements.add_insert_sql("""
        INSERT INTO event_time_windows
        SELECT sensor_id, window_start, COUNT(*), AVG(temperature), MIN(event_time), MAX(event_time)
        FROM TABLE(TUMBLE(TABLE paced, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
        GROUP BY sensor_id, window_start, window_end
    """)
    statements.add_insert_sql(f"""
        INSERT INTO processing_time_windows
        SELECT sensor_id, CAST(window_start AS TIMESTAMP(3)), COUNT(*), AVG(temperature),
               MIN(CAST(event_time AS TIMESTAMP(3))), MAX(CAST(event_time AS TIMESTAMP(3)))
        FROM TABLE(TUMBLE(TABLE paced, DESCRIPTOR(proc_time), INTERVAL '{window_ms / 1000:.3f}' SECOND))
        GROUP BY sensor_id, window_start, window_end
    """)
    statements.execute().wait()
    return compare(input_dir, out)


def compare(input_dir: Path, out: Path) -> dict:
    truth: dict[tuple[str, str], list[float]] = defaultdict(list)
    with (input_dir / "truth" / "events.csv").open() as handle:
        for r in csv.DictReader(handle):
            if r["late"] == "0":
                truth[(r["sensor_id"], r["event_time"][:16])].append(float(r["temperature"]))
    result = {}
    for name in ("event_time_windows", "processing_time_windows"):
        rows = read_json_rows(out / name)
        spans = [(parse_ts(r["last_event"]) - parse_ts(r["first_event"])).total_seconds() for r in rows]
        # A window "matches" when it holds exactly one event-time minute's readings of its sensor.
        exact = 0
        for r in rows:
            minute = r["first_event"][:16]
            expected = truth.get((r["sensor_id"], minute), [])
            exact += int(r["last_event"][:16] == minute and r["events"] == len(expected))
        result[name] = {
            "windows": len(rows),
            "events": sum(r["events"] for r in rows),
            "windows_matching_an_event_minute": exact,
            "max_event_time_span_s": max(spans, default=0),
        }
    result["on_time_events"] = sum(len(v) for v in truth.values())
    (out / "comparison.json").write_text(json.dumps(result, indent=2))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.time_semantics", description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes-per-second", type=float, default=5.0, help="event minutes per wall second")
    parser.add_argument("--sensors", type=int, required=True, help="sensors in the replay (sets the pace)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.input, args.out, args.minutes_per_second, args.sensors)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
