"""The execution state machine: every way an execution's status (or its lease) can change.

The table of allowed (from, to) pairs is `shared/status.py`; `moves.py` declares each move's
sources and targets against it. Every move is one function here, guarded in its WHERE clause
by `status IN (its sources)` and by the `version` its caller read (or, for the lease moves,
held), and logs itself in `execution_transitions` the one way `transitions.py` spells.

    move        from → to                         also guarded by             module
    CLAIM       queued → running                  status alone (claim_pg.py)  claim(_pg)
    RECLAIM     running → running                 version; lease expired      claim
    RETRY       failed → running                  version                     claim
    RESUME      paused → running                  version; wait open, run     resume,
                                                  paused at the wait's node   event_resume_pg
    CHECKPOINT  running → running, paused,        version                     checkpoint(_pg)
                completed, failed
    HEARTBEAT   running (lease extended)          version; lease owner        lease
    RELEASE     running → running (lease ended)   version; lease owner        lease
    FENCE       running → running (lease ended)   version; lease expired      lease
    CANCEL      queued, running, paused →         version                     end
                cancelled
    GIVE UP     queued, running, paused → failed  version; no other holder    end

Who calls them: the executor, every move but FENCE, which the scheduler's lease sweep makes
(ADR 021); the gateway only creates executions (`queued`) and asks for the rest by message.
Where a move has a PostgreSQL fast path (one statement, batched with other runs' moves), it
sits beside the portable statements SQLite uses, as `<move>_pg.py` or in the same module.
"""
