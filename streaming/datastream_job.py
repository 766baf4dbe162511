"""The DataStream path: late events to a side output, keyed state + timers, exactly-once file output.

    raw lines → SQL (parse, drop bad lines, dedup on event_id; per-event watermarks) → to_data_stream
        ├─ [optional failure injection]  → clean events  (FileSink, rolled on checkpoint: exactly-once)
        ├─ key by sensor → 1-min event-time windows, allowed lateness 1 min
        │                    ├─ window stats     → windows_ds
        │                    └─ side output: late events (behind watermark + lateness) → late   (counted)
        └─ key by sensor → KeyedProcessFunction with event-time timers → "silent for N minutes" alerts

Every sink is a `FileSink` with the on-checkpoint rolling policy: a part file becomes visible (loses its leading
dot) only when the checkpoint that covers it completes, so after a crash only committed files count and a restore
from the last checkpoint neither loses nor repeats a row.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyflink.common import Encoder, Row, Time, Types
from pyflink.common.constants import MAX_LONG_VALUE
from pyflink.datastream import (
    KeyedProcessFunction,
    MapFunction,
    OutputTag,
    ProcessWindowFunction,
    RuntimeContext,
)
from pyflink.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)
from pyflink.datastream.state import ValueStateDescriptor
from pyflink.datastream.window import TumblingEventTimeWindows

from streaming.flink_env import FlinkOptions, stream_env
from streaming.sql_job import SqlJobConfig, _events, _sources

ALLOWED_LATENESS_MS = 60_000


@dataclass
class DsJobConfig:
    input: Path
    out: Path
    silent_minutes: int = 10
    fail_at_event: int | None = None
    fail_marker: Path | None = None
    throttle_ms: float = 0.0
    options: FlinkOptions = field(default_factory=FlinkOptions)


def _ms(value) -> int:
    """A TIMESTAMP(3) from the table side arrives as a naive datetime in UTC (table.local-time-zone)."""
    from datetime import UTC

    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


def _ts(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


class FailOnce(MapFunction):
    """Raise once, at a given event, the first time the job sees it: the restart strategy must recover."""

    def __init__(self, event_id: int | None, marker: Path | None, throttle_ms: float) -> None:
        self.event_id = event_id
        self.marker = str(marker) if marker else None
        self.throttle_s = throttle_ms / 1000

    def map(self, value: Row) -> tuple:
        if self.throttle_s:
            time.sleep(self.throttle_s)
        if self.event_id is not None and value[0] == self.event_id:
            marker = Path(self.marker)
            if not marker.exists():
                marker.write_text("failed once\n")
                raise RuntimeError(f"injected failure at event {self.event_id}")
        # Plain tuples from here on: a Row keeps the table's field names, which the typed coder rejects.
        return tuple(value)


class WindowStats(ProcessWindowFunction):
    def process(self, key: str, context: ProcessWindowFunction.Context, elements):
        temps = [e[3] for e in elements]
        window = context.window()
        yield (
            f"{key},{_ts(window.start)},{_ts(window.end)},{len(temps)},"
            f"{sum(temps) / len(temps):.4f},{min(temps):.2f},{max(temps):.2f}"
        )


class SilenceDetector(KeyedProcessFunction):
    """Per sensor: an event-time timer N minutes after its latest event; if it fires, the sensor went silent."""

    def __init__(self, silent_minutes: int) -> None:
        self.gap_ms = silent_minutes * 60_000

    def open(self, runtime_context: RuntimeContext) -> None:
        self.last = runtime_context.get_state(ValueStateDescriptor("last_event_ms", Types.LONG()))

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context):
        ts = ctx.timestamp()
        last = self.last.value()
        if last is not None and ts <= last:
            return  # an out-of-order event says nothing about silence after the latest one
        if last is not None:
            ctx.timer_service().delete_event_time_timer(last + self.gap_ms)
        self.last.update(ts)
        ctx.timer_service().register_event_time_timer(ts + self.gap_ms)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        # The final watermark of a bounded input fires every pending timer: that is end of data, not silence.
        if ctx.timer_service().current_watermark() >= MAX_LONG_VALUE:
            return
        yield f"{ctx.get_current_key()},{_ts(timestamp - self.gap_ms)},{_ts(timestamp)}"


def _event_type():
    return Types.TUPLE([Types.LONG(), Types.STRING(), Types.SQL_TIMESTAMP(), Types.DOUBLE(), Types.INT()])


def _file_sink(folder: Path) -> FileSink:
    return (
        FileSink.for_row_format(str(folder.resolve()), Encoder.simple_string_encoder())
        .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner())
        .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
        .with_output_file_config(OutputFileConfig.builder().with_part_suffix(".csv").build())
        .build()
    )


def build(cfg: DsJobConfig):
    env, t_env = stream_env(cfg.options)
    sql_cfg = SqlJobConfig(
        events=cfg.input / "events",
        dim=cfg.input / "dim",
        calibration=cfg.input / "calibration.json",
        out=cfg.out,
        scalar_udf=False,
    )
    _sources(t_env, sql_cfg)
    _events(t_env, sql_cfg)
    table = t_env.sql_query("SELECT event_id, sensor_id, event_time, temperature, door_open FROM good")
    events = t_env.to_data_stream(table).map(
        FailOnce(cfg.fail_at_event, cfg.fail_marker, cfg.throttle_ms),
        output_type=_event_type(),
    )
    events.map(
        lambda r: f"{r[0]},{r[1]},{r[2].strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]},{r[3]:.2f}",
        output_type=Types.STRING(),
    ).sink_to(_file_sink(cfg.out / "clean")).name("clean events")

    # A fresh type object for the tag: a Types.* instance already used elsewhere does not pickle.
    late_tag = OutputTag(
        "late-events",
        _event_type(),
    )
    windows = (
        events.key_by(lambda r: r[1], key_type=Types.STRING())
        .window(TumblingEventTimeWindows.of(Time.minutes(1)))
        .allowed_lateness(ALLOWED_LATENESS_MS)
        .side_output_late_data(late_tag)
        .process(WindowStats(), output_type=Types.STRING())
    )
    windows.sink_to(_file_sink(cfg.out / "windows_ds")).name("window stats")
    windows.get_side_output(late_tag).map(
        lambda r: f"{r[0]},{r[1]},{r[2].strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}", output_type=Types.STRING()
    ).sink_to(_file_sink(cfg.out / "late")).name("late events")

    events.key_by(lambda r: r[1], key_type=Types.STRING()).process(
        SilenceDetector(cfg.silent_minutes), output_type=Types.STRING()
    ).sink_to(_file_sink(cfg.out / "silent")).name("silence alerts")
    return env


def run(cfg: DsJobConfig) -> dict:
    env = build(cfg)
    started = time.perf_counter()
    result = env.execute("cold-chain datastream")
    return {"job_id": str(result.get_job_id()), "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.datastream_job", description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="generator output folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--checkpoint-dir", type=Path, help="default: <out>/_checkpoints")
    parser.add_argument("--checkpoint-interval-ms", type=int, default=1000)
    parser.add_argument(
        "--restore-from", type=Path, help="a retained checkpoint (chk-N folder) to resume from"
    )
    parser.add_argument("--restart-attempts", type=int, default=0)
    parser.add_argument("--fail-at-event", type=int, help="inject one failure at this event_id")
    parser.add_argument("--fail-marker", type=Path, help="file recording that the failure already happened")
    parser.add_argument("--throttle-ms", type=float, default=0.0, help="sleep per event (crash tests)")
    parser.add_argument("--silent-minutes", type=int, default=10)
    parser.add_argument("--bundle-size", type=int, default=50)
    parser.add_argument(
        "--unaligned",
        action="store_true",
        help="unaligned checkpoints (complete under backpressure; a restart from one hung here, see docs)",
    )
    args = parser.parse_args(argv)
    cfg = DsJobConfig(
        input=args.input,
        out=args.out,
        silent_minutes=args.silent_minutes,
        fail_at_event=args.fail_at_event,
        fail_marker=args.fail_marker or args.out / "_failed_once",
        throttle_ms=args.throttle_ms,
        options=FlinkOptions(
            parallelism=args.parallelism,
            checkpoint_dir=args.checkpoint_dir or args.out / "_checkpoints",
            checkpoint_interval_ms=args.checkpoint_interval_ms,
            restore_from=args.restore_from,
            restart_attempts=args.restart_attempts,
            bundle_size=args.bundle_size,
            bundle_time_ms=50,
            unaligned=args.unaligned,
        ),
    )
    print(json.dumps(run(cfg)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
