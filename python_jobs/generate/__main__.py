from python_jobs.generate.cli import app

app(prog_name="python -m python_jobs.generate")
