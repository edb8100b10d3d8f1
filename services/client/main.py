"""Wiring the client sub-commands into `docflow`'s argument parser, and running them."""

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from services.client import commands
from services.client.api import Api, ApiError
from services.client.settings import ClientSettings
from services.client.watch import Print

#: Top-level `docflow` sub-commands that talk HTTP to a gateway.
CLIENT_COMMANDS = frozenset({"workflows", "run", "executions", "approvals"})


def add_client_commands(commands_parser: "argparse._SubParsersAction[Any]") -> None:
    help_env = " (gateway: DOCFLOW_URL, key: DOCFLOW_API_KEY)"
    workflows = commands_parser.add_parser("workflows", help="manage workflows" + help_env)
    workflow_commands = workflows.add_subparsers(dest="workflows_command", required=True)
    apply = workflow_commands.add_parser("apply", help="create or update a workflow from a file")
    apply.add_argument("file", help="YAML or JSON workflow definition")
    workflow_commands.add_parser("list", help="the workspace's workflows and their versions")

    run = commands_parser.add_parser("run", help="start a workflow" + help_env)
    run.add_argument("workflow", help="workflow id or name")
    run.add_argument("--data", help="YAML or JSON file with the run's trigger_data")
    run.add_argument("--watch", action="store_true", help="follow the run until it ends")

    executions = commands_parser.add_parser("executions", help="read executions" + help_env)
    execution_commands = executions.add_subparsers(dest="executions_command", required=True)
    listing = execution_commands.add_parser("list", help="newest first")
    listing.add_argument("--status", help="only this status")
    listing.add_argument("--workflow", help="only this workflow (id or name)")
    listing.add_argument("--limit", type=int, default=20)
    show = execution_commands.add_parser("show", help="an execution with its steps")
    show.add_argument("execution_id")
    deliver = execution_commands.add_parser(
        "event", help="deliver a named event to the execution's `event` node"
    )
    deliver.add_argument("execution_id")
    deliver.add_argument("name", help="the event's name (the node's config `name`)")
    deliver.add_argument("--data", help="JSON or YAML file with the payload")
    deliver.add_argument("--key", help="Idempotency-Key: a repeat with it is answered as the first")

    approvals = commands_parser.add_parser("approvals", help="approval gates" + help_env)
    approval_commands = approvals.add_subparsers(dest="approvals_command", required=True)
    approval_commands.add_parser("list", help="pending approvals: who is awaited, since when")


def run_client_command(args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    try:
        return asyncio.run(_with_api(lambda api: _dispatch(api, args, say)))
    except ApiError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): nothing left to say to it. Point stdout at
        # /dev/null so the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE


async def _with_api(work: Callable[[Api], Awaitable[int]]) -> int:
    async with aiohttp.ClientSession() as session:
        return await work(Api(ClientSettings(), session))


def _dispatch(api: Api, args: argparse.Namespace, say: Print) -> Awaitable[int]:
    if args.command == "workflows" and args.workflows_command == "list":
        return commands.list_workflows(api, say)
    if args.command == "workflows":
        return commands.apply_workflow(api, args.file, say)
    if args.command == "run":
        return commands.run_workflow(api, args.workflow, args.data, args.watch, say)
    if args.command == "executions" and args.executions_command == "list":
        return commands.list_executions(api, args.status, args.workflow, args.limit, say)
    if args.command == "executions" and args.executions_command == "event":
        return commands.send_event(api, args.execution_id, args.name, args.data, args.key, say)
    if args.command == "executions":
        return commands.show_execution(api, args.execution_id, say)
    return commands.list_approvals(api, say)
