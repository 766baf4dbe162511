from python_jobs.postgres.cli import app

app()
