"""The v3 signature against HubSpot's published vectors, and the rules around it."""

import pytest

from shared.hubspot.signature import (
    StaleRequest,
    canonical_uri,
    check_timestamp,
    signature_v3,
    signed_by,
)
from tests.triggers.conftest import provider_file, provider_json


def test_the_official_client_library_vector_signs_to_its_published_value() -> None:
    vector = provider_json("hubspot_signature_v3_example.json")["library_vector"]
    signature = signature_v3(
        vector["client_secret"],
        vector["http_method"],
        vector["http_uri"],
        vector["request_body"].encode(),
        vector["timestamp"],
    )
    assert signature == vector["expected_v3"]


def test_the_deal_batch_file_signs_to_the_value_computed_for_it() -> None:
    vector = provider_json("hubspot_signature_v3_example.json")["computed_here_v3"]
    body = provider_file(vector["request_body_file"])
    args = (vector["http_method"], vector["http_uri"], body, vector["X-HubSpot-Request-Timestamp"])
    expected = vector["expected_X-HubSpot-Signature-v3"]

    assert signed_by(vector["client_secret"], expected, *args)
    assert not signed_by("another-secret", expected, *args)
    assert not signed_by(
        vector["client_secret"],
        expected,
        "POST",
        vector["http_uri"],
        body + b" ",
        vector["X-HubSpot-Request-Timestamp"],
    )


def test_the_documented_escapes_are_decoded_before_signing_and_others_are_kept() -> None:
    uri = "https://x.example/hook?a=b%3Ac%2Fd%40e%2ae&f=%20%26"
    assert canonical_uri(uri) == "https://x.example/hook?a=b:c/d@e*e&f=%20%26"


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        ("1700000000000", True),
        ("1699999700000", True),
        ("1699999699999", False),
        ("1700000300001", False),
        ("soon", False),
    ],
)
def test_a_timestamp_more_than_five_minutes_from_now_is_refused(
    timestamp: str, accepted: bool
) -> None:
    now = 1_700_000_000_000
    if accepted:
        check_timestamp(timestamp, now)
    else:
        with pytest.raises(StaleRequest):
            check_timestamp(timestamp, now)
