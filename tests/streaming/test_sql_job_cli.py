"""The SQL job's command line turns into the configuration the job runs with (no Flink job started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming.sql_job import parse_args


def test_conf_options_reach_the_flink_configuration(tmp_path: Path) -> None:
    paths = ["--input", str(tmp_path), "--out", str(tmp_path / "out")]
    knobs = ["--conf", "pipeline.object-reuse=true", "--conf", "python.fn-execution.bundle.size = 5000"]
    cfg = parse_args([*paths, *knobs, "--watermark-interval-ms", "200"])
    conf = cfg.options.to_config()
    assert conf["pipeline.object-reuse"] == "true"
    # --conf wins over the job's own defaults: that is what makes it a knob to measure.
    assert conf["python.fn-execution.bundle.size"] == "5000"
    assert conf["pipeline.auto-watermark-interval"] == "200 ms"


def test_a_conf_without_a_value_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_args(["--input", str(tmp_path), "--out", str(tmp_path), "--conf", "pipeline.object-reuse"])
    assert stopped.value.code == 2
    assert "KEY=VALUE" in capsys.readouterr().err
