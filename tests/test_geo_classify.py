"""The multi-year classifier's logic on hand-made scores: built-up never reverts, a cloudy year takes its class
from the clear years (later change on a tie), and its configuration is a typed object read from TOML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from python_jobs.geo.classify import ClassifierConfig, change_year_index


def test_change_year_follows_the_clear_years() -> None:
    # Columns: built from year 1; bare-then-green field (+,-,-); noisy built (+,-,+) -> built from 0;
    # cloudy year 0 then built (0,+,+) -> from year 1 (no evidence before); never built; cloudy last year.
    scores = np.array(
        [
            [-3.0, 2.0, 4.0, 0.0, -2.0, -1.0],
            [3.0, -4.0, -1.0, 3.0, -2.0, -2.0],
            [4.0, -4.0, 4.0, 3.0, -1.0, 0.0],
        ]
    )[:, None, :]
    k = change_year_index(scores)[0]
    assert k.tolist() == [1, 3, 0, 1, 3, 3]
    labels = np.stack([k <= j for j in range(3)])
    assert (np.diff(labels.astype(int), axis=0) >= 0).all()  # never reverts


def test_config_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[classifier]\nbias = -5.0\ncloud_red_min = 0.25\ntemporal = false\n")
    config = ClassifierConfig.from_toml(path)
    assert (config.bias, config.cloud_red_min, config.temporal) == (-5.0, 0.25, False)
    assert config.w_nir_red == ClassifierConfig().w_nir_red
    path.write_text("[classifier]\nndbi_threshold = 0.1\n")
    with pytest.raises(ValueError, match="unknown classifier keys"):
        ClassifierConfig.from_toml(path)
