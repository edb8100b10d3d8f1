"""The notifier: delivers `SendEmail` messages once per idempotency key and records each try."""
