"""Ray: task parallelism (remote functions), stateful workers (actors) and the runtime they share."""
