"""The egress session: the policy holds on the address a connection really uses, for every
spelling of it and on every redirect; redirects are bounded; failures tell nothing more."""

import aiohttp
import pytest

from services.dev import with_loopback_egress
from shared.egress import (
    MAX_REDIRECTS,
    EgressRefused,
    TooManyRedirects,
    egress_session,
    failure_reason,
)
from shared.egress.policy import EgressPolicy
from shared.egress.sockets import open_checked_socket
from tests.conftest import make_settings
from tests.egress.servers import recording_app, redirecting_app, serving

REFUSED_MESSAGE = r"refused by policy \(DOCFLOW_EGRESS_ALLOW\)"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]",
     "localhost"],
)  # fmt: skip
async def test_every_spelling_of_loopback_is_refused_before_a_byte_is_sent(host: str) -> None:
    hits: list[str] = []
    async with (
        serving(recording_app(hits)) as port,
        egress_session(make_settings(egress_allow="")) as http,
    ):
        with pytest.raises(EgressRefused, match=REFUSED_MESSAGE) as refused:
            async with http.get(f"http://{host}:{port}/internal"):
                pass

    assert refused.value.address in {"127.0.0.1", "::ffff:7f00:1"}
    assert hits == []


async def test_a_redirect_from_an_allowed_server_to_a_refused_address_is_not_followed() -> None:
    secret_hits: list[str] = []
    redirector_hits: list[str] = []
    # 127.0.0.1 stands in for an allowed external host; 127.0.0.2 for the internal one.
    settings = make_settings(egress_allow="127.0.0.1/32")
    async with (
        serving(recording_app(secret_hits), host="127.0.0.2") as secret_port,
        serving(redirecting_app(redirector_hits, f"http://127.0.0.2:{secret_port}/admin")) as port,
        egress_session(settings) as http,
    ):
        with pytest.raises(EgressRefused, match=f"egress to 127.0.0.2 {REFUSED_MESSAGE}"):
            async with http.get(f"http://127.0.0.1:{port}/go"):
                pass

    assert redirector_hits == ["/go"]
    assert secret_hits == []


async def test_redirects_are_followed_five_times_at_most() -> None:
    final_hits: list[str] = []
    hop_hits: list[str] = []
    async with (
        serving(recording_app(final_hits, b"done")) as final_port,
        serving(redirecting_app(hop_hits, f"http://127.0.0.1:{final_port}/end")) as port,
        egress_session(make_settings()) as http,
    ):
        # /hop/4 → 3 → 2 → 1 → 0 → /end: five redirects, answered.
        async with http.get(f"http://127.0.0.1:{port}/hop/{MAX_REDIRECTS - 1}") as response:
            assert await response.read() == b"done"
        # One more is refused, and the last target is never asked.
        with pytest.raises(TooManyRedirects):
            async with http.get(f"http://127.0.0.1:{port}/hop/{MAX_REDIRECTS}"):
                pass

    assert final_hits == ["/end"]


async def test_a_failed_connection_does_not_say_whether_the_port_is_closed() -> None:
    async with egress_session(make_settings()) as http:
        with pytest.raises(aiohttp.ClientConnectorError) as failed:
            async with http.get("http://127.0.0.1:1/"):
                pass

    reason = failure_reason(failed.value)
    assert reason == "the connection to 127.0.0.1:1 failed"
    assert "refused" not in reason.lower()


async def test_an_smtp_server_is_checked_like_an_http_one() -> None:
    with pytest.raises(EgressRefused, match=r"egress to 127\.0\.0\.1 "):
        await open_checked_socket(EgressPolicy.parse(""), "localhost", 25, timeout_seconds=5)


def test_docflow_dev_opens_loopback_and_keeps_what_was_allowed() -> None:
    settings = with_loopback_egress(make_settings(egress_allow="10.0.0.0/8"))
    policy = EgressPolicy.parse(settings.egress_allow)
    assert policy.allows("127.0.0.1") and policy.allows("::1") and policy.allows("10.1.1.1")


async def test_a_document_url_at_the_metadata_address_fails_without_a_retry() -> None:
    from shared.esign.errors import ProviderError
    from shared.esign.http import download

    async with egress_session(make_settings(egress_allow="")) as http:
        with pytest.raises(ProviderError) as failed:
            await download(
                http, "http://169.254.169.254/latest/meta-data/", timeout_seconds=5, max_bytes=10
            )

    assert "egress to 169.254.169.254 refused by policy" in str(failed.value)
    assert failed.value.retryable is False
