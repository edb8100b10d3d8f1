"""Claims that commit without waiting for their WAL to reach the disk (docs/decisions/031).

A commit normally waits until PostgreSQL has flushed its write-ahead log: about 0.8 ms at p50
and 3 ms at p90 on the 2-core development machine, on the resume path of every run. A claim
(queued or paused → running) does not need that wait, because nothing outside the database
learns of it before a later commit that does wait:

- the message the claim answers is acknowledged only when its handler returns, after the run
  paused, completed or was handed back — each a commit of its own, which flushes the log up to
  and including the claim;
- a node with side effects starts with a commit of its own (its started step) before it acts;
- the client that asked already heard back, after the gateway's own (flushed) commit.

So a claim lost in a database crash (PostgreSQL loses at most the asynchronous commits of the
last three `wal_writer_delay`s, 0.6 s by default) is a claim whose handler then fails on the
dead connection: its message goes back to the queue, and the next delivery claims again, from
the same durable facts. What others may see is the claim
before it is durable: `execution.resumed` in the event stream twice, or a run shown running
and then paused again after the crash — the event stream is at-least-once already.
"""

#: A condition for a statement's WHERE clause, always true: it makes the statement's own
#: transaction commit asynchronously (`SET LOCAL synchronous_commit = off`, as a function, so
#: a one-statement transaction needs no extra round trip). It must sit where the statement
#: always evaluates it — the rows every claim reads — not in a CTE nothing refers to.
COMMIT_WITHOUT_FLUSH = "set_config('synchronous_commit', 'off', true) IS NOT NULL"
