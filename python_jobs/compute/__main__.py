from python_jobs.compute.cli import app

app()
