"""The pipeline's orchestration: steps declared as data, and what runs them.

- `definitions`: every step of a run, one entry each (command, reads, writes): the one place a module adds its
  steps;
- `steps`: the Step record and when two steps conflict;
- `runner`: runs a plan, side by side where the reads and writes allow;
- `build`: a run into a private warehouse, published in one rename;
- `lock`: one pipeline per data folder;
- `tools`: the interpreters, dbt, and the environment every step gets.

`python_jobs/pipeline.py` is the command line over these.
"""

from python_jobs.orchestration.build import build_warehouse, publish
from python_jobs.orchestration.definitions import PIPELINE, STEP_NAMES, day_steps, plan
from python_jobs.orchestration.lock import PipelineBusyError, pipeline_lock
from python_jobs.orchestration.runner import run_step, run_steps
from python_jobs.orchestration.steps import Step, StepResult
from python_jobs.orchestration.tools import dbt_command, dbt_day_env

__all__ = [
    "PIPELINE",
    "STEP_NAMES",
    "PipelineBusyError",
    "Step",
    "StepResult",
    "build_warehouse",
    "day_steps",
    "dbt_command",
    "dbt_day_env",
    "pipeline_lock",
    "plan",
    "publish",
    "run_step",
    "run_steps",
]
