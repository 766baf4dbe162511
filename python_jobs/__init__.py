"""Python jobs that feed the grocery-delivery warehouse: generators, ingest, and engine jobs."""
