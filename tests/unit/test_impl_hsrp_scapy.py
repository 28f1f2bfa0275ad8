"""impl/hsrp against Scapy's independent HSRP dissector, both directions (STYLE "Tests").

Scapy is in the ``test`` extra, so these run in CI; they are not skipped.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

import pytest
from scapy.layers.hsrp import HSRP
from scapy.layers.inet import IP, UDP
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.hsrp import HsrpGroup, HsrpGroupConfig, HsrpPacket, HsrpState, OpCode, decode
from vpnha.impl.hsrp import encode as encode_packet

CASES = [
    HsrpPacket(
        op_code=OpCode.HELLO,
        state=HsrpState.ACTIVE,
        hello_time_s=3,
        hold_time_s=10,
        priority=110,
        group=1,
        authentication=b"cisco\x00\x00\x00",
        virtual_ip=IPv4Address("10.99.0.254"),
    ),
    HsrpPacket(
        op_code=OpCode.COUP,
        state=HsrpState.LISTEN,
        hello_time_s=1,
        hold_time_s=3,
        priority=255,
        group=255,
        authentication=b"secret12",
        virtual_ip=IPv4Address("40.0.0.1"),
    ),
    HsrpPacket(
        op_code=OpCode.RESIGN,
        state=HsrpState.ACTIVE,
        hello_time_s=255,
        hold_time_s=255,
        priority=0,
        group=0,
        authentication=bytes(8),
        virtual_ip=IPv4Address("172.16.31.1"),
    ),
    HsrpPacket(
        op_code=OpCode.HELLO,
        state=HsrpState.SPEAK,
        hello_time_s=0,
        hold_time_s=0,
        priority=100,
        group=2,
        authentication=b"cisco\x00\x00\x00",
        virtual_ip=None,
    ),
    *(
        HsrpPacket(
            op_code=OpCode.HELLO,
            state=state,
            hello_time_s=3,
            hold_time_s=10,
            priority=100,
            group=7,
            virtual_ip=IPv4Address("192.168.4.1"),
        )
        for state in HsrpState
    ),
]


def scapy_fields(layer: HSRP) -> dict[str, object]:
    return {
        "version": layer.version,
        "opcode": layer.opcode,
        "state": layer.state,
        "hellotime": layer.hellotime,
        "holdtime": layer.holdtime,
        "priority": layer.priority,
        "group": layer.group,
        "auth": layer.auth,
        "virtualIP": layer.virtualIP,
    }


def expected_fields(packet: HsrpPacket) -> dict[str, Any]:
    return {
        "version": 0,
        "opcode": packet.op_code.value,
        "state": packet.state.value,
        "hellotime": packet.hello_time_s,
        "holdtime": packet.hold_time_s,
        "priority": packet.priority,
        "group": packet.group,
        "auth": packet.authentication,
        "virtualIP": str(packet.virtual_ip or IPv4Address(0)),
    }


@pytest.mark.parametrize("packet", CASES, ids=lambda p: f"{p.op_code.name}-{p.state.name}")
def test_scapy_decodes_what_we_encode(packet: HsrpPacket) -> None:
    layer = HSRP(encode_packet(packet))
    assert type(layer) is HSRP
    assert scapy_fields(layer) == expected_fields(packet)
    assert not layer.payload


@pytest.mark.parametrize("packet", CASES, ids=lambda p: f"{p.op_code.name}-{p.state.name}")
def test_we_decode_what_scapy_builds(packet: HsrpPacket) -> None:
    fields = expected_fields(packet)
    built = bytes(HSRP(**{k: v for k, v in fields.items() if k != "version"}))
    assert len(built) == 20
    assert decode(built) == packet


def test_scapy_parses_a_whole_frame_sent_by_the_speaker() -> None:
    # A speaker's first Hello, wrapped by hand the way the live driver sends it.
    config = HsrpGroupConfig(
        group=1, address=IPv4Address("10.99.0.1"), virtual_ip=IPv4Address("10.99.0.254")
    )
    speaker = HsrpGroup(config, SeededEntropy(1))
    speaker.enable(1000)
    speaker.handle_timer(1000 + config.hold_ms)  # Listen -> Speak
    deadline = speaker.get_timer()
    while not (payloads := speaker.datagrams_to_send(0)):
        assert deadline is not None
        speaker.handle_timer(deadline)
        deadline = speaker.get_timer()
    frame = bytes(
        IP(src="10.99.0.1", dst="224.0.0.2", ttl=1) / UDP(sport=1985, dport=1985) / payloads[0]
    )
    parsed = IP(frame)
    assert parsed[HSRP].opcode == 0
    assert parsed[HSRP].state == 4
    assert parsed[HSRP].priority == 100
    assert parsed[HSRP].hellotime == 3
    assert parsed[HSRP].holdtime == 10
    assert parsed[HSRP].virtualIP == "10.99.0.254"
    assert parsed[HSRP].auth == b"cisco\x00\x00\x00"
