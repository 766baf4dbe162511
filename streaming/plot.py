"""Lab figure: one sensor's temperature with its windows, late events and anomalies (true and detected).

Runs in the MAIN environment (matplotlib lives there, not beside PyFlink): the lab calls
`.venv/bin/python -m streaming.plot ...`. It reads only files, through stdlib helpers.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from streaming.evaluate import alerts_from_outputs, parse_ts, read_json_rows, read_lines, read_truth


def pick_sensor(input_dir: Path) -> str:
    """The sensor with the most kinds of injected anomaly: the most to see in one picture."""
    kinds = Counter(r["sensor_id"] for r in read_truth(input_dir, "anomalies.csv"))
    return kinds.most_common(1)[0][0] if kinds else "S01"


def plot(input_dir: Path, sql_out: Path, ds_out: Path, target: Path, sensor: str | None = None) -> Path:
    sensor = sensor or pick_sensor(input_dir)
    events = [r for r in read_truth(input_dir, "events.csv") if r["sensor_id"] == sensor]
    windows = [
        r
        for r in read_json_rows(sql_out / "windows")
        if r["sensor_id"] == sensor and r["window_kind"] == "tumble_1m"
    ]
    windows.sort(key=lambda r: r["window_start"])
    late = {int(line.split(",")[0]) for line in read_lines(ds_out / "late")}
    fig, ax = plt.subplots(figsize=(14, 5))
    ax.plot(
        [parse_ts(r["event_time"]) for r in events],
        [float(r["temperature"]) for r in events],
        lw=0.5,
        color="0.6",
        label="readings (true temperature)",
    )
    ax.step(
        [parse_ts(r["window_start"]) for r in windows],
        [r["temp_mean"] for r in windows],
        where="post",
        lw=1.0,
        color="tab:blue",
        label="1-min tumbling mean (calibrated)",
    )
    late_rows = [r for r in events if int(r["event_id"]) in late]
    ax.scatter(
        [parse_ts(r["event_time"]) for r in late_rows],
        [float(r["temperature"]) for r in late_rows],
        marker="x",
        color="tab:red",
        zorder=3,
        label=f"late events → side output ({len(late_rows)})",
    )
    for i, a in enumerate(r for r in read_truth(input_dir, "anomalies.csv") if r["sensor_id"] == sensor):
        ax.axvspan(
            parse_ts(a["start"]),
            parse_ts(a["end"]),
            color="tab:orange",
            alpha=0.2,
            label="injected anomaly (truth)" if i == 0 else None,
        )
        ax.text(parse_ts(a["start"]), ax.get_ylim()[1], a["kind"], va="top", fontsize=8)
    detected = [
        a for a in alerts_from_outputs(sql_out) + alerts_from_outputs(ds_out) if a.sensor_id == sensor
    ]
    for i, a in enumerate(detected):
        ax.axvline(
            a.detected_at,
            color="tab:purple",
            lw=0.8,
            ls="--",
            label="detected (CEP / timer)" if i == 0 else None,
        )
    ax.set_title(f"sensor {sensor}: temperature, windows, late events and anomalies")
    ax.set_ylabel("°C")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streaming.plot", description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--sql", type=Path, required=True)
    parser.add_argument("--ds", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="PNG path")
    parser.add_argument("--sensor")
    args = parser.parse_args(argv)
    print(plot(args.input, args.sql, args.ds, args.out, args.sensor))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
