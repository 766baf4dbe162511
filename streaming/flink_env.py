"""Build Flink environments the same way for every job: local mini-cluster by default, a remote cluster by config.

Settings that matter here and why:
- `python.executable` / `python.client.executable`: without them a DataStream job starts its Python worker from
  whatever `python` is on PATH (often not this environment, so `import pyflink` fails inside the worker).
- `table.local-time-zone = UTC`: the stream's timestamps are naive UTC; a machine time zone would shift windows.
- `pipeline.auto-watermark-interval = 0` on the SQL path: the SQL watermark assigner then emits a watermark per
  record instead of every 200 ms of wall clock; a fast replay reads thousands of events per 200 ms, so periodic
  watermarks would lag by hours of event time and no event would ever look late.
- `python.fn-execution.bundle.size/time`: Python operators see a watermark only after a whole bundle, so late
  routing is exact only to within one bundle; small bundles where late-event routing matters.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import EnvironmentSettings, StreamTableEnvironment, TableEnvironment


@dataclass
class FlinkOptions:
    parallelism: int = 1
    checkpoint_dir: Path | None = None
    checkpoint_interval_ms: int = 2000
    restore_from: Path | None = None
    restart_attempts: int = 0
    # Measured: with 1000-row bundles, a Python UDF between the watermark and a window held the watermark back
    # far enough that rows 10+ minutes late were still counted; 100 rows keeps late routing exact here.
    bundle_size: int = 100
    bundle_time_ms: int = 50
    per_event_watermarks: bool = True
    # Unaligned barriers overtake buffered records: under backpressure (the DataStream job's slow Python
    # operators) an aligned checkpoint waits behind every buffered event and completes only at the end.
    # Off by default: an in-process restart from an unaligned checkpoint stalled once here (docs/streaming.md).
    unaligned: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def to_config(self) -> dict[str, str]:
        conf = {
            "python.executable": sys.executable,
            "python.client.executable": sys.executable,
            "table.local-time-zone": "UTC",
            "parallelism.default": str(self.parallelism),
            "python.fn-execution.bundle.size": str(self.bundle_size),
            "python.fn-execution.bundle.time": str(self.bundle_time_ms),
            # Dedup and pattern state is per sensor/event: one hour of event time is plenty; bounded state.
            "table.exec.state.ttl": "1 h",
        }
        if self.per_event_watermarks:
            conf["pipeline.auto-watermark-interval"] = "0 ms"
        if self.checkpoint_dir is not None:
            conf.update(
                {
                    "execution.checkpointing.interval": f"{self.checkpoint_interval_ms} ms",
                    "execution.checkpointing.dir": self.checkpoint_dir.resolve().as_uri(),
                    "execution.checkpointing.mode": "EXACTLY_ONCE",
                    # Keep the last checkpoint when the job is cancelled or its process is killed: it is how a
                    # new process resumes (`restore_from`).
                    "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
                    "execution.checkpointing.num-retained": "2",
                    "execution.checkpointing.unaligned.enabled": str(self.unaligned).lower(),
                }
            )
        if self.restart_attempts > 0:
            conf.update(
                {
                    "restart-strategy.type": "fixed-delay",
                    "restart-strategy.fixed-delay.attempts": str(self.restart_attempts),
                    "restart-strategy.fixed-delay.delay": "200 ms",
                }
            )
        else:
            conf["restart-strategy.type"] = "none"
        if self.restore_from is not None:
            conf["execution.state-recovery.path"] = self.restore_from.resolve().as_uri()
        conf.update(self.extra)
        return conf


def table_env(options: FlinkOptions) -> TableEnvironment:
    config = Configuration()
    for key, value in options.to_config().items():
        config.set_string(key, value)
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build()
    return TableEnvironment.create(settings)


def stream_env(options: FlinkOptions) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    config = Configuration()
    for key, value in options.to_config().items():
        config.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(options.parallelism)
    t_env = StreamTableEnvironment.create(
        env, EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build()
    )
    return env, t_env


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest completed checkpoint (a chk-N folder with its _metadata) under `checkpoint_dir`."""
    done = [p.parent for p in checkpoint_dir.glob("*/chk-*/_metadata")]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)
