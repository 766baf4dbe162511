from python_jobs.tuning.cli import app

app(prog_name="python -m python_jobs.tuning")
