"""The SQL path: one Flink job (a statement set sharing one source) for windows, CEP, the join, the view and DLQ.

    raw lines ─┬─ bad → dead_letters (raw payload + reason)
               └─ good → dedup (event_id) → temporal join (sensor → store, as of event time)
                     ├─ TUMBLE 1 min ─┬─ rolling z-score (OVER + pandas UDF, last 30 windows) ──┐
                     │                ├─ HOP 5 min / 1 min, summed from the minutes ────────────┼─ calibrate
                     │                └─ MATCH_RECOGNIZE: door left open, flatline, silent gap,  │  (UDF) → windows
                     │                     compressor failure → anomalies                        │
                     │                     └─ first alert of each incident (30 min gap) → alarms │
                     ├─ SESSION (door open, 30 s gap) ──────────────────────────────────────────┘
                     ├─ latest state per sensor (upsert changelog, debezium-json) → calibrate → sensor_state
                     └─ 1 in 20 events → latency probe (file published → row computed)

Flags keep the earlier or the cheaper forms side by side for `streaming.benchmark`: `--join-on minutes` moves the
join after the TUMBLE and the SESSION (one join per window row), `--udfs sql` computes both UDFs as SQL
expressions, `--hop-from events` and `--patterns-on events` read every reading again.

Window TVFs and MATCH_RECOGNIZE drop rows behind the watermark *silently*; the DataStream job
(`streaming.datastream_job`) is where late events are routed to a side output and counted (docs/streaming.md).

Where the Python UDF sits matters. Calibration subtracts a per-device offset, which commutes with mean, min
and max, so it is applied to the window aggregates, not to every reading: exact, far fewer rows cross into
Python, and no Python operator stands between the watermark and the windows. A Python operator forwards a
watermark only when its bundle finishes, and bundles also finish on a wall-clock timer and at checkpoints, so
with the UDF on every reading the events the windows count as late changed from one replay of the same day to
the next (measured: 2-4 hop windows of 5,600 differed between runs). The pattern rules compare temperatures
with each other (rises, repeats), so the offset cancels and they read the reported values.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from pyflink.datastream import DataStream
from pyflink.java_gateway import get_gateway
from pyflink.table import DataTypes, Schema, StreamTableEnvironment, TableEnvironment
from pyflink.table.udf import udf

from streaming.flink_env import FlinkOptions, stream_env

WATERMARK_BOUND_S = 30
SILENT_MINUTES = 10
INCIDENT_GAP_MINUTES = 30  # alerts of one sensor closer than this are one incident (streaming.evaluate)
# Readings have two decimals. A DOUBLE sum depends on the order rows reach the window (file splits, restarts),
# so its last bits differ between two replays of the same day; a DECIMAL sum is exact, and so is the mean.
EXACT_MEAN = "CAST(AVG(CAST(temp_c AS DECIMAL(7, 2))) AS DOUBLE)"
CALIBRATE_ON = ("windows", "events")
PARSERS = ("fast", "sql")
PATTERNS_ON = ("minutes", "events")
UDFS = ("python", "sql")
HOP_FROM = ("minutes", "events")
JOIN_ON = ("readings", "minutes")
DEDUP = ("processing-time", "event-time")
# A good line, stricter than the parse (every line it matches parses; see `_sources`): the dead-letter branch
# evaluates the reason CASE only on lines that do not match it.
GOOD_LINE = (
    r"^-?[0-9]{1,18},[^,]*,[^,]*,"
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3},"
    r"-?[0-9]{1,9}\.[0-9]{1,9},[01],-?[0-9]{1,9}\.[0-9]{1,9}$"
)


@dataclass
class SqlJobConfig:
    events: Path
    dim: Path
    calibration: Path
    out: Path
    live: bool = False
    monitor_interval: str = "500 ms"
    scalar_udf: bool = True
    # "windows" (the design above) or "events": the UDF on every reading, kept to measure what it costs.
    calibrate_on: str = "windows"
    pandas_udf: bool = True
    parts: tuple[str, ...] = ("windows", "anomalies", "alarms", "dead_letters", "state", "latency")
    # The watermark moves in steps of this many seconds of event time (0: with every record that advances it).
    watermark_step_s: int = 0
    # "fast": Flink's csv format for the good rows + a raw-format branch for the dead letters; "sql": the
    # previous parse (SPLIT_INDEX/TRY_CAST over raw lines), kept for the benchmark.
    parse: str = "fast"
    # pipeline.object-reuse: operators chained in one task hand records over without copying them.
    object_reuse: bool = True
    # "minutes": the door, flatline and silence rules read the 1-minute aggregates; "events": every reading
    # (the previous design, kept for the benchmark). See `_anomalies_sql`.
    patterns_on: str = "minutes"
    # "python": calibration and z-score as Python UDFs (a Python worker each); "sql": the same arithmetic in the JVM,
    # identical outputs (`_device_offsets`, `calibrate_sql`, `ZSCORE_SQL`), no Python worker started.
    udfs: str = "python"
    # "minutes": the 5-minute hop sums the 1-minute tumble's rows (cascaded); "events": the hop reads every
    # reading (the previous design, kept for the benchmark). See `_windows_sql`.
    hop_from: str = "minutes"
    # "readings": the store of every reading as of its event time (exact); "minutes": the store of each window
    # row as of its window time (one join per window row; differs only for a window containing a move). See
    # `_events`.
    join_on: str = "readings"
    # "processing-time": the first copy of an event kept, its key held for the state TTL; "event-time" (with
    # join_on="minutes"): the first copy within its minute, the keys dropped when the minute closes. See `_events`.
    dedup: str = "processing-time"
    options: FlinkOptions = field(default_factory=FlinkOptions)


def make_calibrate(offsets: dict[str, float]):
    """Scalar Python UDF: subtract the device's known bias (the offsets ride along in the pickled closure).

    Rounded to 6 decimals, the scale of the exact window means: a reading or a minimum (2 decimals) stays the
    exact 2-decimal value, and no floating-point noise reaches the output."""

    @udf(result_type=DataTypes.DOUBLE())
    def calibrate(device_id: str, value: float) -> float:
        return round(value - offsets.get(device_id, 0.0), 6)

    return calibrate


def _offset_texts(offsets: dict[str, float]) -> list[tuple[str, str]]:
    """(device, offset as decimal text) sorted by device; refuses offsets that DECIMAL(20, 6) would round."""
    texts = []
    for device_id, offset in sorted(offsets.items()):
        text = repr(float(offset))
        if "e" in text or len(text.partition(".")[2]) > 6:
            raise ValueError(
                f"offset {offset!r} of {device_id!r} has more than 6 decimals: use the Python UDF"
            )
        texts.append((device_id, text))
    return texts


def _minus_offset(column: str, offset: str) -> str:
    return f"CAST(CAST({column} AS DECIMAL(20, 6)) - {offset} AS DOUBLE)"


def calibrate_sql(offsets: dict[str, float], device: str, column: str) -> str:
    """`make_calibrate` as a SQL expression: the same value, computed in the JVM without a Python worker.

    The column (a reading, a minimum or maximum with 2 decimals, or a mean with 6) and the offset are exact
    decimals, so the difference is computed exactly in DECIMAL and converted to the nearest double once, which is
    what `round(value - offset, 6)` returns for such values (the double difference is off by far less than half
    a unit of the 6th decimal). Offsets with more than 6 decimals would round differently: refused.

    One `WHEN` per device: fine for a few devices, but the generated code nests one `if` per device and planning
    grows faster than the device count. The window rows join a table of offsets instead (`_device_offsets`)."""
    cases = [
        f"WHEN '{device_id.replace(chr(39), chr(39) * 2)}' THEN CAST('{text}' AS DECIMAL(20, 6))"
        for device_id, text in _offset_texts(offsets)
    ]
    offset_sql = f"CASE {device} {' '.join(cases)} ELSE CAST(0 AS DECIMAL(20, 6)) END" if cases else "0"
    return _minus_offset(column, offset_sql)


# `zscore` as a SQL expression over the same OVER window `w`: IEEE subtraction and division give the same double
# in the JVM as in numpy, and a spread of at most 1e-9 (or NaN) gives 0.0, as `std.where(...).fillna(0.0)` does.
ZSCORE_SQL = (
    "CASE WHEN STDDEV_POP(temp_mean) OVER w > 1e-9 "
    "THEN (temp_mean - AVG(temp_mean) OVER w) / STDDEV_POP(temp_mean) OVER w ELSE 0.0 END"
)


@udf(result_type=DataTypes.DOUBLE(), func_type="pandas")
def zscore(value, mean, std):  # pandas.Series each: one Arrow batch of rows per call
    """Vectorized z-score of a window's mean against the rolling mean/std of the windows before it."""
    # A perfectly flat history has no spread: report 0 rather than infinity (flatlines are a CEP rule).
    safe = std.where(std > 1e-9)
    return ((value - mean) / safe).fillna(0.0)


def _watermark(step_s: int) -> str:
    """The watermark expression: the bound behind event time, optionally floored to whole steps.

    A watermark is emitted per record (see flink_env) only when it advances, and every event-time operator
    (windows, MATCH_RECOGNIZE, the temporal join) does work for each one. Flooring it to a step of event time
    still derives it from the data alone (replays stay identical) but advances it once per step instead of
    with nearly every record; the bound grows by up to one step."""
    bound = f"INTERVAL '{WATERMARK_BOUND_S}' SECOND"
    if step_s <= 0:
        return f"event_time - {bound}"
    if 60 % step_s:
        raise ValueError(f"watermark step {step_s} s must divide a minute")
    floored = (
        f"TIMESTAMPADD(SECOND, -MOD(EXTRACT(SECOND FROM event_time), {step_s}), FLOOR(event_time TO SECOND))"
    )
    return f"{floored} - {bound}"


_REASON = """
            CASE
                WHEN CHAR_LENGTH(line) - CHAR_LENGTH(REPLACE(line, ',', '')) <> 6 THEN 'wrong_field_count'
                WHEN TRY_CAST(SPLIT_INDEX(line, ',', 0) AS BIGINT) IS NULL THEN 'bad_event_id'
                WHEN TO_TIMESTAMP(SPLIT_INDEX(line, ',', 3)) IS NULL THEN 'bad_timestamp'
                WHEN TRY_CAST(SPLIT_INDEX(line, ',', 4) AS DOUBLE) IS NULL THEN 'bad_temperature'
                WHEN TRY_CAST(SPLIT_INDEX(line, ',', 5) AS INT) NOT IN (0, 1)
                  OR TRY_CAST(SPLIT_INDEX(line, ',', 5) AS INT) IS NULL THEN 'bad_door_state'
                WHEN TRY_CAST(SPLIT_INDEX(line, ',', 6) AS DOUBLE) IS NULL THEN 'bad_battery'
            END"""


def _sources(t_env: TableEnvironment, cfg: SqlJobConfig) -> None:
    """The views `good_lines` (parsed good rows, with a row time) and `dead_lines` (line, file, reason).

    fast (default): the good rows come from Flink's csv format with `csv.ignore-parse-errors` (a field that does
    not parse becomes NULL), so a row is good when every field is non-NULL and the door state is 0 or 1; the row
    time is a computed, non-NULL column (a NULL one becomes 1970, far behind the watermark, and is filtered out).
    The dead letters come from a second source over the same files in the `raw` format: a line that matches the
    good-line expression (GOOD_LINE) is dropped at once, and the reason CASE, the same as the sql parse's, is
    evaluated on the rest only. Measured: ~2.7 µs a line against ~12 µs for SPLIT_INDEX/TRY_CAST, which also ran
    twice, once for the good rows and once for the dead letters (the planner does not share the Calc).
    sql: every line parsed with SPLIT_INDEX/TO_TIMESTAMP/TRY_CAST and the reason computed on every line."""
    if cfg.parse not in PARSERS:
        raise ValueError(f"parse must be one of {PARSERS}, got {cfg.parse!r}")
    monitor = f"'source.monitor-interval' = '{cfg.monitor_interval}'," if cfg.live else ""
    path = cfg.events.resolve().as_uri()
    metadata = """
            file_name STRING NOT NULL METADATA FROM 'file.name' VIRTUAL,
            file_mtime TIMESTAMP_LTZ(3) NOT NULL METADATA FROM 'file.modification-time' VIRTUAL,"""
    if cfg.parse == "fast":
        t_env.execute_sql(f"""
            CREATE TABLE csv_lines (
                event_id BIGINT, sensor_id STRING, device_id STRING, reported_at TIMESTAMP(3),
                temperature DOUBLE, door_open INT, battery DOUBLE,{metadata}
                -- A row time may not be NULL: a timestamp that does not parse becomes 1970 (far behind any
                -- watermark); such rows are not good and never leave the view below.
                event_time AS COALESCE(reported_at, TIMESTAMP '1970-01-01 00:00:00'),
                proc_time AS PROCTIME(),
                WATERMARK FOR event_time AS {_watermark(cfg.watermark_step_s)}
            ) WITH ('connector' = 'filesystem', {monitor} 'path' = '{path}',
                    'format' = 'csv', 'csv.ignore-parse-errors' = 'true')
        """)
        t_env.execute_sql("""
            CREATE TEMPORARY VIEW good_lines AS
            SELECT event_id, sensor_id, device_id, event_time, temperature, door_open, battery,
                   CAST(file_mtime AS TIMESTAMP(3)) AS published_at, proc_time
            FROM csv_lines
            WHERE event_id IS NOT NULL AND sensor_id IS NOT NULL AND device_id IS NOT NULL
              AND reported_at IS NOT NULL AND temperature IS NOT NULL AND door_open IN (0, 1)
              AND battery IS NOT NULL
        """)
        t_env.execute_sql(f"""
            CREATE TABLE raw_lines (line STRING,{metadata.rstrip(",")})
            WITH ('connector' = 'filesystem', {monitor} 'path' = '{path}', 'format' = 'raw')
        """)
        t_env.execute_sql(f"""
            CREATE TEMPORARY VIEW dead_lines AS
            SELECT line, file_name, reason FROM (
                -- The test of a good line comes first inside the CASE: as a WHERE beside `reason IS NOT NULL`
                -- the planner put it second, and the reason was computed for every line.
                SELECT line, file_name,
                       CASE WHEN REGEXP(line, '{GOOD_LINE}') THEN CAST(NULL AS STRING) ELSE {_REASON} END AS reason
                FROM raw_lines)
            WHERE reason IS NOT NULL
        """)
    else:
        t_env.execute_sql(f"""
            CREATE TABLE raw_lines (
                line STRING,{metadata}
                -- A row time may not be NULL: unparseable timestamps become 1970 (far behind any watermark);
                -- those rows only ever go to the dead-letter output.
                event_time AS COALESCE(TO_TIMESTAMP(SPLIT_INDEX(line, ',', 3)), TIMESTAMP '1970-01-01 00:00:00'),
                proc_time AS PROCTIME(),
                WATERMARK FOR event_time AS {_watermark(cfg.watermark_step_s)}
            ) WITH ('connector' = 'filesystem', {monitor} 'path' = '{path}', 'format' = 'raw')
        """)
        t_env.execute_sql(f"""
            CREATE TEMPORARY VIEW parsed AS
            SELECT line, file_name, CAST(file_mtime AS TIMESTAMP(3)) AS published_at, event_time, proc_time,
                TRY_CAST(SPLIT_INDEX(line, ',', 0) AS BIGINT) AS event_id,
                SPLIT_INDEX(line, ',', 1) AS sensor_id,
                SPLIT_INDEX(line, ',', 2) AS device_id,
                TRY_CAST(SPLIT_INDEX(line, ',', 4) AS DOUBLE) AS temperature,
                TRY_CAST(SPLIT_INDEX(line, ',', 5) AS INT) AS door_open,
                TRY_CAST(SPLIT_INDEX(line, ',', 6) AS DOUBLE) AS battery,
                {_REASON} AS reason
            FROM raw_lines
        """)
        t_env.execute_sql("""
            CREATE TEMPORARY VIEW good_lines AS
            SELECT event_id, sensor_id, device_id, event_time, temperature, door_open, battery, published_at,
                   proc_time
            FROM parsed WHERE reason IS NULL
        """)
        t_env.execute_sql(
            "CREATE TEMPORARY VIEW dead_lines AS SELECT line, file_name, reason FROM parsed WHERE reason IS NOT NULL"
        )
    t_env.execute_sql(f"""
        CREATE TABLE sensor_dim_log (
            sensor_id STRING, store_id INT, kind STRING, valid_from TIMESTAMP(3),
            WATERMARK FOR valid_from AS valid_from
        ) WITH ('connector' = 'filesystem', 'path' = '{cfg.dim.resolve().as_uri()}', 'format' = 'csv')
    """)
    # A versioned view: dedup on the row time keeps the latest version per key, so the planner can infer
    # the primary key the event-time temporal join needs from an append-only change log.
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW sensor_dim AS
        SELECT sensor_id, store_id, kind, valid_from FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY sensor_id ORDER BY valid_from DESC) AS rn
            FROM sensor_dim_log) WHERE rn = 1
    """)


def _reads_enriched(cfg: SqlJobConfig) -> bool:
    """Whether a statement reads `enriched` (every reading joined with its store): the per-reading join, the hop
    or the patterns over every reading, the materialized view, the latency probe."""
    per_reading = cfg.join_on == "readings" or cfg.hop_from == "events" or cfg.patterns_on == "events"
    return per_reading or "state" in cfg.parts or "latency" in cfg.parts


def _joins_offsets(cfg: SqlJobConfig) -> bool:
    return cfg.scalar_udf and cfg.calibrate_on == "windows" and cfg.udfs == "sql"


def _device_offsets(t_env: TableEnvironment, cfg: SqlJobConfig) -> None:
    """The view `device_offsets`: each device's calibration offset, versioned like `sensor_dim` (valid since 1970).

    The window rows are calibrated by an event-time temporal join with it (`_windows_sql`), one keyed lookup a
    row. The same offsets as one `CASE device WHEN ...` (`calibrate_sql`), copied into the three columns of the
    three window kinds, made the planner generate if/else code nested once per device, and planning time grew
    faster than the device count (docs/measurements.md). The offsets are written as a CSV file beside the
    outputs (`<out>/_device_offsets`) because a Flink source reads files, not Python objects. The table names the
    file, not the folder: listing a folder, Flink's file source skips names starting with `_` or `.`."""
    folder = cfg.out / "_device_offsets"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "offsets.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        for device_id, text in _offset_texts(json.loads(cfg.calibration.read_text())):
            writer.writerow([device_id, text, "1970-01-01 00:00:00"])
    t_env.execute_sql(f"""
        CREATE TABLE device_offset_log (
            device_id STRING, offset_c DECIMAL(20, 6), valid_from TIMESTAMP(3),
            WATERMARK FOR valid_from AS valid_from
        ) WITH ('connector' = 'filesystem', 'path' = '{(folder / "offsets.csv").resolve().as_uri()}', 'format' = 'csv')
    """)
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW device_offsets AS
        SELECT device_id, offset_c, valid_from FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY device_id ORDER BY valid_from DESC) AS rn
            FROM device_offset_log) WHERE rn = 1
    """)


def _share(
    t_env: StreamTableEnvironment, source: str, name: str, rowtime: str, proc_time: str | None = None
) -> None:
    """Register the view `source` again as `name` behind a DataStream round trip (no Python: JVM to JVM).

    A statement set is optimised one INSERT at a time, and each consumer's projection is pushed down into the
    views it reads, so consumers that select different columns get different plans and nothing is shared.
    Measured (plan of windows + CEP + DLQ): the event dedup ran 3 times, the temporal join 3 times and the
    1-minute tumble twice. Behind the round trip each runs once for every consumer; the watermark comes along
    with the records (`SOURCE_WATERMARK()`), so event time means the same downstream. A processing-time
    attribute does not cross (it would arrive as a plain timestamp): `proc_time` names one to add again.

    The rows cross in the table runtime's own format (`RowData`): PyFlink's `to_data_stream` converts each one
    to a `Row` of Java objects and `from_data_stream` back again (strings decoded and re-encoded, timestamps
    rebuilt), which cost the csv source's task about a quarter of its CPU on the goal path (docs/streaming.md).
    PyFlink does not expose the Java overload that takes a target type, so it is called through the gateway."""
    table = t_env.from_path(source)
    row_data = get_gateway().jvm.org.apache.flink.table.data.RowData._java_lang_class
    internal = table._j_table.getResolvedSchema().toPhysicalRowDataType().bridgedTo(row_data)
    stream = DataStream(t_env._j_tenv.toDataStream(table._j_table, internal))
    builder = Schema.new_builder()
    if proc_time:
        builder = builder.column_by_expression(proc_time, "PROCTIME()")
    schema = builder.watermark(rowtime, "SOURCE_WATERMARK()").build()
    t_env.create_temporary_view(name, t_env.from_data_stream(stream, schema))


def _events(t_env: TableEnvironment, cfg: SqlJobConfig, share: bool = False) -> None:
    """Dedup, the temporal join, the 1-minute tumble; `share` (a StreamTableEnvironment) makes each one operator.

    join_on="readings": every reading is joined with the sensor's store as of its event time, then windowed.
    join_on="minutes": the readings are windowed first and each window row is joined as of its window time
    (the minute's or the door session's last millisecond): one join per minute row instead of ~6 per minute.
    Only a move inside a window differs: the readings of that window before the move count for the new store
    (one row for the window instead of one per store; the 1-minute rows around a move and the 5 hops and the
    door session containing it), see `_windows_sql`."""
    if cfg.join_on not in JOIN_ON:
        raise ValueError(f"join_on must be one of {JOIN_ON}, got {cfg.join_on!r}")
    if cfg.dedup not in DEDUP:
        raise ValueError(f"dedup must be one of {DEDUP}, got {cfg.dedup!r}")
    by_minute = cfg.dedup == "event-time"
    if by_minute and cfg.join_on != "minutes":
        raise ValueError("dedup 'event-time' feeds the 1-minute windows: it needs join_on 'minutes'")
    suffix = "_unshared" if share else ""
    lines = "good_lines"
    if by_minute and share:
        # Two or three consumers below (the minute dedup, the door readings' dedup, and the per-reading join
        # when the view or the latency probe is on): shared, or the csv is read once for each.
        t_env.execute_sql("""
            CREATE TEMPORARY VIEW good_lines_unshared AS
            SELECT event_id, sensor_id, device_id, event_time, temperature, door_open, battery, published_at
            FROM good_lines
        """)
        _share(t_env, "good_lines_unshared", "good_lines_shared", "event_time", proc_time="proc_time")
        lines = "good_lines_shared"
    # Dedup keeps the first copy by processing time: that is append-only (keeping the first by event time
    # would emit retractions), and the event time column stays a time attribute for the windows below.
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW good AS
        SELECT event_id, sensor_id, device_id, event_time, temperature, door_open, battery, published_at FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY proc_time ASC) AS rn
            FROM {lines}) WHERE rn = 1
    """)
    temp = (
        _calibrate_call(cfg, "e.device_id", "e.temperature")
        if cfg.scalar_udf and cfg.calibrate_on == "events"
        else "e.temperature"
    )
    # The cascaded hop needs each minute's exact sum (a mean of means would weigh minutes, not readings).
    temp_sum = ", SUM(CAST(temp_c AS DECIMAL(7, 2))) AS temp_sum" if cfg.hop_from == "minutes" else ""
    # The per-reading join reads the shared readings, except after the dedup per minute, whose rows may not keep
    # their event time as row time: it then reads the first copies by processing time.
    shares_readings = cfg.join_on == "minutes" and not by_minute
    enriched_from, enriched_temp = ("readings", "e.temp_c") if shares_readings else ("good", temp)
    readings = "good"
    if by_minute:
        # Copies of an event carry its event time, so they fall in the same minute: a window deduplication
        # per minute keeps the first copy and drops the minute's keys when the watermark closes it (state bounded
        # by event time, not by a TTL of wall-clock time). It emits when the minute closes, as the 1-minute
        # tumble does, and drops what the tumble would drop as late: the same rows (tests/streaming/
        # test_goal_path.py). Its rows come after the watermark has moved past their event time, so downstream
        # only the minute (`minute_time`) may serve as their row time.
        t_env.execute_sql(f"""
            CREATE TEMPORARY VIEW good_by_minute AS
            SELECT event_id, sensor_id, device_id, event_time, window_time AS minute_time, temperature, door_open,
                   battery, published_at FROM (
                SELECT *, ROW_NUMBER() OVER (
                    PARTITION BY window_start, window_end, event_id ORDER BY event_time ASC) AS rn
                FROM TABLE(TUMBLE(TABLE {lines}, DESCRIPTOR(event_time), INTERVAL '1' MINUTE)))
            WHERE rn = 1
        """)
    if cfg.join_on == "minutes":
        # The deduplicated readings feed the tumble, the door sessions (and, for the view and the latency
        # probe, the per-reading join): shared like `enriched`, so the dedup runs once. With the dedup per
        # minute they feed the tumble only.
        minute_time = ", e.minute_time" if by_minute else ""
        t_env.execute_sql(f"""
            CREATE TEMPORARY VIEW readings{suffix if not by_minute else ""} AS
            SELECT e.event_id, e.sensor_id, e.device_id, e.event_time{minute_time}, e.temperature, {temp} AS temp_c,
                   e.door_open, e.battery, e.published_at
            FROM {"good_by_minute" if by_minute else "good"} AS e
        """)
        if share and not by_minute:
            _share(t_env, "readings_unshared", "readings", "event_time")
        readings = "readings"
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW enriched{suffix} AS
        SELECT e.event_id, e.sensor_id, e.device_id, d.store_id, d.kind, e.event_time, e.temperature,
               {enriched_temp} AS temp_c, e.door_open, e.battery, e.published_at
        FROM {enriched_from} AS e
        JOIN sensor_dim FOR SYSTEM_TIME AS OF e.event_time AS d ON e.sensor_id = d.sensor_id
    """)
    if share and _reads_enriched(cfg):
        # Only when a consumer reads it: `toDataStream` plans and translates its query right away.
        _share(t_env, "enriched_unshared", "enriched", "event_time")
    # After the dedup per minute event_time is not a row time (see above): plain timestamps, the same values.
    first, last = (
        ("CAST(MIN(event_time) AS TIMESTAMP(3))", "CAST(MAX(event_time) AS TIMESTAMP(3))")
        if by_minute
        else ("MIN(event_time)", "MAX(event_time)")
    )
    minute_columns = f"""COUNT(*) AS events,
               {EXACT_MEAN} AS temp_mean, MIN(temp_c) AS temp_min, MAX(temp_c) AS temp_max,
               SUM(door_open) AS door_open_events, MAX(published_at) AS published_at,
               {first} AS first_event_time, {last} AS last_event_time{temp_sum}"""
    if cfg.join_on == "minutes":
        t_env.execute_sql(f"""
            CREATE TEMPORARY VIEW tumble_1m_unjoined AS
            SELECT sensor_id, device_id, window_start, window_end, window_time, {minute_columns}
            FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR({"minute_time" if by_minute else "event_time"}),
                              INTERVAL '1' MINUTE))
            GROUP BY sensor_id, device_id, window_start, window_end, window_time
        """)
        t_env.execute_sql(f"""
            CREATE TEMPORARY VIEW tumble_1m{suffix} AS
            SELECT m.sensor_id, m.device_id, d.store_id, m.window_start, m.window_end, m.window_time, m.events,
                   m.temp_mean, m.temp_min, m.temp_max, m.door_open_events, m.published_at,
                   m.first_event_time, m.last_event_time{temp_sum and ", m.temp_sum"}
            FROM tumble_1m_unjoined AS m
            JOIN sensor_dim FOR SYSTEM_TIME AS OF m.window_time AS d ON m.sensor_id = d.sensor_id
        """)
    else:
        t_env.execute_sql(f"""
            CREATE TEMPORARY VIEW tumble_1m{suffix} AS
            SELECT sensor_id, device_id, store_id, window_start, window_end, window_time, {minute_columns}
            FROM TABLE(TUMBLE(TABLE enriched, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
            GROUP BY sensor_id, device_id, store_id, window_start, window_end, window_time
        """)
    if share:
        _share(t_env, "tumble_1m_unshared", "tumble_1m", "window_time")
    # The rules' comparisons with earlier minutes, as columns. In the compressor pattern's DEFINE they were
    # `LAST(R.temp_mean, 1)` and `B.temp_mean`, which make the NFA extract every partial match's rows for every
    # minute row it tests: in the job's profile (docs/streaming.md) that one pattern was the largest cost.
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW minutes_lagged AS
        SELECT *, LAG(temp_mean, 1) OVER s AS prev_mean, LAG(temp_mean, 9) OVER s AS mean_9_back,
               LAG(last_event_time, 1) OVER s AS prev_last_event_time,
               LAG(window_start, 9) OVER s AS start_9_back,
               LAG(CAST(window_time AS TIMESTAMP(3)), 8) OVER s AS time_8_back,
               LAG(CAST(window_time AS TIMESTAMP(3)), 9) OVER s AS time_9_back
        FROM tumble_1m
        WINDOW s AS (PARTITION BY sensor_id ORDER BY window_time)
    """)
    # The rows the compressor rule's chain reads (`_anomalies_sql`): each minute that ends a rise (`B R{8} E
    # WITHIN 12 MINUTE`: nine minutes that never fall back, door shut, the last 2.5 °C above the minute before
    # them, all ten within 12 minutes) and each sensor's first minute (no minutes before it: never a rise), where
    # the chain starts. "Never fall back" is one running aggregate: the last minute that fell back (or had the
    # door open, or no minute before it) is older than the minute eight back.
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW minutes_rising AS
        SELECT *, NOT first_minute AS ends_rise FROM (
            SELECT sensor_id, store_id, window_start, window_end, window_time, temp_mean, published_at,
                   mean_9_back, start_9_back, time_8_back, time_9_back,
                   prev_last_event_time IS NULL AS first_minute,
                   MAX(CASE WHEN door_open_events = 0 AND temp_mean > prev_mean - 0.1
                            THEN CAST(NULL AS TIMESTAMP(3)) ELSE CAST(window_time AS TIMESTAMP(3)) END) OVER (
                       PARTITION BY sensor_id ORDER BY window_time
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_fall
            FROM minutes_lagged)
        WHERE first_minute
           OR (last_fall < time_8_back AND temp_mean > mean_9_back + 2.5
               AND window_time < time_9_back + INTERVAL '12' MINUTE)
    """)
    if by_minute:
        # The door sessions need each reading's own row time: their own first-copy dedup, over the few door
        # readings only.
        t_env.execute_sql(f"""
            CREATE TEMPORARY VIEW door_events AS
            SELECT e.event_id, e.sensor_id, e.device_id, e.event_time, {temp} AS temp_c, e.door_open FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY proc_time ASC) AS rn
                FROM {lines} WHERE door_open = 1) AS e
            WHERE rn = 1
        """)
    else:
        t_env.execute_sql(
            f"CREATE TEMPORARY VIEW door_events AS SELECT * FROM {readings if cfg.join_on == 'minutes' else 'enriched'} "
            "WHERE door_open = 1"
        )
    if cfg.hop_from == "minutes":
        # The HOP adds its own window_start/end/time columns: the minute's bounds may not keep those names.
        t_env.execute_sql("""
            CREATE TEMPORARY VIEW minutes_for_hop AS
            SELECT sensor_id, device_id, store_id, events, temp_sum, temp_min, temp_max, door_open_events,
                   window_time AS minute_time
            FROM tumble_1m
        """)


def _calibrate_call(cfg: SqlJobConfig, device: str, column: str) -> str:
    if cfg.udfs == "sql":
        return calibrate_sql(json.loads(cfg.calibration.read_text()), device, column)
    return f"calibrate({device}, {column})"


def _calibrated(cfg: SqlJobConfig, column: str) -> str:
    """`column` of a window row (one device) in calibrated degrees."""
    if cfg.scalar_udf and cfg.calibrate_on == "windows":
        return _calibrate_call(cfg, "device_id", column)
    return column


def _windows_sql(cfg: SqlJobConfig) -> str:
    # Rolling statistics are SQL OVER aggregates (incremental, in the JVM); the pandas UDF only does the
    # arithmetic, a batch at a time. (A pandas UDAF over the same OVER window was far slower: one Python call
    # per row; docs/measurements.md.)
    # A z-score does not change when every value moves by the same offset: computed on the reported means.
    if not cfg.pandas_udf:
        zscore = "CAST(NULL AS DOUBLE)"
    elif cfg.udfs == "sql":
        zscore = ZSCORE_SQL
    else:
        zscore = "zscore(temp_mean, AVG(temp_mean) OVER w, STDDEV_POP(temp_mean) OVER w)"
    if cfg.hop_from not in HOP_FROM:
        raise ValueError(f"hop_from must be one of {HOP_FROM}, got {cfg.hop_from!r}")
    if cfg.hop_from == "minutes":
        # Cascaded: each 5-minute hop sums the five 1-minute rows it covers (a minute row's time, its end - 1 ms,
        # falls in exactly the hops that contain the minute). Counts, sums, minima and maxima add up exactly; the
        # mean divides the exact decimal sum by the count the way AVG does (same division, same cast), so the
        # rows are identical as long as no reading is late for its minute but on time for a later hop: a
        # reading behind the watermark is dropped by the tumble, so by all five hops, where the hop over the
        # readings still counted it in the hops not yet closed (the injected late events are 10-30 min late,
        # past every hop: the same rows). Five minute rows per hop instead of ~30 readings.
        hop = """
            SELECT sensor_id, device_id, store_id, 'hop_5m_1m', window_start, window_end, SUM(events),
                   CAST(CAST(SUM(temp_sum) / SUM(events) AS DECIMAL(38, 6)) AS DOUBLE), MIN(temp_min),
                   MAX(temp_max), SUM(door_open_events), CAST(NULL AS DOUBLE), window_time
            FROM TABLE(HOP(TABLE minutes_for_hop, DESCRIPTOR(minute_time), INTERVAL '1' MINUTE,
                           INTERVAL '5' MINUTE))
            GROUP BY sensor_id, device_id, store_id, window_start, window_end, window_time"""
    else:
        hop = f"""
            SELECT sensor_id, device_id, store_id, 'hop_5m_1m', window_start, window_end, COUNT(*),
                   {EXACT_MEAN}, MIN(temp_c), MAX(temp_c), SUM(door_open), CAST(NULL AS DOUBLE), window_time
            FROM TABLE(HOP(TABLE enriched, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
            GROUP BY sensor_id, device_id, store_id, window_start, window_end, window_time"""
    if cfg.join_on == "minutes":
        # The session's store as of its window time (its last reading + the gap - 1 ms): a session that spans
        # a move, or ends within the gap before one, counts for the new store (`_events`).
        session = f"""
            SELECT s.sensor_id, s.device_id, d.store_id, 'door_session', s.window_start, s.window_end, s.events,
                   s.temp_mean, s.temp_min, s.temp_max, s.door_open_events, CAST(NULL AS DOUBLE), s.window_time
            FROM (
                SELECT sensor_id, MAX(device_id) AS device_id, window_start, window_end, window_time,
                       COUNT(*) AS events, {EXACT_MEAN} AS temp_mean, MIN(temp_c) AS temp_min,
                       MAX(temp_c) AS temp_max, SUM(door_open) AS door_open_events
                FROM TABLE(SESSION(TABLE door_events PARTITION BY sensor_id,
                                   DESCRIPTOR(event_time), INTERVAL '30' SECOND))
                GROUP BY sensor_id, window_start, window_end, window_time) AS s
            JOIN sensor_dim FOR SYSTEM_TIME AS OF s.window_time AS d ON s.sensor_id = d.sensor_id"""
    else:
        session = f"""
            -- A session window groups by its partition keys only; store and device come along as aggregates.
            SELECT sensor_id, MAX(device_id), MAX(store_id), 'door_session', window_start, window_end, COUNT(*),
                   {EXACT_MEAN}, MIN(temp_c), MAX(temp_c), SUM(door_open), CAST(NULL AS DOUBLE), window_time
            FROM TABLE(SESSION(TABLE door_events PARTITION BY sensor_id,
                               DESCRIPTOR(event_time), INTERVAL '30' SECOND))
            GROUP BY sensor_id, window_start, window_end, window_time"""
    union = f"""
            SELECT sensor_id, device_id, store_id, 'tumble_1m' AS window_kind, window_start, window_end, events,
                   temp_mean, temp_min, temp_max, door_open_events, {zscore} AS temp_zscore, window_time
            FROM tumble_1m
            WINDOW w AS (PARTITION BY sensor_id ORDER BY window_time ROWS BETWEEN 30 PRECEDING AND CURRENT ROW)
            UNION ALL{hop}
            UNION ALL{session}"""
    if _joins_offsets(cfg):
        # Each window row takes its device's offset as of its window time (the offsets never change: as of 1970).
        offset = "COALESCE(c.offset_c, CAST(0 AS DECIMAL(20, 6)))"
        stats = ", ".join(_minus_offset(f"u.{c}", offset) for c in ("temp_mean", "temp_min", "temp_max"))
        return f"""
        SELECT u.sensor_id, u.store_id, u.window_kind, u.window_start, u.window_end, u.events, {stats},
               u.door_open_events, u.temp_zscore
        FROM ({union}) AS u
        LEFT JOIN device_offsets FOR SYSTEM_TIME AS OF u.window_time AS c ON u.device_id = c.device_id
    """
    stats = ", ".join(_calibrated(cfg, c) for c in ("temp_mean", "temp_min", "temp_max"))
    return f"""
        SELECT sensor_id, store_id, window_kind, window_start, window_end, events, {stats}, door_open_events,
               temp_zscore
        FROM ({union})
    """


def _anomalies_sql(live: bool, alert_time: bool = False, patterns_on: str = "minutes") -> str:
    """CEP rules, one per injected anomaly kind; each row: when it started and when it could be detected.

    `published_at` (the input file's mtime) and `emitted_at` (wall clock) measure alert latency in live mode. In
    a bounded replay they would only record when this run happened, so they are NULL there: a replay of the
    same day writes the same rows every time. `alert_time` adds each match's row time (`MATCH_ROWTIME()`, a time
    attribute) as a last column, for `_alarms_sql`.

    `patterns_on="minutes"` (default): every rule reads the 1-minute aggregates (`tumble_1m`, built once for the
    windows anyway), about 6 rows a minute fewer per sensor into each NFA. Measured: one MATCH_RECOGNIZE over every
    reading ~59 µs an event, over the minutes ~5.5 µs per reading. What it changes:
    - silent: the same rows (start = the last reading before the gap, detected = the first after it: the minute
      rows carry their first and last reading times); emitted when the minute after the gap closes.
    - door_open: the door open in a minute, open in every reading of each minute after it, until a minute ending
      10 min or more after the opening minute, whose mean is 1 °C above the opening minute's. Start and
      detection are minute bounds: detected at most 1 min later than the per-reading rule (10-11 min after the
      opening instead of 10).
    - flatline: five whole minutes in a row, each with one value in all its readings, the same value (about
      30 readings at 10 s; the per-reading rule: 30 identical readings), detected at the end of the fifth minute:
      at most 1 min later than the per-reading rule.
    `patterns_on="events"`: the previous rules over every reading, and the compressor rule reading its partial
    match (see below), kept for the benchmark."""
    if patterns_on not in PATTERNS_ON:
        raise ValueError(f"patterns_on must be one of {PATTERNS_ON}, got {patterns_on!r}")
    rt = ", alert_time" if alert_time else ""
    rt_measure = ", MATCH_ROWTIME() AS alert_time" if alert_time else ""
    rt_column = ", window_time AS alert_time" if alert_time else ""
    emitted = "CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3))" if live else "CAST(NULL AS TIMESTAMP(3))"
    published = "published_at" if live else "CAST(NULL AS TIMESTAMP(3))"
    # MEASURES keep the row-time attribute on some branches; UNION ALL needs plain timestamps: cast all.
    if patterns_on == "events":
        rules = f"""
        SELECT sensor_id, store_id, 'door_open' AS kind, CAST(start_time AS TIMESTAMP(3)), CAST(detected_at AS TIMESTAMP(3)), score, {published},
               {emitted} AS emitted_at{rt}
        FROM enriched MATCH_RECOGNIZE (
            PARTITION BY sensor_id ORDER BY event_time
            MEASURES FIRST(S.event_time) AS start_time, LAST(E.event_time) AS detected_at,
                     LAST(E.store_id) AS store_id, LAST(E.temp_c) - FIRST(S.temp_c) AS score,
                     LAST(E.published_at) AS published_at{rt_measure}
            ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
            -- Door open, still open 10 minutes later (no close in between: O/E require door_open = 1)
            -- and warmer than when it opened.
            PATTERN (S O*? E) WITHIN INTERVAL '30' MINUTE
            DEFINE S AS S.door_open = 1,
                   O AS O.door_open = 1,
                   E AS E.door_open = 1 AND E.event_time >= S.event_time + INTERVAL '10' MINUTE
                        AND E.temp_c > S.temp_c + 1.0)
        UNION ALL
        SELECT sensor_id, store_id, 'flatline', CAST(start_time AS TIMESTAMP(3)), CAST(detected_at AS TIMESTAMP(3)), 0.0, {published}, {emitted}{rt}
        FROM enriched MATCH_RECOGNIZE (
            PARTITION BY sensor_id ORDER BY event_time
            MEASURES A.event_time AS start_time, LAST(F.event_time) AS detected_at,
                     LAST(F.store_id) AS store_id, LAST(F.published_at) AS published_at{rt_measure}
            ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
            -- 30 identical readings in a row: a real thermal mass with sensor noise never repeats exactly.
            PATTERN (A F{{29}}) WITHIN INTERVAL '15' MINUTE
            DEFINE F AS F.temperature = A.temperature)
        UNION ALL
        SELECT sensor_id, store_id, 'silent', CAST(start_time AS TIMESTAMP(3)), CAST(detected_at AS TIMESTAMP(3)), gap_minutes, {published}, {emitted}{rt}
        FROM enriched MATCH_RECOGNIZE (
            PARTITION BY sensor_id ORDER BY event_time
            MEASURES A.event_time AS start_time, B.event_time AS detected_at, B.store_id AS store_id,
                     CAST(TIMESTAMPDIFF(SECOND, A.event_time, B.event_time) AS DOUBLE) / 60 AS gap_minutes,
                     B.published_at AS published_at{rt_measure}
            ONE ROW PER MATCH AFTER MATCH SKIP TO LAST B
            -- SQL sees silence only when the sensor speaks again; the DataStream job's timers raise it live.
            PATTERN (A B)
            DEFINE B AS B.event_time > A.event_time + INTERVAL '{SILENT_MINUTES}' MINUTE)
"""
    else:
        rules = f"""
        SELECT sensor_id, store_id, 'door_open' AS kind, CAST(start_time AS TIMESTAMP(3)), CAST(detected_at AS TIMESTAMP(3)), score, {published},
               {emitted} AS emitted_at{rt}
        FROM tumble_1m MATCH_RECOGNIZE (
            PARTITION BY sensor_id ORDER BY window_time
            MEASURES S.window_start AS start_time, LAST(E.window_end) AS detected_at,
                     LAST(E.store_id) AS store_id, LAST(E.temp_mean) - S.temp_mean AS score,
                     LAST(E.published_at) AS published_at{rt_measure}
            ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
            -- Door opened in a minute, open in every reading of every minute after it until one ending 10 min
            -- or more after the opening minute, and that minute's mean 1 °C above the opening minute's.
            PATTERN (S O*? E) WITHIN INTERVAL '30' MINUTE
            -- Unprefixed columns are the row being tested (see the compressor rule below).
            DEFINE S AS door_open_events > 0,
                   O AS door_open_events = events,
                   E AS door_open_events = events AND window_end >= S.window_end + INTERVAL '10' MINUTE
                        AND temp_mean > S.temp_mean + 1.0)
        UNION ALL
        SELECT sensor_id, store_id, 'flatline', CAST(start_time AS TIMESTAMP(3)), CAST(detected_at AS TIMESTAMP(3)), 0.0, {published}, {emitted}{rt}
        FROM tumble_1m MATCH_RECOGNIZE (
            PARTITION BY sensor_id ORDER BY window_time
            MEASURES A.window_start AS start_time, LAST(F.window_end) AS detected_at,
                     LAST(F.store_id) AS store_id, LAST(F.published_at) AS published_at{rt_measure}
            ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
            -- Five minutes in a row, each with one value in all its readings, the same value (~30 readings):
            -- a real thermal mass with sensor noise never repeats exactly.
            PATTERN (A F{{4}}) WITHIN INTERVAL '5' MINUTE
            DEFINE A AS temp_min = temp_max,
                   F AS temp_min = A.temp_min AND temp_max = A.temp_min)
        UNION ALL
        -- Two minutes with readings in a row whose readings are > 10 min apart: the same gap as two consecutive
        -- readings. SQL sees silence only when the sensor speaks again; the DataStream job's timers raise it live.
        -- As a pattern this was (A B) with SKIP TO LAST B: each match is one row and the row before it, so it is
        -- a filter on the previous minute's last reading (`minutes_lagged`), without an NFA.
        SELECT sensor_id, store_id, 'silent', CAST(prev_last_event_time AS TIMESTAMP(3)),
               CAST(first_event_time AS TIMESTAMP(3)),
               CAST(TIMESTAMPDIFF(SECOND, prev_last_event_time, first_event_time) AS DOUBLE) / 60, {published},
               {emitted}{rt_column}
        FROM minutes_lagged
        WHERE first_event_time > prev_last_event_time + INTERVAL '{SILENT_MINUTES}' MINUTE
        """
    if patterns_on == "events":  # as before issue 20 part 5: the conditions read the partial match
        compressor = f"""
        SELECT sensor_id, store_id, 'compressor_failure', CAST(start_time AS TIMESTAMP(3)), CAST(detected_at AS TIMESTAMP(3)), score, {published},
               {emitted}{rt}
        FROM tumble_1m MATCH_RECOGNIZE (
            PARTITION BY sensor_id ORDER BY window_time
            MEASURES B.window_start AS start_time, LAST(E.window_end) AS detected_at,
                     LAST(E.store_id) AS store_id, LAST(E.temp_mean) - B.temp_mean AS score,
                     LAST(E.published_at) AS published_at{rt_measure}
            ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
            -- Ten minutes of one-minute means that never fall back, door shut, ending 2.5 °C above the
            -- start: a defrost bump (1.2 °C, back down within 15 min) or a door opening does not qualify.
            PATTERN (B R{{8}} E) WITHIN INTERVAL '12' MINUTE
            DEFINE R AS R.door_open_events = 0
                        AND R.temp_mean > COALESCE(LAST(R.temp_mean, 1), B.temp_mean) - 0.1,
                   E AS E.door_open_events = 0 AND E.temp_mean > LAST(R.temp_mean) - 0.1
                        AND E.temp_mean > B.temp_mean + 2.5)"""
    else:
        # The same matches without one partial match per minute. As a pattern over every minute, `B` matched
        # any row, so the NFA carried up to ten partial matches per sensor through every minute, and after a
        # match `SKIP PAST LAST ROW` held back any match starting at or before its last row: a minute ending a
        # rise is reported unless a reported one is among the nine minutes before it. Whether a minute ends a
        # rise is a column (`minutes_rising`); what was reported before is not (each report depends on the
        # previous one), so an NFA still decides it, over those few rows only: A is the last reported minute
        # (or the sensor's first), a rise nine minutes or fewer after it (B, A no earlier than its minute nine
        # back) is held back, the next one (C) is reported and becomes the next A.
        compressor = f"""
        SELECT sensor_id, store_id, 'compressor_failure', CAST(start_time AS TIMESTAMP(3)), CAST(detected_at AS TIMESTAMP(3)), score, {published},
               {emitted}{rt}
        FROM minutes_rising MATCH_RECOGNIZE (
            PARTITION BY sensor_id ORDER BY window_time
            MEASURES C.start_9_back AS start_time, C.window_end AS detected_at, C.store_id AS store_id,
                     C.temp_mean - C.mean_9_back AS score, C.published_at AS published_at{rt_measure}
            ONE ROW PER MATCH AFTER MATCH SKIP TO LAST C
            PATTERN (A B* C)
            DEFINE B AS ends_rise AND NOT A.first_minute AND A.window_time >= time_9_back,
                   C AS ends_rise AND (A.first_minute OR A.window_time < time_9_back))"""
    return f"""{rules}
        UNION ALL{compressor}
    """


def _alarms_sql(live: bool, patterns_on: str = "minutes") -> str:
    """One row per incident: an alert of a sensor raises an alarm row only if that sensor's previous alert (raised
    or held back) is INCIDENT_GAP_MINUTES or more before it, the rule `streaming.evaluate.incidents` uses to count
    pages. So the row-level output agrees with the incident count: the anomalies stay in `anomalies/` (every CEP
    match, for the warehouse), `alarms/` is what would page someone. Event time: the OVER orders each sensor's
    alerts by their match's row time, whatever order the four rules emit them in."""
    return f"""
        SELECT sensor_id, store_id, kind, start_time, detected_at, score, published_at, emitted_at FROM (
            SELECT *, LAG(detected_at) OVER (PARTITION BY sensor_id ORDER BY alert_time) AS previous_at
            FROM ({_anomalies_sql(live, alert_time=True, patterns_on=patterns_on)})
                AS a (sensor_id, store_id, kind, start_time, detected_at, score, published_at, emitted_at,
                      alert_time))
        WHERE previous_at IS NULL OR detected_at >= previous_at + INTERVAL '{INCIDENT_GAP_MINUTES}' MINUTE
    """


def _sinks(t_env: TableEnvironment, out: Path, live: bool) -> None:
    # A row-format part file becomes visible when it rolls (then commits at the next checkpoint), not at every
    # checkpoint: live mode rolls every 2 s so results show up within seconds.
    rollover = "2 s" if live else "10 min"

    def fs(name: str, columns: str, fmt: str) -> None:
        t_env.execute_sql(f"""
            CREATE TABLE {name}_sink ({columns}) WITH (
                'connector' = 'filesystem', 'path' = '{(out / name).resolve().as_uri()}', 'format' = '{fmt}',
                'sink.rolling-policy.file-size' = '64MB', 'sink.rolling-policy.rollover-interval' = '{rollover}',
                'sink.rolling-policy.check-interval' = '1 s')
        """)

    fs(
        "windows",
        "sensor_id STRING, store_id INT, window_kind STRING, window_start TIMESTAMP(3), "
        "window_end TIMESTAMP(3), events BIGINT, temp_mean DOUBLE, temp_min DOUBLE, temp_max DOUBLE, "
        "door_open_events INT, temp_zscore DOUBLE",
        "json",
    )
    fs(
        "anomalies",
        "sensor_id STRING, store_id INT, kind STRING, start_time TIMESTAMP(3), detected_at TIMESTAMP(3), "
        "score DOUBLE, published_at TIMESTAMP(3), emitted_at TIMESTAMP(3)",
        "json",
    )
    fs(
        "alarms",
        "sensor_id STRING, store_id INT, kind STRING, start_time TIMESTAMP(3), detected_at TIMESTAMP(3), "
        "score DOUBLE, published_at TIMESTAMP(3), emitted_at TIMESTAMP(3)",
        "json",
    )
    fs("dead_letters", "raw_payload STRING, reason STRING, source_file STRING", "json")
    # An upsert changelog in files: debezium-json carries each change's before/after, so the latest state
    # per sensor can be rebuilt by replaying it (files cannot be updated in place).
    fs(
        "sensor_state",
        "sensor_id STRING, store_id INT, last_event_time TIMESTAMP(3), temp_c DOUBLE, door_open INT, "
        "events BIGINT, PRIMARY KEY (sensor_id) NOT ENFORCED",
        "debezium-json",
    )
    fs("latency", "event_id BIGINT, published_at TIMESTAMP(3), processed_at TIMESTAMP(3)", "csv")


def build(cfg: SqlJobConfig) -> StreamTableEnvironment:
    options = cfg.options
    if cfg.object_reuse:  # an explicit --conf pipeline.object-reuse=... still wins
        options = replace(options, extra={"pipeline.object-reuse": "true", **options.extra})
    _, t_env = stream_env(options)
    if cfg.udfs not in UDFS:
        raise ValueError(f"udfs must be one of {UDFS}, got {cfg.udfs!r}")
    if cfg.scalar_udf and cfg.udfs == "python":
        offsets = json.loads(cfg.calibration.read_text())
        t_env.create_temporary_function("calibrate", make_calibrate(offsets))
    if cfg.pandas_udf and cfg.udfs == "python":
        t_env.create_temporary_function("zscore", zscore)
    _sources(t_env, cfg)
    if _joins_offsets(cfg):
        _device_offsets(t_env, cfg)
    _events(t_env, cfg, share=True)
    _sinks(t_env, cfg.out, cfg.live)
    return t_env


def _proc_cpu_seconds(pid: int) -> tuple[float, list[int]]:
    """CPU seconds of `pid` and of its children it has reaped, and its live children (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the name: state is field 3, utime/stime/cutime/cstime are fields 14-17 (clock ticks).
    ticks = sum(int(v) for v in fields[11:15])
    # Each thread lists the children it started (the JVM starts the Python workers from a worker thread); a
    # thread may end while it is read.
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return ticks / os.sysconf("SC_CLK_TCK"), kids


def tree_cpu_seconds() -> float | None:
    """CPU seconds used so far by this process and every process below it (the JVM, its Python workers).

    On a machine shared with other jobs a job's wall time mostly measures the other jobs; its CPU time (planning,
    code generation, JIT, GC, the records, the Python workers) is what the job itself costs. A reaped process
    counts in its parent's total, a live one is read itself. None where /proc is not there."""
    try:
        total, pending = _proc_cpu_seconds(os.getpid())
    except (OSError, ValueError):
        return None
    while pending:
        try:  # a child may end between the listing and the reading; its time then goes to its parent's
            seconds, kids = _proc_cpu_seconds(pending.pop())
        except (OSError, ValueError):
            continue
        total += seconds
        pending.extend(kids)
    return round(total, 2)


def run(cfg: SqlJobConfig) -> dict:
    t_env = build(cfg)
    statements = t_env.create_statement_set()
    if "windows" in cfg.parts:
        statements.add_insert_sql(f"INSERT INTO windows_sink {_windows_sql(cfg)}")
    if "anomalies" in cfg.parts:
        statements.add_insert_sql(
            f"INSERT INTO anomalies_sink {_anomalies_sql(cfg.live, patterns_on=cfg.patterns_on)}"
        )
    if "alarms" in cfg.parts:
        statements.add_insert_sql(f"INSERT INTO alarms_sink {_alarms_sql(cfg.live, cfg.patterns_on)}")
    if "dead_letters" in cfg.parts:
        statements.add_insert_sql(
            "INSERT INTO dead_letters_sink SELECT line, reason, file_name FROM dead_lines"
        )
    if "state" in cfg.parts:
        # The materialized view: one row per sensor, updated on every event (+U/-U in the changelog).
        statements.add_insert_sql(f"""
            INSERT INTO sensor_state_sink
            SELECT sensor_id, store_id, last_event_time, {_calibrated(cfg, "temp_c")}, door_open, events
            FROM (
                SELECT sensor_id, MAX(device_id) AS device_id, LAST_VALUE(store_id) AS store_id,
                       MAX(event_time) AS last_event_time, LAST_VALUE(temp_c) AS temp_c,
                       LAST_VALUE(door_open) AS door_open, COUNT(*) AS events
                FROM enriched GROUP BY sensor_id
            )
        """)
    if "latency" in cfg.parts:
        statements.add_insert_sql("""
            INSERT INTO latency_sink
            SELECT event_id, published_at, CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3)) FROM enriched
            WHERE MOD(event_id, 20) = 0
        """)
    started, cpu_started = time.perf_counter(), tree_cpu_seconds()
    result = statements.execute()
    submitted = time.perf_counter()
    job_id = str(result.get_job_client().get_job_id()) if result.get_job_client() else None
    # Always wait: in the local mini-cluster the job lives in this process's JVM, so returning would end an
    # unbounded (live) job a moment after it started. A live job runs until it is cancelled or killed.
    result.wait()
    cpu_ended = tree_cpu_seconds()
    return {
        "job_id": job_id,
        "seconds": round(time.perf_counter() - started, 2),
        # Planning and submission: the statement set optimised and the job graph handed to the cluster.
        "submit_seconds": round(submitted - started, 2),
        "cpu_seconds": None
        if cpu_started is None or cpu_ended is None
        else round(cpu_ended - cpu_started, 2),
    }


def parse_args(argv: list[str] | None = None) -> SqlJobConfig:
    parser = argparse.ArgumentParser(prog="streaming.sql_job", description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="generator output folder (events/, dim/)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (one subfolder per table)")
    parser.add_argument("--live", action="store_true", help="monitor the events folder (unbounded)")
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--checkpoint-dir", type=Path, help="default: <out>/_checkpoints")
    parser.add_argument(
        "--checkpoint-interval-ms",
        type=int,
        default=FlinkOptions.checkpoint_interval_ms,
        help="how often state is snapshotted and finished output files are committed (live: the output delay)",
    )
    parser.add_argument(
        "--restore-from",
        type=Path,
        help="a retained checkpoint (chk-N folder) to resume from, after a crash: the same flags and --out",
    )
    parser.add_argument("--no-scalar-udf", action="store_true", help="skip the calibration UDF (benchmark)")
    parser.add_argument(
        "--no-pandas-udf", action="store_true", help="skip the z-score pandas UDF (benchmark)"
    )
    parser.add_argument(
        "--calibrate-on",
        choices=CALIBRATE_ON,
        default="windows",
        help="apply the calibration UDF to window aggregates (default) or to every reading (benchmark)",
    )
    parser.add_argument(
        "--parse",
        choices=PARSERS,
        default="fast",
        help="fast: csv format + a raw dead-letter branch (default); sql: SPLIT_INDEX/TRY_CAST (benchmark)",
    )
    parser.add_argument(
        "--patterns-on",
        choices=PATTERNS_ON,
        default="minutes",
        help="door/flatline/silence rules over the 1-minute aggregates (default) or every reading (benchmark)",
    )
    parser.add_argument(
        "--udfs",
        choices=UDFS,
        default="python",
        help="calibration and z-score as Python UDFs (default) or as the same arithmetic in SQL (no Python worker)",
    )
    parser.add_argument(
        "--hop-from",
        choices=HOP_FROM,
        default="minutes",
        help="5-minute hop summed from the 1-minute tumble (default) or over every reading (benchmark)",
    )
    parser.add_argument(
        "--join-on",
        choices=JOIN_ON,
        default="readings",
        help="store of each reading as of its time (default, exact) or of each window row (fewer joins)",
    )
    parser.add_argument(
        "--dedup",
        choices=DEDUP,
        default="processing-time",
        help="drop repeated events: first copy, keys held for the state TTL (default), or first copy within its "
        "minute, keys dropped when the minute closes (needs --join-on minutes)",
    )
    parser.add_argument(
        "--no-object-reuse", action="store_true", help="copy records between chained operators (benchmark)"
    )
    parser.add_argument("--parts", default="windows,anomalies,alarms,dead_letters,state,latency")
    parser.add_argument(
        "--watermark-interval-ms",
        type=int,
        default=0,
        help="0 = a watermark per record (exact lateness, the default); >0 = periodic (faster, lags in replays)",
    )
    parser.add_argument(
        "--watermark-step-s",
        type=int,
        default=0,
        help="advance the watermark in steps of this many event-time seconds (a divisor of 60; 0 = per record)",
    )
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Flink configuration, repeatable (e.g. table.exec.mini-batch.enabled=true)",
    )
    args = parser.parse_args(argv)
    extra = (
        {"pipeline.auto-watermark-interval": f"{args.watermark_interval_ms} ms"}
        if args.watermark_interval_ms
        else {}
    )
    for item in args.conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--conf expects KEY=VALUE, got {item!r}")
        extra[key.strip()] = value.strip()
    return SqlJobConfig(
        events=args.input / "events",
        dim=args.input / "dim",
        calibration=args.input / "calibration.json",
        out=args.out,
        live=args.live,
        scalar_udf=not args.no_scalar_udf,
        calibrate_on=args.calibrate_on,
        pandas_udf=not args.no_pandas_udf,
        parts=tuple(p for p in args.parts.split(",") if p),
        watermark_step_s=args.watermark_step_s,
        parse=args.parse,
        object_reuse=not args.no_object_reuse,
        patterns_on=args.patterns_on,
        udfs=args.udfs,
        hop_from=args.hop_from,
        join_on=args.join_on,
        dedup=args.dedup,
        options=FlinkOptions(
            parallelism=args.parallelism,
            checkpoint_dir=args.checkpoint_dir or args.out / "_checkpoints",
            checkpoint_interval_ms=args.checkpoint_interval_ms,
            restore_from=args.restore_from,
            per_event_watermarks=args.watermark_interval_ms == 0,
            extra=extra,
        ),
    )


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    print(json.dumps(run(cfg)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
