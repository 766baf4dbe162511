from python_jobs.batch.cli import app

app(prog_name="python -m python_jobs.batch")
