"""Module 6 (in progress): performance tuning. One grocery report job written the slow way, each anti-pattern
behind its own switch (fixes.py), the job itself (report_job.py), the inputs it reads (inputs.py), and Spark's own
per-stage metrics from the event log (metrics.py). docs/tuning.md explains the pattern."""
