from python_jobs.parity.cli import app

app()
