from python_jobs.geo.cli import app

app(prog_name="python -m python_jobs.geo")
