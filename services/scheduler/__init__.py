"""The scheduler: time-driven duties (outbox relay, dead-worker sweep, due waits) on a loop."""
