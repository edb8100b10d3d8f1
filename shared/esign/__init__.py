"""E-signature providers (ClickSign, ZapSign): HTTP clients, webhook reading, stored requests.

Used by the executor (create requests, apply events), the gateway (verify and record webhooks)
and the scheduler (reconcile requests whose webhooks were lost).
"""
