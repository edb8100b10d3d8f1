"""The `docflow` HTTP client commands: workflows apply, run, executions, approvals."""
