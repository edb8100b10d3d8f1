"""The `signature` node: send a document for e-signature and wait for the signers.

Creating the provider request is idempotent. The request row is opened under the node's
idempotency key before the provider is called, and each answer of the provider is recorded
in a transaction of its own at once, so a node re-run after a crash (even between creating
the request and the checkpoint) finds the request and never sends the document twice.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncConnection

from services.executor.nodes.base import Failed, NodeCall, NodeResult, NodeType, Wait
from services.executor.nodes.signature_decision import result_of, settle
from services.executor.nodes.signature_document import load_document
from shared.connections.crypto import Sealer
from shared.db.types import utcnow
from shared.errors import DocflowError
from shared.esign import store
from shared.esign.accounts import Account, connection_account, settings_account
from shared.esign.errors import DocumentUnavailable, ProviderError
from shared.esign.model import Journal, RequestSpec, RequestStatus, SignerSpec
from shared.esign.providers import Providers
from shared.esign.rule import required_signatures
from shared.esign.store import NewRequest, RequestRow
from shared.nodes.base import RetryPolicy
from shared.nodes.fields import duration_seconds
from shared.nodes.signature import SignatureConfig, SignerConfig
from shared.state_machine.waits import WaitRecord, WaitSpec


class SignatureNode(NodeType):
    type_name: ClassVar[str] = "signature"
    config_model = SignatureConfig
    side_effects = True
    # A provider's 5xx or a timeout is worth another try; the re-run resumes the request.
    default_retry = RetryPolicy(max_attempts=3, initial_interval_seconds=2.0)

    async def run(self, call: NodeCall) -> NodeResult:
        assert isinstance(call.config, SignatureConfig)
        config = call.config
        engine = call.services.engine
        if engine is None:
            return Failed("the signature node needs the database (NodeServices.engine)")
        try:
            signers = _signers(call, config)
            expires_at = _deadline(call, config)
        except ValueError as e:
            return Failed(str(e))
        required = required_signatures(config.rule, config.required, len(signers))
        if required > len(signers):
            return Failed(f"'required' is {required} but only {len(signers)} signers were given")
        account = await _account(call, config)
        if isinstance(account, Failed):
            return account
        request, _ = await store.open_request(
            engine,
            NewRequest(
                workspace_id=call.workspace_id,
                execution_id=call.execution_id,
                node_id=call.node_id,
                idempotency_key=call.idempotency_key,
                provider=account.provider,
                connection_id=account.connection_id,
                rule={"rule": config.rule, "required": required},
                title=_title(call, config),
                expires_at=expires_at,
                signers=signers,
            ),
        )
        if request.status == RequestStatus.CREATING:
            failed = await _create(call, config, request)
            if failed is not None:
                return failed
        return Wait(
            WaitSpec(
                kind="signature",
                id=request.wait_id,
                expires_at=request.expires_at,
                rule={
                    "request_id": str(request.id),
                    "provider": request.provider,
                    **request.rule,
                    "on_timeout": config.on_timeout,
                    "on_refusal": config.on_refusal,
                },
                # Signers may sign before this pause commits; their events are applied then.
                settle_on_open=True,
            ),
            output={
                "request_id": str(request.id),
                "provider": request.provider,
                "status": "pending",
            },
        )

    async def settle(
        self, conn: AsyncConnection, wait: WaitRecord, reason: str
    ) -> dict[str, Any] | None:
        return await settle(conn, wait, reason)

    def wait_status(self, decision: dict[str, Any]) -> str:
        # The deadline (ours or the provider's) ended the request: the wait expired, whether
        # the run then fails or goes on (`on_timeout`). Signed, refused, cancelled: decided.
        return "expired" if decision.get("outcome") == "expired" else "decided"

    async def resume(self, call: NodeCall, wait: WaitRecord) -> NodeResult:
        return result_of(call, wait.decision or {})


async def _create(call: NodeCall, config: SignatureConfig, request: RequestRow) -> Failed | None:
    """Set up the provider request, journalling each step; None when it is sent."""
    engine = call.services.engine
    assert engine is not None
    spec = RequestSpec(
        idempotency_key=call.idempotency_key,
        title=request.title,
        signers=tuple(
            SignerSpec(
                position=s.position,
                name=s.name,
                email=s.email,
                phone=s.phone,
                phone_country=s.phone_country or "55",
                auth=s.auth,
                group=s.signing_group,
            )
            for s in request.signers
        ),
        expires_at=request.expires_at,
        ordered=config.ordered,
        message=str(call.render(config.message)) if config.message else None,
        locale=config.locale,
        stop_on_refusal=config.rule == "all",
    )

    async def save(state: Any) -> None:
        await store.save_creation(engine, request.id, state)

    journal = Journal(request.creation_state(), save)
    providers = Providers(call.services.settings, call.services.http, engine)
    try:
        client = await providers.client_for(request)
        await client.create(spec, journal, lambda: load_document(call, config.document))
    except ProviderError as e:
        return Failed(f"{request.provider}: {e}", retryable=e.retryable)
    except DocumentUnavailable as e:
        return Failed(str(e))
    await store.save_creation(engine, request.id, journal.state, status=RequestStatus.PENDING)
    return None


async def _account(call: NodeCall, config: SignatureConfig) -> Account | Failed:
    """The account the request is made with: the named connection's, else the settings'."""
    if config.connection is None:
        assert config.provider is not None
        return settings_account(call.services.settings, config.provider)
    engine = call.services.engine
    assert engine is not None
    try:
        sealer = Sealer(call.services.settings.secret_key)
        async with engine.connect() as conn:
            found = await connection_account(
                conn, sealer, workspace_id=call.workspace_id, name=config.connection
            )
    except DocflowError as e:
        return Failed(f"connection {config.connection!r}: {e}")
    if found is None:
        return Failed(
            f"the workspace has no clicksign or zapsign connection named {config.connection!r}"
        )
    if config.provider is not None and config.provider != found.account.provider:
        return Failed(
            f"'provider' is {config.provider!r} but connection {config.connection!r} is a "
            f"{found.account.provider} connection"
        )
    return found.account


def _signers(call: NodeCall, config: SignatureConfig) -> tuple[SignerSpec, ...]:
    raw: Any = config.signers
    if isinstance(raw, str):
        raw = call.render(raw)
        if not isinstance(raw, list) or not raw:
            raise ValueError("'signers' must render to a non-empty list of signers")
    signers = []
    for position, item in enumerate(raw):
        entry = item if isinstance(item, SignerConfig) else _signer_config(item, position)
        rendered = call.render(entry.model_dump())
        checked = _signer_config(rendered, position)
        signers.append(
            SignerSpec(
                position=position,
                name=checked.name,
                email=checked.email,
                phone=checked.phone,
                phone_country=checked.phone_country,
                auth=checked.auth,
                group=position + 1 if config.ordered else None,
            )
        )
    return tuple(signers)


def _signer_config(value: Any, position: int) -> SignerConfig:
    try:
        signer = SignerConfig.model_validate(value)
    except Exception as e:
        raise ValueError(f"signers[{position}] is not a valid signer: {e}") from e
    if "{{" in signer.email or "{%" in signer.email:
        raise ValueError(f"signers[{position}].email did not render to an address")
    return signer


def _deadline(call: NodeCall, config: SignatureConfig) -> datetime | None:
    if config.expires_in is not None:
        return utcnow() + timedelta(seconds=duration_seconds(config.expires_in))
    if config.expires_at is None:
        return None
    rendered = call.render(config.expires_at)
    parsed = rendered if isinstance(rendered, datetime) else _iso(str(rendered))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as e:
        raise ValueError(f"'expires_at' is not an ISO-8601 time: {value!r}") from e


def _title(call: NodeCall, config: SignatureConfig) -> str:
    if config.title:
        return str(call.render(config.title))[:200]
    if config.document.filename:
        return str(call.render(config.document.filename))[:200]
    return f"Signature request {call.node_id}"
