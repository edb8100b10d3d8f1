"""Config of the `signature` node: what to sign, who signs, by which rule, until when."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.nodes.base import NodeConfig
from shared.nodes.fields import (
    address_or_template,
    check_deadline_and_count,
    optional_duration,
)
from shared.templating import is_template

MAX_SIGNERS = 50


class SignerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Each may be a template over the context (`{{ source.deal.contact.email }}`).
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=1, max_length=320)
    #: National number, digits only; needed for `sms` and `whatsapp`.
    phone: str | None = Field(default=None, max_length=40)
    #: Country calling code without `+` (ZapSign asks for it apart).
    phone_country: str = Field(default="55", pattern=r"^\d{1,4}$")
    #: How the signer proves who they are: a token by e-mail (default), SMS or WhatsApp, or
    #: nothing beyond the signing link.
    auth: Literal["email", "sms", "whatsapp", "none"] = "email"

    @field_validator("email")
    @classmethod
    def _looks_like_an_address(cls, email: str) -> str:
        return address_or_template(email)

    @model_validator(mode="after")
    def _phone_for_phone_auth(self) -> "SignerConfig":
        if self.auth in ("sms", "whatsapp") and not self.phone:
            raise ValueError(f"auth {self.auth!r} needs 'phone'")
        return self


class DocumentSource(BaseModel):
    """Exactly one of: `node` (the document an earlier node produced), `url`, or
    `content_base64` (the file itself)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Id of an earlier node whose generated document is signed (its last one).
    node: str | None = Field(default=None, min_length=1, max_length=200)
    #: An http(s) URL of the file, possibly templated.
    url: str | None = Field(default=None, min_length=1)
    content_base64: str | None = Field(default=None, min_length=1)
    #: Name the signers see; default the URL's or document's name, else `document.pdf`.
    filename: str | None = Field(default=None, min_length=1, max_length=300)
    #: Default `application/pdf`; a `.docx` name or type is sent as a Word file (ZapSign).
    content_type: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _exactly_one(self) -> "DocumentSource":
        given = [name for name in ("node", "url", "content_base64") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of 'node', 'url' or 'content_base64'")
        if (
            self.url
            and not is_template(self.url)
            and not self.url.startswith(("http://", "https://"))
        ):
            raise ValueError("'url' must be an http(s) URL")
        return self


class SignatureConfig(NodeConfig):
    """`signers` is a list, or one template rendering to a list of signer objects."""

    #: Which provider; follows from `connection` when one is named (and must agree with it).
    provider: Literal["clicksign", "zapsign"] | None = None
    #: A workspace connection of kind `clicksign` or `zapsign`: its account makes the request
    #: and every later call for it. Without one, the settings account is used.
    connection: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$"
    )
    document: DocumentSource
    #: The request's name at the provider (templated); default the document's file name.
    title: str | None = Field(default=None, min_length=1, max_length=200)
    #: Sent to the signers with the request (ClickSign notification).
    message: str | None = Field(default=None, max_length=5000)
    signers: list[SignerConfig] | str = Field(min_length=1)
    rule: Literal["all", "any", "quorum"] = "all"
    #: Signatures needed; only with `quorum`.
    required: int | None = Field(default=None, ge=1, le=MAX_SIGNERS)
    #: Seconds (`604800`) or a duration (`"7d"`); or give `expires_at`.
    expires_in: float | str | None = None
    #: An ISO-8601 time, possibly templated.
    expires_at: str | None = None
    #: What the deadline does: fail the execution, or continue with the outcome in the context.
    on_timeout: Literal["fail", "continue"] = "fail"
    #: What a refusal (or a request cancelled, or closed by hand, at the provider before the
    #: rule was met: outcome `closed`) does.
    on_refusal: Literal["fail", "continue"] = "fail"
    #: Signers sign one after another, in list order.
    ordered: bool = False
    #: The provider's language for the signers (`pt-BR`, `en-US`, …).
    locale: str = Field(default="pt-BR", min_length=2, max_length=10)

    @field_validator("signers")
    @classmethod
    def _bounded(cls, signers: list[SignerConfig] | str) -> list[SignerConfig] | str:
        if isinstance(signers, str):
            if not is_template(signers):
                raise ValueError("must be a list of signers, or a template rendering to one")
            return signers
        if len(signers) > MAX_SIGNERS:
            raise ValueError(f"at most {MAX_SIGNERS} signers")
        return signers

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        return optional_duration(value)

    @model_validator(mode="after")
    def _consistent(self) -> "SignatureConfig":
        if self.provider is None and self.connection is None:
            raise ValueError("give 'provider', or a 'connection' of kind clicksign or zapsign")
        check_deadline_and_count(
            expires_in=self.expires_in,
            expires_at=self.expires_at,
            rule_field="rule",
            rule=self.rule,
            required=self.required,
            people=self.signers,
            noun="signers",
        )
        return self
