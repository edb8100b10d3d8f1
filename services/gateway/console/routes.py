"""The console's routes. They are pages for people, not API operations: registered from the
same `Operation` entries as every route, but left out of the OpenAPI document (ADR 022).

Every route but sign-in and the static files passes through guard.signed_in.
"""

from aiohttp.typedefs import Handler

from services.gateway.common.operations import Answer, Operation, html, path
from services.gateway.console import executions, inbox, signin, static_files, workflows
from services.gateway.console.guard import PREFIX, SIGN_IN, signed_in

EXECUTION = f"{PREFIX}/executions/{{execution_id}}"
CHANGE = f"{EXECUTION}/{{change:retry|cancel}}"
WORKFLOW = f"{PREFIX}/workflows/{{workflow_id}}"
GATE_ACTION = f"{PREFIX}/approvals/{{execution_id}}/{{node_id}}/{{action:extend|resend|reassign}}"

_PAGE = {200: html("The page"), 303: Answer("Not signed in: to the sign-in form")}
_POST = {
    303: Answer("Done: to the page that shows it"),
    401: html("Not signed in"),
    403: html("The form's CSRF value is missing or wrong"),
}


def operations() -> list[Operation]:
    def get(path_: str, handler: Handler, summary: str) -> Operation:
        return Operation("GET", path_, signed_in(handler), _id(path_, "GET"), summary, _PAGE)

    def post(path_: str, handler: Handler, summary: str) -> Operation:
        return Operation("POST", path_, signed_in(handler), _id(path_, "POST"), summary, _POST)

    return [
        Operation(
            "GET",
            f"{PREFIX}/static/{{name}}",
            static_files.serve,
            "consoleStatic",
            "The console's stylesheet and script",
            {200: Answer("The file")},
            parameters=[path("name", str)],
        ),
        Operation("GET", SIGN_IN, signin.form, "consoleSignInForm", "Sign-in form", _PAGE),
        Operation("POST", SIGN_IN, signin.submit, "consoleSignIn", "Sign in", _POST),
        post(f"{PREFIX}/sign-out", signin.leave, "Sign out"),
        get(PREFIX, executions.home, "To the executions"),
        get(f"{PREFIX}/executions", executions.list_page, "Executions"),
        get(f"{PREFIX}/executions-rows", executions.list_rows, "The list's rows, for live updates"),
        get(EXECUTION, executions.show, "An execution"),
        get(f"{EXECUTION}/live", executions.live, "The changing part of an execution's page"),
        get(CHANGE, executions.confirm, "Confirm a retry or cancel"),
        post(CHANGE, executions.change, "Retry or cancel"),
        get(f"{PREFIX}/documents/{{document_id}}", executions.download, "Download a document"),
        get(f"{PREFIX}/workflows", workflows.list_page, "Workflows"),
        get(WORKFLOW, workflows.show, "A workflow, its current version and the Run form"),
        get(f"{WORKFLOW}/versions/{{version:\\d+}}", workflows.show, "A version's definition"),
        get(f"{WORKFLOW}/diff", workflows.diff, "What changed between two versions"),
        post(f"{WORKFLOW}/run", workflows.run, "Run it with trigger data"),
        get(f"{PREFIX}/approvals", inbox.show, "Open approval gates"),
        post(GATE_ACTION, inbox.act, "Extend, resend or reassign a gate"),
    ]


def _id(path_: str, method: str) -> str:
    return "console" + method.title() + path_.replace("/", "_").replace("{", "").replace("}", "")
