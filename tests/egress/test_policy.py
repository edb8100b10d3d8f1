"""The egress policy: which resolved addresses a workflow may reach, and what opens others."""

import pytest

from shared.egress import LOOPBACK, EgressPolicy
from tests.conftest import make_settings

REFUSED = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "169.254.1.1",
    "224.0.0.1",
    "239.255.255.250",
    "0.0.0.0",
    "255.255.255.255",
    "::1",
    "::",
    "fd00::1",
    "fc00::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",
    "2002:7f00:1::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_private_and_special_addresses_are_refused_by_default(address: str) -> None:
    assert not EgressPolicy.parse("").allows(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert EgressPolicy.parse("").allows(address)


def test_the_allow_list_opens_networks_and_host_names_and_nothing_else() -> None:
    policy = EgressPolicy.parse(" 10.0.0.0/8 , 192.168.7.7, Mail.Internal. ")

    assert policy.allows("10.9.9.9")
    assert policy.allows("192.168.7.7")
    assert policy.allows("::ffff:10.0.0.1")
    assert not policy.allows("192.168.7.8")
    assert not policy.allows("127.0.0.1")
    assert policy.allows_host_name("mail.internal")
    assert not policy.allows_host_name("internal")


def test_loopback_is_what_dev_and_the_tests_open() -> None:
    policy = EgressPolicy.parse(LOOPBACK)
    assert policy.allows("127.0.0.1") and policy.allows("::1")
    assert not policy.allows("10.0.0.1")


def test_a_setting_that_is_neither_a_network_nor_a_name_stops_start_up() -> None:
    with pytest.raises(ValueError, match="neither a CIDR nor a host name"):
        make_settings(egress_allow="10.0.0.0/8, http://evil/")
