"""impl/show: every show command against the product document's sample output.

Each renderer is fed views holding the document's sample values and its text is
compared with the sample: exactly (only whitespace at line ends and blank lines at
the ends of the text are normalised) against the sample as the document prints it,
or, where the document is inconsistent with itself, against a clean form whose every
correction is listed next to it; the raw sample is then still compared word for word
(runs of spaces collapsed, page-break artefacts dropped).
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vpnha.impl import show
from vpnha.impl.config import RouterConfig, parse_config
from vpnha.impl.show import (
    IkeSaView,
    IpsecCounters,
    IpsecFlowView,
    IpsecHaRow,
    IpsecInterfaceView,
    IpsecSaView,
    IsakmpHaRow,
    IsakmpSspRow,
    ProxyIdent,
    ShowSyntaxError,
    SspPacketView,
    SspPeerRow,
    SspRedundancyRow,
    SspRedundancyView,
    StandbyBriefRow,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def ip(text: str) -> IPv4Address:
    return IPv4Address(text)


def lines(text: str) -> list[str]:
    """Text as lines, trailing whitespace and leading/trailing blank lines removed."""
    found = [line.rstrip() for line in text.splitlines()]
    while found and not found[0]:
        found.pop(0)
    while found and not found[-1]:
        found.pop()
    return found


PAGE_ARTEFACTS = {"```", "show crypto ipsec sa"}
"""Lines the document's page breaks leave inside samples (fences, running header)."""


def words(text: str) -> list[str]:
    """Non-blank lines with runs of whitespace collapsed; page-break artefacts dropped."""
    collapsed = (" ".join(line.split()) for line in text.splitlines())
    return [line for line in collapsed if line and line not in PAGE_ARTEFACTS]


# Instants of the document's samples, as UTC (the document prints EDT; we print UTC).
OCT_1_2002_13_00_16 = 1_033_477_216_000
OCT_1_2002_13_03_21 = 1_033_477_401_000
OCT_1_2002_01_01_06 = 1_033_434_066_000


# -- show standby brief -------------------------------------------------------------------

# The document ("Troubleshooting Tips", steps 1 and 3), verbatim.
DOC_STANDBY_BRIEF_ACTIVE = """
Interface group priority p state active address standby address group address
FA 0/0      1      100   Active local      172.16.31.6  172.16.31.100
FA 0/1      2      100   Active local      40.0.0.6    40.0.0.0.100
"""
DOC_STANDBY_BRIEF_STANDBY = """
interface group priority p state active address standby address group address
FA 0/0      1      100   Standby 172.16.31.6 local      172.16.31.100
FA 0/1      2      100   Active local      40.0.0.6    40.0.0.100
"""
# Clean forms. Corrections: "40.0.0.0.100" is a typo for 40.0.0.100; the second
# sample's heading says "interface"; the document's own rows put the group address
# at column 56 or 55 depending on the row, so ours put the standby address and the
# group address in fixed 10-wide columns (the third row is then exactly the
# document's). The p column is blank in the document although Example 1 configures
# preempt, so these views say preempt=False (with preempt a P is shown).
CLEAN_STANDBY_BRIEF_ACTIVE = """
Interface group priority p state active address standby address group address
FA 0/0      1      100   Active local      172.16.31.6 172.16.31.100
FA 0/1      2      100   Active local      40.0.0.6   40.0.0.100
"""
CLEAN_STANDBY_BRIEF_STANDBY = """
Interface group priority p state active address standby address group address
FA 0/0      1      100   Standby 172.16.31.6 local      172.16.31.100
FA 0/1      2      100   Active local      40.0.0.6   40.0.0.100
"""
BRIEF_OUTSIDE_ACTIVE = StandbyBriefRow(
    interface="FastEthernet0/1",
    group=2,
    priority=100,
    state="Active",
    standby_router=ip("40.0.0.6"),
    virtual_ip=ip("40.0.0.100"),
)
BRIEF_ACTIVE = (
    StandbyBriefRow(
        interface="FastEthernet0/0",
        group=1,
        priority=100,
        state="Active",
        standby_router=ip("172.16.31.6"),
        virtual_ip=ip("172.16.31.100"),
    ),
    BRIEF_OUTSIDE_ACTIVE,
)
BRIEF_STANDBY = (
    StandbyBriefRow(
        interface="FastEthernet0/0",
        group=1,
        priority=100,
        state="Standby",
        active_router=ip("172.16.31.6"),
        virtual_ip=ip("172.16.31.100"),
    ),
    BRIEF_OUTSIDE_ACTIVE,
)


@pytest.mark.parametrize(
    ("rows", "doc", "clean"),
    [
        (BRIEF_ACTIVE, DOC_STANDBY_BRIEF_ACTIVE, CLEAN_STANDBY_BRIEF_ACTIVE),
        (BRIEF_STANDBY, DOC_STANDBY_BRIEF_STANDBY, CLEAN_STANDBY_BRIEF_STANDBY),
    ],
    ids=["both-active", "inside-standby"],
)
def test_standby_brief_matches_the_document(
    rows: tuple[StandbyBriefRow, ...], doc: str, clean: str
) -> None:
    text = show.show_standby_brief(rows)
    assert lines(text) == lines(clean)
    fixed = doc.replace("40.0.0.0.100", "40.0.0.100").replace("interface group", "Interface group")
    assert words(text) == words(fixed)
    if rows is BRIEF_STANDBY:
        # The document's own rows disagree on the columns; this one we match exactly.
        assert lines(text)[1] == lines(doc)[1]


def test_standby_brief_shows_preempt_unknown_peers_and_other_states() -> None:
    rows = [
        StandbyBriefRow(
            interface="GigabitEthernet0/2", group=7, priority=90, preempt=True, state="Speak"
        ),
        StandbyBriefRow(interface="Ethernet0", group=0, priority=255, state="Init"),
    ]
    assert lines(show.show_standby_brief(rows))[1:] == [
        "GI 0/2      7      90  P Speak unknown    unknown    unknown",
        "ET 0        0      255   Init unknown    unknown    unknown",
    ]


# -- show ssp -----------------------------------------------------------------------------

# "Displaying SSP Information", verbatim but for "IPSec HA Manager": the command
# reference's sample, the product's DESIGN and the brief say "IPsec HA Manager".
DOC_SSP_CLIENT = """
SSP Client Information
  DOI      Client Name                Version  Running Ver
  1        IPsec HA Manager           1.0      1.0
  2        IKE HA Manager             1.0      1.0
"""
# The command reference's copy: columns two to the left and a separator line cut
# short by the page ("---    -"); compared word for word without that line.
DOC_SSP_CLIENT_REFERENCE = """
SSP Client Information
  DOI    Client Name                Version  Running Ver
  1      IPsec HA Manager           1.0     1.0
  2      IKE HA Manager             1.0     1.0
"""
DOC_SSP_PACKET = """
SSP packet Information
Socket creation time: 01:01:06
Local port: 3249      Server port: 3249
Packets Sent = 38559, Bytes Sent = 2285020
Packets Received = 910, Bytes Received = 61472
"""
DOC_SSP_PEERS = """
SSP Peer Information
IP Address      Connection State  Local Interface
40.0.0.1        Connected        FastEthernet0/1
"""
DOC_SSP_REDUNDANCY = """
SSP Redundancy Information
Device has been ACTIVE for 02:55:34
Virtual IP      Redundancy Name      Interface
172.16.31.100   KNIGHTSOFNI           FastEthernet0/0
"""
SSP_PACKET = SspPacketView(
    socket_created_epoch_ms=OCT_1_2002_01_01_06 + 999,
    local_port=3249,
    server_port=3249,
    packets_sent=38559,
    bytes_sent=2285020,
    packets_received=910,
    bytes_received=61472,
)
SSP_PEERS = (
    SspPeerRow(address=ip("40.0.0.1"), state="Connected", local_interface="FastEthernet0/1"),
)
SSP_REDUNDANCY = SspRedundancyView(
    role="ACTIVE",
    role_duration_ms=((2 * 60 + 55) * 60 + 34) * 1000 + 999,
    groups=(
        SspRedundancyRow(
            virtual_ip=ip("172.16.31.100"), name="KNIGHTSOFNI", interface="FastEthernet0/0"
        ),
    ),
)


def test_ssp_client_matches_the_document() -> None:
    text = show.show_ssp_client()
    assert lines(text) == lines(DOC_SSP_CLIENT)
    assert words(text) == words(DOC_SSP_CLIENT_REFERENCE)


def test_ssp_packet_matches_the_document() -> None:
    assert lines(show.show_ssp_packet(SSP_PACKET)) == lines(DOC_SSP_PACKET)


def test_ssp_packet_without_socket_and_with_drops() -> None:
    view = replace(
        SSP_PACKET,
        socket_created_epoch_ms=None,
        local_port=51000,
        drops=(("authentication failed", 2), ("bad version", 1)),
    )
    assert lines(show.show_ssp_packet(view)) == [
        "SSP packet Information",
        "Socket creation time: never",
        "Local port: 51000     Server port: 3249",
        "Packets Sent = 38559, Bytes Sent = 2285020",
        "Packets Received = 910, Bytes Received = 61472",
        "Packets Dropped = 3",
        "  authentication failed = 2",
        "  bad version = 1",
    ]


def test_ssp_peers_matches_the_document() -> None:
    assert lines(show.show_ssp_peers(SSP_PEERS)) == lines(DOC_SSP_PEERS)


def test_ssp_redundancy_matches_the_document() -> None:
    assert lines(show.show_ssp_redundancy(SSP_REDUNDANCY)) == lines(DOC_SSP_REDUNDANCY)


def test_show_ssp_without_keyword_shows_all_four() -> None:
    text = show.show_ssp(SSP_PACKET, SSP_PEERS, SSP_REDUNDANCY)
    assert words(text) == (
        words(DOC_SSP_CLIENT)
        + words(DOC_SSP_PACKET)
        + words(DOC_SSP_PEERS)
        + words(DOC_SSP_REDUNDANCY)
    )


# -- show crypto ipsec ha / isakmp ha / isakmp ssp / isakmp sa ----------------------------

# "Verifying IPSec High Availability", step 2, with EDT printed as UTC (we print UTC).
DOC_IPSEC_HA = """
Interface      VIP          SAs    IPsec HA State
FastEthernet0/0 172.16.31.100 1800   Active since 13:00:16 UTC Tue Oct 1 2002
"""
# The command reference's copy says "IPSec HA State" with one more space after VIP.
DOC_IPSEC_HA_REFERENCE = """
Interface      VIP           SAs    IPsec HA State
FastEthernet0/0 172.16.31.100 1800   Active since 13:00:16 UTC Tue Oct 1 2002
"""
IPSEC_HA = (
    IpsecHaRow(
        interface="FastEthernet0/0",
        virtual_ip=ip("172.16.31.100"),
        sa_count=1800,
        state="Active",
        since_epoch_ms=OCT_1_2002_13_00_16,
    ),
)

# "show crypto isakmp ha": EDT printed as UTC, and the stray "dst" glued to the date
# by the document's layout removed.
DOC_ISAKMP_HA = """
VIP          SAs      Stamp      HA State
172.16.31.100 902      72C28872   Active since 13:03:21 UTC Tue Oct 1 2002
"""
ISAKMP_HA = (
    IsakmpHaRow(
        virtual_ip=ip("172.16.31.100"),
        sa_count=902,
        stamp=0x72C28872,
        state="Active",
        since_epoch_ms=OCT_1_2002_13_03_21,
    ),
)

# "show crypto isakmp ha standby" (command reference), verbatim. The responder
# cookie's second half sits on a line of its own, as printed. (The "Verifying IPSec
# High Availability" copy is a converted table that glued those halves to the dst
# column and lost the last one; it is not compared.)
DOC_ISAKMP_HA_STANDBY = """
dst          src          state      I-Cookie      R-Cookie
172.16.31.100 20.3.113.1    QM_IDLE    796885F3 62C3295E    FFAFBACD
EED41AFF

172.16.31.100 20.2.148.1    QM_IDLE    5B78D70F 3D80ED01    FFA03C6D
09FC50BE

172.16.31.100 20.4.124.1    QM_IDLE    B077D0A1 0C8EB3A0    FF5B152C
D233A1E0

172.16.31.100 20.3.88.1     QM_IDLE    55A9F85E 48CC14DE    FF20F9AE
DE37B913

172.16.31.100 20.1.95.1     QM_IDLE    3881DE75 3CF384AE    FF192CAB
795019AB
"""
STANDBY_IKE_SAS = tuple(
    IkeSaView(
        dst=ip("172.16.31.100"),
        src=ip(src),
        state="QM_IDLE",
        i_cookie=bytes.fromhex(i_cookie),
        r_cookie=bytes.fromhex(r_cookie),
        conn_id=conn_id,
        status="STDBY",
    )
    for conn_id, (src, i_cookie, r_cookie) in enumerate(
        [
            ("20.3.113.1", "796885F362C3295E", "FFAFBACDEED41AFF"),
            ("20.2.148.1", "5B78D70F3D80ED01", "FFA03C6D09FC50BE"),
            ("20.4.124.1", "B077D0A10C8EB3A0", "FF5B152CD233A1E0"),
            ("20.3.88.1", "55A9F85E48CC14DE", "FF20F9AEDE37B913"),
            ("20.1.95.1", "3881DE753CF384AE", "FF192CAB795019AB"),
        ],
        start=1,
    )
)
ACTIVE_IKE_SA = IkeSaView(
    dst=ip("40.0.0.1"),
    src=ip("192.168.3.1"),
    state="QM_IDLE",
    i_cookie=bytes.fromhex("0102030405060708"),
    r_cookie=bytes.fromhex("A1A2A3A4B1B2B3B4"),
    conn_id=12,
    status="ACTIVE",
)

# "Verifying IPSec High Availability", step 5, both samples verbatim. The second
# puts its columns at 24/34/45 where the heading and the first sample use 25/36/47;
# it is compared word for word.
DOC_ISAKMP_SSP = """
VIP          ADDS      DELETES    REQUESTS   REPLIES
172.16.31.100 538        33         0          0
"""
DOC_ISAKMP_SSP_AFTER_RESYNC = """
VIP          ADDS      DELETES    REQUESTS   REPLIES
172.16.31.100 0         0         514        514
"""


def test_crypto_ipsec_ha_matches_the_document() -> None:
    text = show.show_crypto_ipsec_ha(IPSEC_HA)
    assert lines(text) == lines(DOC_IPSEC_HA)
    assert words(text) == words(DOC_IPSEC_HA_REFERENCE)


def test_crypto_isakmp_ha_matches_the_document() -> None:
    assert lines(show.show_crypto_isakmp_ha(ISAKMP_HA)) == lines(DOC_ISAKMP_HA)


def test_crypto_isakmp_ha_standby_matches_the_document() -> None:
    ike_sas = (*STANDBY_IKE_SAS[:2], ACTIVE_IKE_SA, *STANDBY_IKE_SAS[2:])
    text = show.show_crypto_isakmp_ha_sas(ike_sas, "standby")
    assert lines(text) == lines(DOC_ISAKMP_HA_STANDBY)


def test_crypto_isakmp_ha_active_lists_only_active_sas() -> None:
    ike_sas = (*STANDBY_IKE_SAS, ACTIVE_IKE_SA)
    assert lines(show.show_crypto_isakmp_ha_sas(ike_sas, "active")) == [
        "dst          src          state      I-Cookie      R-Cookie",
        "40.0.0.1      192.168.3.1   QM_IDLE    01020304 05060708    A1A2A3A4",
        "B1B2B3B4",
    ]


@pytest.mark.parametrize(
    ("adds", "deletes", "requests", "replies", "doc"),
    [(538, 33, 0, 0, DOC_ISAKMP_SSP), (0, 0, 514, 514, DOC_ISAKMP_SSP_AFTER_RESYNC)],
    ids=["counting", "after-resync"],
)
def test_crypto_isakmp_ssp_matches_the_document(
    adds: int, deletes: int, requests: int, replies: int, doc: str
) -> None:
    row = IsakmpSspRow(
        virtual_ip=ip("172.16.31.100"),
        adds=adds,
        deletes=deletes,
        requests=requests,
        replies=replies,
    )
    text = show.show_crypto_isakmp_ssp([row])
    assert words(text) == words(doc)
    if doc is DOC_ISAKMP_SSP:
        assert lines(text) == lines(doc)


def test_crypto_isakmp_sa_shows_state_and_standby_status() -> None:
    # Not sampled in the document: IOS's layout, with the ACTIVE / STDBY status column
    # (protocols.md §6.5).
    text = show.show_crypto_isakmp_sa([ACTIVE_IKE_SA, STANDBY_IKE_SAS[0]])
    assert lines(text) == [
        "dst             src             state          conn-id slot status",
        "40.0.0.1        192.168.3.1     QM_IDLE             12    0 ACTIVE",
        "172.16.31.100   20.3.113.1      QM_IDLE              1    0 STDBY",
    ]


# -- show crypto ipsec sa -----------------------------------------------------------------

# Clean form of the three copies of the HA sample ("Verifying IPSec High
# Availability" steps 3 and 4, and the command reference). Corrections: indentation
# lost at the document's page breaks restored from the first page of the command
# reference copy; "pcg" / "pcsp" are "pcp" (IP payload compression); "= {Tunnel, }"
# and "=(Tunnel, )" are "={Tunnel, }". Every SA in the sample is a standby SA, so
# "show crypto ipsec sa" and "show crypto ipsec sa standby" print the same text.
CLEAN_IPSEC_SA = """
interface: FastEthernet0/0
  Crypto map tag: mymap, local addr. 172.168.3.100

  local ident (addr/mask/prot/port): (192.168.1.0/255.255.255.0/0/0)
  remote ident (addr/mask/prot/port): (5.6.0.0/255.255.0.0/0/0)
  current_peer: 172.168.3.1
    PERMIT, flags={}
    #pkts encaps: 0, #pkts encrypt: 0, #pkts digest 0
    #pkts decaps: 0, #pkts decrypt: 0, #pkts verify 0
    #pkts compressed: 0, #pkts decompressed: 0
    #pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0
    #send errors 0, #recv errors 0

  local crypto endpt.: 172.168.3.100, remote crypto endpt.: 172.168.3.1
  path mtu 1500, media mtu 1500
  current outbound spi: 132ED6AB

inbound esp sas:
  spi: 0xD8C8635F(3637011295)
    transform: esp-des esp-md5-hmac ,
    in use settings ={Tunnel, }
    slot: 0, conn id: 2006, flow_id: 3, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    IV size: 8 bytes
    replay detection support: Y
    HA Status: STANDBY

inbound ah sas:
  spi: 0xAAF10A60(2867923552)
    transform: ah-sha-hmac ,
    in use settings ={Tunnel, }
    slot: 0, conn id: 2004, flow_id: 3, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    replay detection support: Y
    HA Status: STANDBY

inbound pcp sas:

outbound esp sas:
  spi: 0x132ED6AB(321836715)
    transform: esp-des esp-md5-hmac ,
    in use settings ={Tunnel, }
    slot: 0, conn id: 2007, flow_id: 4, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    IV size: 8 bytes
    replay detection support: Y
    HA Status: STANDBY

outbound ah sas:
  spi: 0x1951D78(26549624)
    transform: ah-sha-hmac ,
    in use settings ={Tunnel, }
    slot: 0, conn id: 2005, flow_id: 4, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    replay detection support: Y
    HA Status: STANDBY

outbound pcp sas:
"""

# The three copies, verbatim (page-break fences included).
DOC_IPSEC_SA_STEP_3 = """
interface: FastEthernet0/0
  Crypto map tag: mymap, local addr. 172.168.3.100

  local ident (addr/mask/prot/port): (192.168.1.0/255.255.255.0/0/0)
  remote ident (addr/mask/prot/port): (5.6.0.0/255.255.0.0/0/0)
  current_peer: 172.168.3.1
    PERMIT, flags={}
    #pkts encaps: 0, #pkts encrypt: 0, #pkts digest 0
    #pkts decaps: 0, #pkts decrypt: 0, #pkts verify 0
    #pkts compressed: 0, #pkts decompressed: 0

```

```

#pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0
#send errors 0, #recv errors 0

local crypto endpt.: 172.168.3.100, remote crypto endpt.: 172.168.3.1
path mtu 1500, media mtu 1500
current outbound spi: 132ED6AB

inbound esp sas:
  spi: 0xD8C8635F(3637011295)
    transform: esp-des esp-md5-hmac ,
    in use settings = {Tunnel, }
    slot: 0, conn id: 2006, flow_id: 3, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    IV size: 8 bytes
    replay detection support: Y
    HA Status: STANDBY

inbound ah sas:
  spi: 0xAAF10A60(2867923552)
    transform: ah-sha-hmac ,
    in use settings = {Tunnel, }
    slot: 0, conn id: 2004, flow_id: 3, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    replay detection support: Y
    HA Status: STANDBY

inbound pcg sas:

outbound esp sas:
  spi: 0x132ED6AB(321836715)
    transform: esp-des esp-md5-hmac ,
    in use settings = {Tunnel, }
    slot: 0, conn id: 2007, flow_id: 4, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    IV size: 8 bytes
    replay detection support: Y
    HA Status: STANDBY

outbound ah sas:
  spi: 0x1951D78(26549624)
    transform: ah-sha-hmac ,
    in use settings = {Tunnel, }
    slot: 0, conn id: 2005, flow_id: 4, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    replay detection support: Y
    HA Status: STANDBY

outbound pcg sas:
"""
DOC_IPSEC_SA_STANDBY_STEP_4 = """
interface: FastEthernet0/0
  Crypto map tag: mymap, local addr. 172.168.3.100

local ident (addr/mask/prot/port): (192.168.1.0/255.255.255.0/0/0)
remote ident (addr/mask/prot/port): (5.6.0.0/255.255.0.0/0/0)
current_peer: 172.168.3.1
  PERMIT, flags={}
  #pkts encaps: 0, #pkts encrypt: 0, #pkts digest 0
  #pkts decaps: 0, #pkts decrypt: 0, #pkts verify 0
  #pkts compressed: 0, #pkts decompressed: 0
  #pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0
  #send errors 0, #recv errors 0

```

```

local crypto endpt.: 172.168.3.100, remote crypto endpt.: 172.168.3.1
path mtu 1500, media mtu 1500
current outbound spi: 132ED6AB

inbound esp sas:
spi: 0xD8C8635F(3637011295)
  transform: esp-des esp-md5-hmac ,
  in use settings ={Tunnel, }
  slot: 0, conn id: 2006, flow_id: 3, crypto map: mymap
  sa timing: remaining key lifetime (k/sec): (4499/59957)
  IV size: 8 bytes
  replay detection support: Y
  HA Status: STANDBY

inbound ah sas:
spi: 0xAAF10A60(2867923552)
  transform: ah-sha-hmac ,
  in use settings ={Tunnel, }
  slot: 0, conn id: 2004, flow_id: 3, crypto map: mymap
  sa timing: remaining key lifetime (k/sec): (4499/59957)
  replay detection support: Y
  HA Status: STANDBY

inbound pcg sas:

outbound esp sas:
spi: 0x132ED6AB(321836715)
  transform: esp-des esp-md5-hmac ,
  in use settings ={Tunnel, }
  slot: 0, conn id: 2007, flow_id: 4, crypto map: mymap
  sa timing: remaining key lifetime (k/sec): (4499/59957)
  IV size: 8 bytes
  replay detection support: Y
  HA Status: STANDBY

outbound ah sas:
spi: 0x1951D78(26549624)
  transform: ah-sha-hmac ,
  in use settings ={Tunnel, }
  slot: 0, conn id: 2005, flow_id: 4, crypto map: mymap
  sa timing: remaining key lifetime (k/sec): (4499/59957)
  replay detection support: Y
  HA Status: STANDBY

outbound pcg sas:
"""
DOC_IPSEC_SA_REFERENCE = """
interface: FastEthernet0/0
  Crypto map tag: mymap, local addr. 172.168.3.100

  local ident (addr/mask/prot/port): (192.168.1.0/255.255.255.0/0/0)
  remote ident (addr/mask/prot/port): (5.6.0.0/255.255.0.0/0/0)
  current_peer: 172.168.3.1
    PERMIT, flags={}
    #pkts encaps: 0, #pkts encrypt: 0, #pkts digest 0
    #pkts decaps: 0, #pkts decrypt: 0, #pkts verify 0
    #pkts compressed: 0, #pkts decompressed: 0
    #pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0
    #send errors 0, #recv errors 0

  local crypto endpt.: 172.168.3.100, remote crypto endpt.: 172.168.3.1
  path mtu 1500, media mtu 1500
  current outbound spi: 132ED6AB

inbound esp sas:
  spi: 0xD8C8635F(3637011295)
    transform: esp-des esp-md5-hmac ,
    in use settings ={Tunnel, }
    slot: 0, conn id: 2006, flow_id: 3, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    IV size: 8 bytes
    replay detection support: Y
```

```

HA Status: STANDBY

inbound ah sas:
spi: 0xAAF10A60(2867923552)
transform: ah-sha-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2004, flow_id: 3, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
replay detection support: Y
HA Status: STANDBY

inbound pcsp sas:

outbound esp sas:
spi: 0x132ED6AB(321836715)
transform: esp-des esp-md5-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2007, flow_id: 4, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
IV size: 8 bytes
replay detection support: Y
HA Status: STANDBY

outbound ah sas:
spi: 0x1951D78(26549624)
transform: ah-sha-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2005, flow_id: 4, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
replay detection support: Y
HA Status: STANDBY

outbound pcsp sas:
"""
DOC_IPSEC_SA_STANDBY_REFERENCE = """
interface: FastEthernet0/0
Crypto map tag: mymap, local addr. 172.168.3.100

local ident (addr/mask/prot/port): (192.168.1.0/255.255.255.0/0/0)
remote ident (addr/mask/prot/port): (5.6.0.0/255.255.0.0/0/0)
current_peer: 172.168.3.1
PERMIT, flags={}
#pkts encaps: 0, #pkts encrypt: 0, #pkts digest 0
#pkts decaps: 0, #pkts decrypt: 0, #pkts verify 0
#pkts compressed: 0, #pkts decompressed: 0
#pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0
#send errors 0, #recv errors 0

local crypto endpt.: 172.168.3.100, remote crypto endpt.: 172.168.3.1
path mtu 1500, media mtu 1500
current outbound spi: 132ED6AB

inbound esp sas:
spi: 0xD8C8635F(3637011295)
transform: esp-des esp-md5-hmac ,
in use settings =(Tunnel, )
slot: 0, conn id: 2006, flow_id: 3, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
IV size: 8 bytes
replay detection support: Y
HA Status: STANDBY

inbound ah sas:
spi: 0xAAF10A60(2867923552)
transform: ah-sha-hmac ,
in use settings =(Tunnel, )
slot: 0, conn id: 2004, flow_id: 3, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
replay detection support: Y
HA Status: STANDBY

inbound pcp sas:

outbound esp sas:
spi: 0x132ED6AB(321836715)
transform: esp-des esp-md5-hmac ,
in use settings =(Tunnel, )
slot: 0, conn id: 2007, flow_id: 4, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
IV size: 8 bytes
replay detection support: Y
HA Status: STANDBY

```

```

outbound ah sas:
  spi: 0x1951D78(26549624)
    transform: ah-sha-hmac ,
    in use settings ={Tunnel, }
    slot: 0, conn id: 2005, flow_id: 4, crypto map: mymap
    sa timing: remaining key lifetime (k/sec): (4499/59957)
    replay detection support: Y
    HA Status: STANDBY

outbound pcg sas:
"""


def document_fixes(text: str) -> str:
    """The corrections listed above CLEAN_IPSEC_SA, applied to a verbatim copy."""
    for wrong in ("pcg", "pcsp"):
        text = text.replace(f" {wrong} sas:", " pcp sas:").replace(f"{wrong} sas:", "pcp sas:")
    return text.replace("= {Tunnel, }", "={Tunnel, }").replace("=(Tunnel, )", "={Tunnel, }")


# "show crypto ipsec sa addr" (command reference): the document prints it flush left;
# corrections: the page's running header and fences dropped, "=(Tunnel, )" fixed.
CLEAN_IPSEC_SA_ADDR = """
dest address: 172.168.3.100
protocol: AH
spi: 0xAAF10A60(2867923552)
transform: ah-sha-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2004, flow_id: 3, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
replay detection support: Y
HA Status: STANDBY

protocol: ESP
spi: 0xD8C8635F(3637011295)
transform: esp-des esp-md5-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2006, flow_id: 3, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
IV size: 8 bytes
replay detection support: Y
HA Status: STANDBY

dest address: 172.168.3.1
protocol: AH
spi: 0x1951D78(26549624)
transform: ah-sha-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2005, flow_id: 4, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
replay detection support: Y
HA Status: STANDBY

protocol: ESP
spi: 0x132ED6AB(321836715)
transform: esp-des esp-md5-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2007, flow_id: 4, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
IV size: 8 bytes
replay detection support: Y
HA Status: STANDBY
"""
DOC_IPSEC_SA_ADDR = """
dest address: 172.168.3.100
protocol: AH
spi: 0xAAF10A60(2867923552)
transform: ah-sha-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2004, flow_id: 3, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
replay detection support: Y
HA Status: STANDBY

protocol: ESP
spi: 0xD8C8635F(3637011295)
transform: esp-des esp-md5-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2006, flow_id: 3, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
IV size: 8 bytes
replay detection support: Y
HA Status: STANDBY

dest address: 172.168.3.1
protocol: AH
spi: 0x1951D78(26549624)
transform: ah-sha-hmac ,
in use settings ={Tunnel, }
slot: 0, conn id: 2005, flow_id: 4, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)

```

show crypto ipsec sa

```

replay detection support: Y
HA Status: STANDBY

protocol: ESP
spi: 0x132ED6AB(321836715)
transform: esp-des esp-md5-hmac ,
in use settings =(Tunnel, )
slot: 0, conn id: 2007, flow_id: 4, crypto map: mymap
sa timing: remaining key lifetime (k/sec): (4499/59957)
IV size: 8 bytes
replay detection support: Y
HA Status: STANDBY

"""


def sa(
    direction: show.SaDirection,
    protocol: show.SaProtocol,
    spi: int,
    conn_id: int,
    flow_id: int,
    *,
    ha_status: show.SaHaStatus | None = "STANDBY",
    crypto_map: str = "mymap",
) -> IpsecSaView:
    esp = protocol == "esp"
    return IpsecSaView(
        direction=direction,
        protocol=protocol,
        spi=spi,
        transforms=("esp-des", "esp-md5-hmac") if esp else ("ah-sha-hmac",),
        conn_id=conn_id,
        flow_id=flow_id,
        crypto_map=crypto_map,
        remaining_kilobytes=4499,
        remaining_lifetime_ms=59_957_999,
        iv_size_bytes=8 if esp else None,
        ha_status=ha_status,
    )


DOC_FLOW = IpsecFlowView(
    local_ident=ProxyIdent(network=IPv4Network("192.168.1.0/24")),
    remote_ident=ProxyIdent(network=IPv4Network("5.6.0.0/16")),
    current_peer=ip("172.168.3.1"),
    local_endpoint=ip("172.168.3.100"),
    remote_endpoint=ip("172.168.3.1"),
    current_outbound_spi=0x132ED6AB,
    # Deliberately out of display order: the renderer groups them.
    sas=(
        sa("outbound", "ah", 0x1951D78, 2005, 4),
        sa("inbound", "ah", 0xAAF10A60, 2004, 3),
        sa("outbound", "esp", 0x132ED6AB, 2007, 4),
        sa("inbound", "esp", 0xD8C8635F, 2006, 3),
    ),
)
DOC_INTERFACE = IpsecInterfaceView(
    interface="FastEthernet0/0",
    crypto_map="mymap",
    local_address=ip("172.168.3.100"),
    flows=(DOC_FLOW,),
)
ACTIVE_FLOW = IpsecFlowView(
    local_ident=ProxyIdent(network=IPv4Network("192.168.2.0/24"), protocol=6, port=80),
    remote_ident=ProxyIdent(network=IPv4Network("10.9.0.0/16")),
    current_peer=ip("172.168.3.1"),
    flags=("origin_is_acl",),
    counters=IpsecCounters(encaps=10, encrypt=10, digest=10, send_errors=1, recv_errors=2),
    local_endpoint=ip("172.168.3.100"),
    remote_endpoint=ip("172.168.3.1"),
    current_outbound_spi=0x20890A6F,
    sas=(
        sa("inbound", "esp", 0x257A1039, 26, 5, ha_status="ACTIVE", crypto_map="othermap"),
        sa("outbound", "esp", 0x20890A6F, 27, 6, ha_status="ACTIVE", crypto_map="othermap"),
    ),
)
ACTIVE_INTERFACE = IpsecInterfaceView(
    interface="FastEthernet0/1",
    crypto_map="othermap",
    local_address=ip("40.0.0.1"),
    flows=(ACTIVE_FLOW,),
)


def test_crypto_ipsec_sa_matches_the_document() -> None:
    text = show.show_crypto_ipsec_sa([DOC_INTERFACE])
    assert lines(text) == lines(CLEAN_IPSEC_SA)
    for copy in (
        DOC_IPSEC_SA_STEP_3,
        DOC_IPSEC_SA_STANDBY_STEP_4,
        DOC_IPSEC_SA_REFERENCE,
        DOC_IPSEC_SA_STANDBY_REFERENCE,
    ):
        assert words(text) == words(document_fixes(copy))


def test_crypto_ipsec_sa_standby_lists_only_standby_sas() -> None:
    mixed_flow = replace(DOC_FLOW, sas=(*DOC_FLOW.sas, *ACTIVE_FLOW.sas))
    interfaces = [replace(DOC_INTERFACE, flows=(mixed_flow, ACTIVE_FLOW)), ACTIVE_INTERFACE]
    standby = show.show_crypto_ipsec_sa(interfaces, standby_only=True)
    assert lines(standby) == lines(CLEAN_IPSEC_SA)
    everything = show.show_crypto_ipsec_sa(interfaces)
    assert everything.count("HA Status: ACTIVE") == 6
    assert everything.count("interface: ") == 2


def test_crypto_ipsec_sa_second_flow_and_counters() -> None:
    text = show.show_crypto_ipsec_sa([ACTIVE_INTERFACE])
    assert lines(text)[:17] == [
        "interface: FastEthernet0/1",
        "  Crypto map tag: othermap, local addr. 40.0.0.1",
        "",
        "  local ident (addr/mask/prot/port): (192.168.2.0/255.255.255.0/6/80)",
        "  remote ident (addr/mask/prot/port): (10.9.0.0/255.255.0.0/0/0)",
        "  current_peer: 172.168.3.1",
        "    PERMIT, flags={origin_is_acl,}",
        "    #pkts encaps: 10, #pkts encrypt: 10, #pkts digest 10",
        "    #pkts decaps: 0, #pkts decrypt: 0, #pkts verify 0",
        "    #pkts compressed: 0, #pkts decompressed: 0",
        "    #pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0",
        "    #send errors 1, #recv errors 2",
        "",
        "  local crypto endpt.: 172.168.3.100, remote crypto endpt.: 172.168.3.1",
        "  path mtu 1500, media mtu 1500",
        "  current outbound spi: 20890A6F",
        "",
    ]


def test_crypto_ipsec_sa_detail_shows_the_drops_by_reason() -> None:
    counters = IpsecCounters(
        recv_errors=9,
        invalid_sa_recv=1,
        verify_failed=3,
        invalid_len=1,
        replay_failed=4,
        replay_rollover_send=2,
        no_sa_send=5,
        send_errors=7,
    )
    flow = replace(DOC_FLOW, counters=counters)
    text = show.show_crypto_ipsec_sa([replace(DOC_INTERFACE, flows=(flow,))], detail=True)
    assert lines(text)[11:17] == [
        "    #pkts no sa (send) 5, #pkts invalid sa (rcv) 1",
        "    #pkts encaps failed (send) 0, #pkts decaps failed (rcv) 0",
        "    #pkts verify failed: 3, #pkts invalid len (rcv) 1",
        "    #pkts replay rollover (send): 2, #pkts replay failed (rcv): 4",
        "    #send errors 7, #recv errors 9",
        "",
    ]
    assert "#pkts replay failed" not in show.show_crypto_ipsec_sa([DOC_INTERFACE])


def test_crypto_ipsec_sa_without_ha_omits_the_status_line() -> None:
    flow = replace(DOC_FLOW, sas=(sa("inbound", "esp", 1, 1, 1, ha_status=None),))
    text = show.show_crypto_ipsec_sa([replace(DOC_INTERFACE, flows=(flow,))])
    assert "HA Status" not in text
    assert "  spi: 0x1(1)" in lines(text)
    assert show.show_crypto_ipsec_sa([replace(DOC_INTERFACE, flows=(flow,))], True) == ""


def test_crypto_ipsec_sa_addr_matches_the_document() -> None:
    text = show.show_crypto_ipsec_sa_addr([DOC_INTERFACE])
    assert lines(text) == lines(CLEAN_IPSEC_SA_ADDR)
    assert words(text) == words(document_fixes(DOC_IPSEC_SA_ADDR))


# -- configuration: transform sets, crypto maps, ISAKMP policies ---------------------------

# "Verifying IPSec Configurations", step 1, verbatim.
DOC_TRANSFORM_SETS = """
Transform set combined-des-md5: {esp-des esp-md5-hmac}
  will negotiate = {Tunnel,},
Transform set t1: {esp-des esp-md5-hmac}
  will negotiate = {Tunnel,},
Transform set t100: {ah-sha-hmac}
  will negotiate = {Transport,},
Transform set t2: {ah-sha-hmac}
  will negotiate = {Tunnel,},
  {esp-des}
  will negotiate = {Tunnel,},
"""
TRANSFORM_SET_CONFIG = """
crypto ipsec transform-set t2 ah-sha-hmac esp-des
crypto ipsec transform-set t100 ah-sha-hmac
 mode transport
crypto ipsec transform-set t1 esp-des esp-md5-hmac
crypto ipsec transform-set combined-des-md5 esp-des esp-md5-hmac
"""
# The warning sample, clean form. Corrections: "transform-1:{" and "{Tunnel, }" as
# in the first sample ("transform-1: {", "{Tunnel,}").
CLEAN_TRANSFORM_SET_WARNING = """
Transform set transform-1: {esp-256-aes esp-md5-hmac}
  will negotiate = {Tunnel,},

WARNING:encryption hardware does not support transform
esp-aes 256 within IPSec transform transform-1
"""

# "Verifying IPSec Configurations", step 2, verbatim.
DOC_CRYPTO_MAP = """
Crypto Map: "router-alice" idb: Ethernet0 local address: 172.21.114.123
Crypto Map "router-alice" 10 ipsec-isakmp
  Peer = 172.21.114.67
  Extended IP access list 141
    access-list 141 permit ip
      source: addr = 172.21.114.123/0.0.0.0
      dest:   addr = 172.21.114.67/0.0.0.0
  Current peer: 172.21.114.67
  Security-association lifetime: 4608000 kilobytes/120 seconds
  PFS (Y/N): N
  Transform sets={t1,}
"""
CRYPTO_MAP_CONFIG = """
crypto ipsec transform-set t1 esp-des esp-md5-hmac
crypto map router-alice 10 ipsec-isakmp
 set peer 172.21.114.67
 set security-association lifetime seconds 120
 set transform-set t1
 match address 141
interface Ethernet0
 ip address 172.21.114.123 255.255.255.0
 crypto map router-alice
access-list 141 permit ip host 172.21.114.123 host 172.21.114.67
"""

# "Verifying IKE Configurations", the warning sample, verbatim. (The sample before
# it, under "show crypto isakmp policy 1", prints configuration lines rather than
# show output and is not compared.)
DOC_ISAKMP_POLICY_WARNING = """
Protection suite of priority 1
      encryption algorithm: AES - Advanced Encryption Standard (256 bit keys).
WARNING:encryption hardware does not support the configured
encryption method for ISAKMP policy 1
      hash algorithm:          Secure Hash Standard
      authentication method: Pre-Shared Key
      Diffie-Hellman group:    #1 (768 bit)
      lifetime:                3600 seconds, no volume limit
"""
# Clean form. Correction: the document aligns three values at column 31 and leaves
# "encryption algorithm:" and "authentication method:" one space short of it; ours
# align all five.
CLEAN_ISAKMP_POLICY_WARNING = """
Protection suite of priority 1
      encryption algorithm:    AES - Advanced Encryption Standard (256 bit keys).
WARNING:encryption hardware does not support the configured
encryption method for ISAKMP policy 1
      hash algorithm:          Secure Hash Standard
      authentication method:   Pre-Shared Key
      Diffie-Hellman group:    #1 (768 bit)
      lifetime:                3600 seconds, no volume limit
"""
ISAKMP_POLICY_CONFIG = """
vpnha crypto-card vam
crypto isakmp policy 1
 encryption aes 256
 authentication pre-share
 lifetime 3600
"""
DEFAULT_SUITE = [
    "Default protection suite",
    "      encryption algorithm:    DES - Data Encryption Standard (56 bit keys).",
    "      hash algorithm:          Secure Hash Standard",
    "      authentication method:   Rivest-Shamir-Adleman Signature",
    "      Diffie-Hellman group:    #1 (768 bit)",
    "      lifetime:                86400 seconds, no volume limit",
]


def test_transform_sets_match_the_document() -> None:
    config = parse_config(TRANSFORM_SET_CONFIG)
    assert lines(show.show_crypto_ipsec_transform_set(config)) == lines(DOC_TRANSFORM_SETS)


def test_transform_set_warning_matches_the_document() -> None:
    # The document's command, "crypto ipsec transform transform-1 esp-aes 256 esp-md5",
    # written out in full; a VAM (no AES) is fitted.
    config = parse_config(
        "vpnha crypto-card vam\ncrypto ipsec transform-set transform-1 esp-aes 256 esp-md5-hmac\n"
    )
    text = show.show_crypto_ipsec_transform_set(config)
    assert lines(text) == lines(CLEAN_TRANSFORM_SET_WARNING)
    vam2 = replace(config, crypto_card=replace(config.crypto_card, kind="vam2"))
    assert "WARNING" not in show.show_crypto_ipsec_transform_set(vam2)


def test_transform_set_warnings_are_per_set() -> None:
    config = parse_config(
        "vpnha crypto-card vam\n"
        "crypto ipsec transform-set a esp-gcm 192\n"
        "crypto ipsec transform-set b ah-md5-hmac esp-3des esp-sha-hmac\n"
        "crypto ipsec transform-set c esp-null comp-lzs\n"
    )
    assert lines(show.show_crypto_ipsec_transform_set(config)) == [
        "Transform set a: {esp-192-gcm}",
        "  will negotiate = {Tunnel,},",
        "",
        "WARNING:encryption hardware does not support transform",
        "esp-gcm 192 within IPSec transform a",
        "",
        "Transform set b: {ah-md5-hmac}",
        "  will negotiate = {Tunnel,},",
        "  {esp-3des esp-sha-hmac}",
        "  will negotiate = {Tunnel,},",
        "Transform set c: {esp-null}",
        "  will negotiate = {Tunnel,},",
        "  {comp-lzs}",
        "  will negotiate = {Tunnel,},",
    ]


def test_crypto_map_matches_the_document() -> None:
    config = parse_config(CRYPTO_MAP_CONFIG)
    assert lines(show.show_crypto_map(config)) == lines(DOC_CRYPTO_MAP)


def test_crypto_map_of_the_example_router_uses_the_virtual_ip() -> None:
    config = parse_config((EXAMPLES / "router1.cfg").read_text())
    expected = [
        'Crypto Map: "CMAP_1" idb: FastEthernet0/1 local address: 40.0.0.1',
        'Crypto Map "CMAP_1" 1 ipsec-isakmp',
        "  Description: Tunnel to 192.168.3.1",
        "  Peer = 192.168.3.1",
        "  Extended IP access list 100",
        "    access-list 100 permit ip",
        "      source: addr = 0.0.0.0/255.255.255.255",
        "      dest:   addr = 192.168.4.0/0.0.0.255",
        "  Current peer: 192.168.3.1",
        "  Security-association lifetime: 4608000 kilobytes/3600 seconds",
        "  PFS (Y/N): N",
        "  Transform sets={TRANSFORMSET_1,}",
    ]
    assert lines(show.show_crypto_map(config)) == expected
    assert lines(show.show_crypto_map(config, tag="CMAP_1")) == expected
    assert lines(show.show_crypto_map(config, interface="Fa0/1")) == expected
    assert show.show_crypto_map(config, interface="FastEthernet0/0") == ""
    assert show.show_crypto_map(config, tag="nope") == ""


def test_crypto_map_dynamic_pfs_rri_ports_and_missing_lists() -> None:
    config = parse_config(
        """
crypto ipsec transform-set t1 esp-3des esp-sha-hmac
crypto ipsec transform-set t2 esp-des esp-md5-hmac
crypto dynamic-map dyn 5
 set transform-set t1
crypto map m 10 ipsec-isakmp
 set peer 10.0.0.2
 set peer 10.0.0.3
 set transform-set t1 t2
 set pfs group2
 set security-association lifetime kilobytes 9000
 match address 150
 reverse-route
crypto map m 20 ipsec-isakmp dynamic dyn
access-list 150 deny tcp 10.1.0.0 0.0.255.255 eq 23 any
access-list 150 permit udp any host 10.2.0.1 range 1000 2000
"""
    )
    assert lines(show.show_crypto_map(config)) == [
        'Crypto Map "m" 10 ipsec-isakmp',
        "  Peer = 10.0.0.2",
        "  Peer = 10.0.0.3",
        "  Extended IP access list 150",
        "    access-list 150 deny tcp",
        "      source: addr = 10.1.0.0/0.0.255.255",
        "              port: eq 23",
        "      dest:   addr = 0.0.0.0/255.255.255.255",
        "    access-list 150 permit udp",
        "      source: addr = 0.0.0.0/255.255.255.255",
        "      dest:   addr = 10.2.0.1/0.0.0.0",
        "              port: range 1000 2000",
        "  Current peer: 10.0.0.2",
        "  Security-association lifetime: 9000 kilobytes/3600 seconds",
        "  PFS (Y/N): Y",
        "  DH group:  group2",
        "  Transform sets={t1,t2,}",
        "  Reverse Route Injection Enabled",
        'Crypto Map "m" 20 ipsec-isakmp',
        "  Dynamic map template tag: dyn",
    ]


def test_isakmp_policy_warning_matches_the_document() -> None:
    config = parse_config(ISAKMP_POLICY_CONFIG)
    text = show.show_crypto_isakmp_policy(config, 1)
    assert lines(text) == lines(CLEAN_ISAKMP_POLICY_WARNING)
    assert words(text) == words(DOC_ISAKMP_POLICY_WARNING)


def test_isakmp_policies_of_the_example_router_then_the_default_suite() -> None:
    config = parse_config((EXAMPLES / "router1.cfg").read_text())
    assert lines(show.show_crypto_isakmp_policy(config)) == [
        "Protection suite of priority 1",
        "      encryption algorithm:    Three key triple DES",
        "      hash algorithm:          Secure Hash Standard",
        "      authentication method:   Pre-Shared Key",
        "      Diffie-Hellman group:    #2 (1024 bit)",
        "      lifetime:                86400 seconds, no volume limit",
        *DEFAULT_SUITE,
    ]
    assert lines(show.show_crypto_isakmp_policy(config, 7)) == [
        "% ISAKMP policy 7 is not configured."
    ]
    assert lines(show.show_crypto_isakmp_policy(RouterConfig())) == DEFAULT_SUITE


def test_isakmp_policy_warns_about_rsa_encr_on_a_card() -> None:
    config = parse_config(
        "vpnha crypto-card vam2\n"
        "crypto isakmp policy 20\n encryption aes 192\n hash md5\n"
        " authentication rsa-encr\n group 5\n"
    )
    assert lines(show.show_crypto_isakmp_policy(config, 20)) == [
        "Protection suite of priority 20",
        "      encryption algorithm:    AES - Advanced Encryption Standard (192 bit keys).",
        "      hash algorithm:          Message Digest 5",
        "      authentication method:   Rivest-Shamir-Adleman Encryption",
        "WARNING:encryption hardware does not support the configured",
        "authentication method for ISAKMP policy 20",
        "      Diffie-Hellman group:    #5 (1536 bit)",
        "      lifetime:                86400 seconds, no volume limit",
    ]


# -- the command line ---------------------------------------------------------------------


class DocumentRouter:
    """A ShowProvider holding the document's sample values."""

    def __init__(self) -> None:
        self.configuration = parse_config((EXAMPLES / "router1.cfg").read_text())

    def standby_brief(self) -> tuple[StandbyBriefRow, ...]:
        return BRIEF_ACTIVE

    def ssp_packet(self) -> SspPacketView:
        return SSP_PACKET

    def ssp_peers(self) -> tuple[SspPeerRow, ...]:
        return SSP_PEERS

    def ssp_redundancy(self) -> SspRedundancyView:
        return SSP_REDUNDANCY

    def ipsec_ha(self) -> tuple[IpsecHaRow, ...]:
        return IPSEC_HA

    def isakmp_ha(self) -> tuple[IsakmpHaRow, ...]:
        return ISAKMP_HA

    def ike_sas(self) -> tuple[IkeSaView, ...]:
        return (*STANDBY_IKE_SAS, ACTIVE_IKE_SA)

    def isakmp_ssp(self) -> tuple[IsakmpSspRow, ...]:
        return (IsakmpSspRow(virtual_ip=ip("172.16.31.100"), adds=538, deletes=33),)

    def ipsec_sas(self) -> tuple[IpsecInterfaceView, ...]:
        return (DOC_INTERFACE, ACTIVE_INTERFACE)

    def config(self) -> RouterConfig:
        return self.configuration


ROUTER = DocumentRouter()
CONFIG = ROUTER.configuration
INTERFACES = ROUTER.ipsec_sas()

# Every command of the grammar, written out in full, with what it must print.
FULL_COMMANDS = {
    "show standby brief": show.show_standby_brief(BRIEF_ACTIVE),
    "show standby": show.show_standby(BRIEF_ACTIVE),
    "show ssp": show.show_ssp(SSP_PACKET, SSP_PEERS, SSP_REDUNDANCY),
    "show ssp clients": show.show_ssp_client(),
    "show ssp packet": show.show_ssp_packet(SSP_PACKET),
    "show ssp peers": show.show_ssp_peers(SSP_PEERS),
    "show ssp redundancy": show.show_ssp_redundancy(SSP_REDUNDANCY),
    "show crypto ipsec ha": show.show_crypto_ipsec_ha(IPSEC_HA),
    "show crypto ipsec sa": show.show_crypto_ipsec_sa(INTERFACES),
    "show crypto ipsec sa address": show.show_crypto_ipsec_sa_addr(INTERFACES),
    "show crypto ipsec sa standby": show.show_crypto_ipsec_sa(INTERFACES, standby_only=True),
    "show crypto ipsec sa detail": show.show_crypto_ipsec_sa(INTERFACES, detail=True),
    "show crypto ipsec sa map othermap": show.show_crypto_ipsec_sa([ACTIVE_INTERFACE]),
    "show crypto ipsec sa interface FastEthernet0/0": show.show_crypto_ipsec_sa([DOC_INTERFACE]),
    "show crypto ipsec transform-set": show.show_crypto_ipsec_transform_set(CONFIG),
    "show crypto isakmp ha": show.show_crypto_isakmp_ha(ISAKMP_HA),
    "show crypto isakmp ha standby": show.show_crypto_isakmp_ha_sas(ROUTER.ike_sas(), "standby"),
    "show crypto isakmp ha active": show.show_crypto_isakmp_ha_sas(ROUTER.ike_sas(), "active"),
    "show crypto isakmp sa": show.show_crypto_isakmp_sa(ROUTER.ike_sas()),
    "show crypto isakmp ssp": show.show_crypto_isakmp_ssp(ROUTER.isakmp_ssp()),
    "show crypto isakmp policy": show.show_crypto_isakmp_policy(CONFIG),
    "show crypto isakmp policy 1": show.show_crypto_isakmp_policy(CONFIG, 1),
    "show crypto map": show.show_crypto_map(CONFIG),
    "show crypto map interface FastEthernet0/1": show.show_crypto_map(
        CONFIG, interface="FastEthernet0/1"
    ),
    "show crypto map tag CMAP_1": show.show_crypto_map(CONFIG, tag="CMAP_1"),
}


@pytest.mark.parametrize(("command", "expected"), FULL_COMMANDS.items(), ids=FULL_COMMANDS)
def test_every_command_renders(command: str, expected: str) -> None:
    assert show.render(command, ROUTER) == expected
    assert show.parse_show_command(command).text == command
    assert not expected.startswith("%")


def test_the_grammar_and_the_renderers_agree() -> None:
    parsed = {show.parse_show_command(command).keywords for command in FULL_COMMANDS}
    assert parsed == set(show._RENDERERS)


@pytest.mark.parametrize(
    ("abbreviated", "full"),
    [
        ("sh ssp pe", "show ssp peers"),
        ("sh ssp client", "show ssp clients"),
        ("SH SSP RED", "show ssp redundancy"),
        ("sh stand br", "show standby brief"),
        ("sh cry ips sa", "show crypto ipsec sa"),
        ("show crypto ipsec sa addr", "show crypto ipsec sa address"),
        ("sh cry ips sa st", "show crypto ipsec sa standby"),
        ("sh cry ips sa det", "show crypto ipsec sa detail"),
        ("sh cry ips sa int fa 0/0", "show crypto ipsec sa interface FastEthernet0/0"),
        ("sh cry ips tr", "show crypto ipsec transform-set"),
        ("sh cry isa ha", "show crypto isakmp ha"),
        ("sh cry isa ha s", "show crypto isakmp ha standby"),
        ("sh cry isa sa", "show crypto isakmp sa"),
        ("sh cry isa ssp", "show crypto isakmp ssp"),
        ("sh cry isa pol 1", "show crypto isakmp policy 1"),
        ("sh cry map int FA 0/1", "show crypto map interface FastEthernet0/1"),
        ("sh cry map t CMAP_1", "show crypto map tag CMAP_1"),
        ("  show\tssp   peers  ", "show ssp peers"),
    ],
)
def test_abbreviations(abbreviated: str, full: str) -> None:
    assert show.parse_show_command(abbreviated).text == full
    assert show.render(abbreviated, ROUTER) == FULL_COMMANDS[full]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "show sspx peers",
            [
                "show sspx peers",
                "     ^",
                "% Invalid input detected at '^' marker.",
                "% Unknown word 'sspx'; expected one of: crypto, ssp, standby",
            ],
        ),
        (
            "sh cry ipsec sa bogus",
            [
                "sh cry ipsec sa bogus",
                "                ^",
                "% Invalid input detected at '^' marker.",
                "% Unknown word 'bogus'; expected one of: address, detail, interface, map, "
                "standby, <cr>",
            ],
        ),
        (
            "clear crypto sa",
            [
                "clear crypto sa",
                "^",
                "% Invalid input detected at '^' marker.",
                "% Unknown word 'clear'; expected one of: show",
            ],
        ),
        (
            "show ssp peers now",
            [
                "show ssp peers now",
                "               ^",
                "% Invalid input detected at '^' marker.",
                "% Unexpected word 'now': 'show ssp peers' takes no more words",
            ],
        ),
        (
            "sh cry isa pol 0",
            [
                "sh cry isa pol 0",
                "               ^",
                "% Invalid input detected at '^' marker.",
                "% policy priority 0 out of range 1-10000",
            ],
        ),
        (
            "sh cry isa pol one",
            [
                "sh cry isa pol one",
                "               ^",
                "% Invalid input detected at '^' marker.",
                "% 'one' is not a policy priority (1-10000)",
            ],
        ),
        (
            "sh cry map int Bogus0/1",
            [
                "sh cry map int Bogus0/1",
                "               ^",
                "% Invalid input detected at '^' marker.",
                "% interface type 'Bogus' is not one of Ethernet, FastEthernet, "
                "GigabitEthernet, Serial, Loopback, Tunnel",
            ],
        ),
        ("sh s", ['% Ambiguous command:  "sh s"', "% 's' could be: ssp, standby"]),
        ("sh ssp p", ['% Ambiguous command:  "sh ssp p"', "% 'p' could be: packet, peers"]),
        (
            "show crypto",
            ["% Incomplete command.", "% 'show crypto' needs one of: ipsec, isakmp, map"],
        ),
        (
            "sh cry map tag",
            ["% Incomplete command.", "% 'sh cry map tag' needs one of: WORD"],
        ),
        ("", ["% Incomplete command.", "% Expected one of: show"]),
    ],
)
def test_bad_commands_give_ios_style_errors(command: str, expected: list[str]) -> None:
    assert lines(show.render(command, ROUTER)) == expected
    with pytest.raises(ShowSyntaxError):
        show.parse_show_command(command)


VOCABULARY = sorted(
    {word for command in FULL_COMMANDS for word in command.split()}
    | {"sh", "cry", "s", "p", "ha", "0", "10001", "fa", "0/1", "|", "inc", "x"}
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=7).map(" ".join) | st.text(max_size=40))
def test_render_never_raises(command: str) -> None:
    text = show.render(command, ROUTER)
    assert text.endswith("\n") or text == ""


# -- empty tables, times, names -----------------------------------------------------------


def test_empty_tables_print_their_headings() -> None:
    empty_redundancy = SspRedundancyView(role="INIT", role_duration_ms=0)
    assert lines(show.show_standby_brief([])) == lines(DOC_STANDBY_BRIEF_ACTIVE)[:1]
    assert lines(show.show_ssp_client([])) == lines(DOC_SSP_CLIENT)[:2]
    assert lines(show.show_ssp_peers([])) == lines(DOC_SSP_PEERS)[:2]
    assert lines(show.show_ssp_redundancy(empty_redundancy)) == [
        "SSP Redundancy Information",
        "Device has been INIT for 00:00:00",
        "Virtual IP      Redundancy Name      Interface",
    ]
    assert lines(show.show_crypto_ipsec_ha([])) == lines(DOC_IPSEC_HA)[:1]
    assert lines(show.show_crypto_isakmp_ha([])) == lines(DOC_ISAKMP_HA)[:1]
    assert lines(show.show_crypto_isakmp_ha_sas([], "standby")) == lines(DOC_ISAKMP_HA_STANDBY)[:1]
    assert lines(show.show_crypto_isakmp_ssp([])) == lines(DOC_ISAKMP_SSP)[:1]
    assert len(lines(show.show_crypto_isakmp_sa([]))) == 1
    assert show.show_crypto_ipsec_sa([]) == ""
    assert show.show_crypto_ipsec_sa_addr([]) == ""
    assert show.show_crypto_ipsec_transform_set(RouterConfig()) == ""
    assert show.show_crypto_map(RouterConfig()) == ""


def test_an_interface_without_flows_still_shows_its_map() -> None:
    bare = replace(DOC_INTERFACE, flows=())
    assert lines(show.show_crypto_ipsec_sa([bare])) == lines(CLEAN_IPSEC_SA)[:2]
    assert show.show_crypto_ipsec_sa([bare], standby_only=True) == ""


def test_unknown_addresses_print_unknown() -> None:
    row = replace(IPSEC_HA[0], virtual_ip=None, state="Init")
    assert lines(show.show_crypto_ipsec_ha([row]))[1] == (
        "FastEthernet0/0 unknown       1800   Init since 13:00:16 UTC Tue Oct 1 2002"
    )


@pytest.mark.parametrize(
    ("duration_ms", "text"),
    [
        (0, "00:00:00"),
        (999, "00:00:00"),
        (59_999, "00:00:59"),
        (86_399_999, "23:59:59"),
        (86_400_000, "1d00h"),
        ((6 * 24 + 23) * 3_600_000, "6d23h"),
        (7 * 86_400_000, "1w0d"),
        ((52 * 7 + 3) * 86_400_000, "52w3d"),
        (-5_000, "00:00:00"),
    ],
)
def test_format_duration(duration_ms: int, text: str) -> None:
    assert show.format_duration(duration_ms) == text


def test_format_since_and_time_of_day() -> None:
    assert show.format_since(OCT_1_2002_13_00_16) == "13:00:16 UTC Tue Oct 1 2002"
    assert show.format_since(0) == "00:00:00 UTC Thu Jan 1 1970"
    assert show.format_since(1_709_251_199_999) == "23:59:59 UTC Thu Feb 29 2024"
    assert show.format_time_of_day(OCT_1_2002_01_01_06) == "01:01:06"
    assert show.format_since(10**20) == f"{10**20} ms after 1970"


@pytest.mark.parametrize(
    ("transform", "shown"),
    [
        ("esp-aes", "esp-aes"),
        ("esp-aes 192", "esp-192-aes"),
        ("esp-aes 256", "esp-256-aes"),
        ("esp-gcm 256", "esp-256-gcm"),
        ("esp-sha-hmac", "esp-sha-hmac"),
        ("comp-lzs", "comp-lzs"),
    ],
)
def test_transform_display_name(transform: str, shown: str) -> None:
    assert show.transform_display_name(transform) == shown
