"""`make docs` gives a page a learner can open from disk: dbt's `--static` page, rendered by a real browser.

dbt's default `index.html` fetches manifest.json and catalog.json at run time, which a browser refuses over
file://, so that page stays blank. `dbt docs generate --static` inlines both into `static_index.html`. This
test builds the docs for a one-day warehouse, opens the static page in headless Chromium and checks that the
rendered page (not the JSON inlined in its scripts) lists a model.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from python_jobs.config import REPO_ROOT, Settings
from tests.conftest import run_module

pytestmark = pytest.mark.slow

SCRIPTS = re.compile(r"(?is)<script\b.*?</script>")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("GROCERY_REQUIRE_CHROMIUM") == "1":
        pytest.fail("GROCERY_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)")
    pytest.skip("no chromium on PATH (set GROCERY_REQUIRE_CHROMIUM=1 to fail instead)")


def rendered_text(browser: str, page: Path) -> str:
    """The DOM after the page's scripts ran, without the scripts themselves."""
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--virtual-time-budget=15000",  # let Angular render before the DOM is dumped
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return SCRIPTS.sub("", proc.stdout)


def test_static_docs_page_renders_the_models(settings: Settings) -> None:
    browser = chromium()
    data, warehouse = settings.data_dir, settings.warehouse_path
    run_module("python_jobs.generate", "day", "--day", "1", "--scale", "0.1", "--data-dir", str(data))
    run_module(
        "python_jobs.ingest", "day", "--day", "1", "--data-dir", str(data), "--warehouse", str(warehouse)
    )
    env = {
        "WAREHOUSE_PATH": str(warehouse),
        "DBT_TARGET_PATH": str(data / "dbt" / "target"),
        "DBT_LOG_PATH": str(data / "dbt" / "logs"),
        "DBT_PROFILES_DIR": str(REPO_ROOT / "profiles"),
    }
    run_module("python_jobs.dbt_step", "--day", "1", env=env)

    docs = data / "dbt" / "docs"
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [str(dbt), "docs", "generate", "--static", "--target-path", str(docs)],
        cwd=REPO_ROOT / "dbt_project",
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    page = docs / "static_index.html"
    assert page.exists()
    # The model names are only inside the inlined JSON until the page's scripts render the navigation.
    assert "fct_orders" not in SCRIPTS.sub("", page.read_text())

    dom = rendered_text(browser, page)
    assert 'title="fct_orders"' in dom, "the static docs page rendered no model list"
    assert 'title="dim_customers"' in dom
