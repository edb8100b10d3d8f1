"""Configs of the e-mail nodes: `gmail` (an `smtp` connection) and `outlook` (a `microsoft`
connection, Graph `sendMail`). Every string may be a template over the context."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.nodes.base import NodeConfig, RetryPolicy

#: A node waits this long for the notifier's outcome before it fails the run (a day).
DEFAULT_TIMEOUT_SECONDS = 24 * 3600.0


class AttachmentChoice(BaseModel):
    """One of the execution's documents: by the node that made it, or by its id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The id of the node whose documents are attached (`contract`).
    node: str | None = Field(default=None, min_length=1)
    #: With `node`: its own output (`document`, e.g. the .docx), its PDF (`pdf`), or, for a
    #: `signature` node, the file the signers signed (`signed`).
    variant: Literal["document", "pdf", "signed"] = "document"
    #: A document id, or a template that renders to one (`{{ nodes.contract.document.id }}`).
    document: str | None = Field(default=None, min_length=1)
    #: The name the recipient sees; default: the document's name.
    filename: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_way(self) -> "AttachmentChoice":
        if (self.node is None) == (self.document is None):
            raise ValueError("give exactly one of 'node' or 'document'")
        return self


class EmailConfig(NodeConfig):
    #: The workspace connection the e-mail goes out through.
    connection: str = Field(min_length=1)
    #: Addresses, or templates rendering to an address, a comma-separated list or a list.
    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    subject: str = Field(min_length=1)
    text: str | None = None
    #: Values put into the HTML body are HTML-escaped (the template's own markup is not).
    html: str | None = None
    attachments: list[AttachmentChoice] = Field(default_factory=list)
    #: How long the node waits for the server to take the e-mail before it fails the run.
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=30 * 86_400)

    @model_validator(mode="after")
    def _a_body(self) -> "EmailConfig":
        if self.text is None and self.html is None:
            raise ValueError("give 'text', 'html' or both")
        return self


class GmailConfig(EmailConfig):
    """Through an `smtp` connection (Gmail: smtp.gmail.com, port 587, STARTTLS, app password)."""


class OutlookConfig(EmailConfig):
    """Through a `microsoft` connection: Graph `sendMail` as the connection's `user`."""


#: The notifier retries deliveries itself; a node-level retry would only repeat a refusal.
EMAIL_DEFAULT_RETRY = RetryPolicy(max_attempts=1)
