from python_jobs.ingest.cli import app

app(prog_name="python -m python_jobs.ingest")
