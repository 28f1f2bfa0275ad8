"""impl/config/lint: the shipped pair is clean, each finding code fires on a minimal edit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.config import ConfigError, parse_config
from vpnha.impl.config.lint import (
    FINDING_CODES,
    Finding,
    format_findings,
    lint_files,
    lint_pair,
    lint_router,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _without_race(text: str) -> str:
    """The example with ``preempt delay minimum 30`` added, so only the edit under test fires.

    The shipped examples reproduce the document, whose preempt (no delay) races its
    ``standby delay minimum 30``; ``test_shipped_pair_has_no_errors`` covers that warning.
    """
    for group in (1, 2):
        line = f" standby {group} preempt\n"
        text = text.replace(line, line + f" standby {group} preempt delay minimum 30\n")
    return text


ROUTER1_AS_SHIPPED = (EXAMPLES / "router1.cfg").read_text()
ROUTER2_AS_SHIPPED = (EXAMPLES / "router2.cfg").read_text()
ROUTER1 = _without_race(ROUTER1_AS_SHIPPED)
ROUTER2 = _without_race(ROUTER2_AS_SHIPPED)
SPLIT1 = _without_race((EXAMPLES / "split-router1.cfg").read_text())
SPLIT2 = _without_race((EXAMPLES / "split-router2.cfg").read_text())


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def both(old: str, new: str) -> tuple[str, str]:
    return edit(ROUTER1, old, new), edit(ROUTER2, old, new)


def pair_findings(first: str, second: str) -> list[Finding]:
    return lint_pair(parse_config(first), parse_config(second))


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def _without_preempt_race(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.code != "preempt-before-delay"]


def test_shipped_pair_has_no_errors() -> None:
    """The document's pair: no errors; its only findings are the preempt-before-delay
    warnings (preempt with no delay against standby delay minimum 30), one per group."""
    assert pair_findings(ROUTER1, ROUTER2) == []
    findings = pair_findings(ROUTER1_AS_SHIPPED, ROUTER2_AS_SHIPPED)
    assert _without_preempt_race(findings) == [], format_findings(findings)
    assert [(f.severity, f.code) for f in findings] == [("warning", "preempt-before-delay")] * 4
    assert _without_preempt_race(lint_router(parse_config(ROUTER1_AS_SHIPPED))) == []
    found, status = lint_files(EXAMPLES / "router1.cfg", EXAMPLES / "router2.cfg")
    assert status == 0
    assert _without_preempt_race(found) == []


def test_shipped_pair_is_clean_in_either_order() -> None:
    assert pair_findings(ROUTER2, ROUTER1) == []
    assert _without_preempt_race(pair_findings(ROUTER2_AS_SHIPPED, ROUTER1_AS_SHIPPED)) == []


def test_preempt_delay_covering_the_standby_delay_silences_the_race() -> None:
    assert pair_findings(ROUTER1, ROUTER2) == []
    short = ROUTER1.replace(
        "standby 2 preempt delay minimum 30", "standby 2 preempt delay minimum 10"
    )
    (finding,) = [f for f in pair_findings(short, ROUTER2) if f.router == "7200-1"]
    assert finding.code == "preempt-before-delay"
    assert "for 20 s this router is Active on FastEthernet0/1 only" in finding.message


def test_split_pair_reports_address_order_split() -> None:
    findings = pair_findings(SPLIT1, SPLIT2)
    assert [f.code for f in findings] == ["address-order-split"]
    (finding,) = findings
    assert finding.severity == "error"
    assert finding.router == "7200-1"
    assert finding.line is not None
    assert "ip address 172.16.31.100" in SPLIT1.splitlines()[finding.line - 1]
    assert "7200-1 would be Active on the inside (172.16.31.100 > 172.16.31.6)" in finding.message
    assert "7200-2 on the outside (40.0.0.200 > 40.0.0.100)" in finding.message


# (code, severity, router 1 text, router 2 text, a fragment of the message)
CASES = [
    (
        "ike-keepalive",
        "error",
        ROUTER1 + "crypto isakmp keepalive 10\n",
        ROUTER2,
        "crypto isakmp keepalive 10: IKE keepalives must not be used",
    ),
    (
        "card-unsupported-transform",
        "error",
        *both("esp-3des esp-sha-hmac", "esp-aes 256 esp-md5-hmac"),
        "WARNING:encryption hardware does not support transform esp-aes 256 within IPSec "
        "transform TRANSFORMSET_1",
    ),
    (
        "card-unsupported-ike",
        "error",
        *both(" encr 3des\n", " encr aes 256\n"),
        "WARNING:encryption hardware does not support the configured encryption method for "
        "ISAKMP policy 1",
    ),
    (
        "card-unsupported-ike",
        "error",
        *both(" authentication pre-share\n", " authentication rsa-encr\n"),
        "authentication rsa-encr: the VAM does not support this authentication method",
    ),
    (
        "tracking-not-mutual",
        "error",
        edit(ROUTER1, " standby 1 track FastEthernet0/1\n", ""),
        ROUTER2,
        "standby 1 on FastEthernet0/0 (inside) does not track FastEthernet0/1",
    ),
    (
        "redundancy-incomplete",
        "error",
        *both(" redundancy LAN\n", ""),
        "ssp group 1 redundancy does not include LAN (standby 1 on FastEthernet0/0, inside)",
    ),
    (
        "ssp-missing",
        "error",
        *[
            edit(
                edit(edit(text, "ssp group 1\n", "!\n"), "crypto isakmp ssp 1\n", ""),
                " crypto map CMAP_1 ssp 1\n",
                " crypto map CMAP_1\n",
            )
            .replace(" remote 172.16.31.6\n", "")
            .replace(" remote 172.16.31.100\n", "")
            .replace(" redundancy ISP\n redundancy LAN\n", "")
            for text in (ROUTER1, ROUTER2)
        ],
        "no ssp group",
    ),
    (
        "ssp-binding-missing",
        "error",
        *both(" crypto map CMAP_1 ssp 1\n", " crypto map CMAP_1\n"),
        "crypto map CMAP_1 on FastEthernet0/1 has no 'ssp ID'",
    ),
    (
        "ssp-binding-missing",
        "warning",
        *both("crypto isakmp ssp 1\n", ""),
        "no crypto isakmp ssp: IKE SAs are not replicated",
    ),
    (
        "preempt-missing",
        "error",
        *both(" standby 2 preempt\n standby 2 preempt delay minimum 30\n", ""),
        "standby 2 on FastEthernet0/1 has no preempt",
    ),
    (
        "standby-delay-missing",
        "warning",
        edit(
            ROUTER1,
            "255.255.255.0\n standby delay minimum 30 reload 60\n standby 2",
            "255.255.255.0\n standby 2",
        ),
        ROUTER2,
        "FastEthernet0/1 has no standby delay minimum/reload",
    ),
    (
        "priority-unequal",
        "error",
        ROUTER1,
        edit(ROUTER2, " standby 2 preempt\n", " standby 2 preempt\n standby 2 priority 110\n"),
        "outside standby 2 priority 100 on 7200-1 but 110 on 7200-2",
    ),
    (
        "hsrp-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, " standby 2 timers msec 500 3\n", " standby 2 timers 1 3\n"),
        "outside standby 2 differs between 7200-1 and 7200-2: hello ms 500 vs 1000",
    ),
    (
        "hsrp-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, " standby 2 ip 40.0.0.1\n", " standby 2 ip 40.0.0.2\n"),
        "virtual ip 40.0.0.1 vs 40.0.0.2",
    ),
    (
        "hsrp-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, "standby 2 name ISP\n", "standby 2 name ISP\n standby 2 authentication x\n"),
        "authentication (hidden) vs (different)",
    ),
    (
        "hsrp-mismatch",
        "error",
        ROUTER1,
        ROUTER2.replace("standby 2 ", "standby 3 "),
        "outside standby group 2 is configured on 7200-1 only",
    ),
    (
        "address-order-split",
        "error",
        SPLIT1,
        SPLIT2,
        "with equal priorities HSRP elects the higher interface address",
    ),
    (
        "election-split",
        "error",
        ROUTER1,
        edit(ROUTER2, " standby 1 preempt\n", " standby 1 preempt\n standby 1 priority 110\n"),
        "7200-2 would be Active on the inside (priority 100 on 7200-1, 110 on 7200-2) but "
        "7200-1 on the outside",
    ),
    (
        "policy-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, " group 2\n", " group 5\n"),
        "isakmp policy 1 differs between 7200-1 and 7200-2: group 2 vs 5",
    ),
    (
        "policy-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, "esp-3des esp-sha-hmac", "esp-3des esp-md5-hmac"),
        "transform-set TRANSFORMSET_1 differs between 7200-1 and 7200-2: transforms esp-3des "
        "esp-sha-hmac vs esp-3des esp-md5-hmac",
    ),
    (
        "policy-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, "192.168.4.0 0.0.0.255", "192.168.5.0 0.0.0.255"),
        "access-list 100 differs between 7200-1 and 7200-2: entry 1 differs",
    ),
    (
        "policy-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, "key cisco address", "key secret address"),
        "crypto isakmp key for 192.168.3.1 differs between 7200-1 and 7200-2: the keys differ",
    ),
    (
        "policy-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, " match address 100\n", " match address 100\n set pfs group2\n"),
        "crypto map CMAP_1 1 differs between 7200-1 and 7200-2: pfs (none) vs group2",
    ),
    (
        "policy-mismatch",
        "error",
        ROUTER1 + "crypto map CMAP_1 ha replay-interval inbound 500 outbound 2\n",
        ROUTER2,
        "crypto map CMAP_1 ha replay-interval differs",
    ),
    (
        "policy-mismatch",
        "error",
        ROUTER1 + "crypto ipsec security-association lifetime seconds 1800\n",
        ROUTER2,
        "lifetime seconds differs: 1800 on 7200-1, 3600 on 7200-2",
    ),
    (
        "policy-mismatch",
        "error",
        ROUTER1 + "crypto ipsec transform-set EXTRA esp-des\n",
        ROUTER2,
        "transform-set EXTRA is on 7200-1 only",
    ),
    (
        "card-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, "vpnha crypto-card vam\n", "vpnha crypto-card vam2\n"),
        "crypto card vam (capacity 10000) on 7200-1 but vam2",
    ),
    (
        "ssp-remote-mismatch",
        "error",
        edit(ROUTER1, " remote 172.16.31.6\n", " remote 40.0.0.6\n"),
        ROUTER2,
        "ssp group 1 remote 40.0.0.6 is not 7200-2's inside address 172.16.31.6 (that is its "
        "outside address",
    ),
    (
        "ssp-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, " redundancy LAN\n", " redundancy LAN\n port 4000\n"),
        "ssp group 1 differs between 7200-1 and 7200-2: port 3249 vs 4000",
    ),
    (
        "ssp-key-mismatch",
        "error",
        ROUTER1,
        edit(ROUTER2, "vpnha ssp-key ha-pair-secret\n", "vpnha ssp-key other\n"),
        "vpnha ssp-key differs between 7200-1 and 7200-2",
    ),
    (
        "ssp-key-default",
        "warning",
        edit(ROUTER1, "vpnha ssp-key ha-pair-secret\n", ""),
        edit(ROUTER2, "vpnha ssp-key ha-pair-secret\n", ""),
        "no vpnha ssp-key",
    ),
    (
        "interface-roles",
        "error",
        edit(ROUTER1, " crypto map CMAP_1 ssp 1\n", ""),
        ROUTER2,
        "no HSRP interface has a crypto map applied",
    ),
]


@pytest.mark.parametrize(
    ("code", "severity", "first", "second", "fragment"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_each_finding_code_fires_on_a_minimal_edit(
    code: str, severity: str, first: str, second: str, fragment: str
) -> None:
    assert code in FINDING_CODES
    findings = pair_findings(first, second)
    matching = [f for f in findings if f.code == code and fragment in f.message]
    assert matching, format_findings(findings)
    assert all(f.severity == severity for f in matching)
    # The clean pair has none of it.
    assert code not in codes(pair_findings(ROUTER1, ROUTER2))


def test_single_router_findings_carry_line_numbers() -> None:
    text = ROUTER1 + "crypto isakmp keepalive 10\n"
    (finding,) = lint_router(parse_config(text))
    assert finding.line == len(text.splitlines())
    assert finding.router == "7200-1"
    text = edit(ROUTER1, "esp-3des esp-sha-hmac", "esp-gcm 256")
    (finding,) = lint_router(parse_config(text))
    assert finding.code == "card-unsupported-transform"
    assert "TRANSFORMSET_1" in text.splitlines()[(finding.line or 0) - 1]


def test_software_card_supports_everything() -> None:
    text = edit(ROUTER1, "vpnha crypto-card vam\n", "")
    text = edit(text, "esp-3des esp-sha-hmac", "esp-gcm 256")
    text = edit(text, " authentication pre-share\n", " authentication rsa-encr\n")
    assert lint_router(parse_config(text)) == []


def test_priority_unequal_inside_attributes_lines() -> None:
    second = edit(ROUTER2, " standby 1 preempt\n", " standby 1 preempt\n standby 1 priority 90\n")
    findings = [f for f in pair_findings(ROUTER1, second) if f.code == "priority-unequal"]
    (finding,) = findings
    assert finding.message.startswith("inside standby 1 priority 100 on 7200-1 but 90 on 7200-2")
    assert finding.line is not None


def test_interface_roles_ambiguous() -> None:
    text = ROUTER1 + (
        "interface Fa0/2\n ip address 10.0.0.2 255.255.255.0\n standby 3 ip 10.0.0.1\n"
        " crypto map CMAP_1\n"
    )
    findings = lint_router(parse_config(text))
    assert "interface-roles" in codes(findings)
    assert any("several HSRP interfaces have a crypto map" in f.message for f in findings)


def test_only_outside_hsrp_is_a_warning() -> None:
    text = edit(ROUTER1, " standby 1 ip 172.16.31.1\n", "")
    text = edit(
        text,
        " standby 1 timers msec 500 3\n standby 1 preempt\n standby 1 preempt delay minimum 30\n",
        "",
    )
    text = edit(text, " standby 1 name LAN\n standby 1 track FastEthernet0/1\n", "")
    text = edit(text, " redundancy LAN\n", "")
    findings = lint_router(parse_config(text))
    assert [(f.code, f.severity) for f in findings] == [("interface-roles", "warning")]


def test_format_findings() -> None:
    findings = pair_findings(SPLIT1, SPLIT2)
    text = format_findings(findings)
    assert re.fullmatch(r"7200-1:\d+: error address-order-split: .+", text)
    no_line = Finding(severity="warning", code="x", router="r", line=None, message="m")
    assert format_findings([no_line, no_line]) == "r: warning x: m\nr: warning x: m"
    assert format_findings([]) == ""


def test_lint_files_exit_statuses(tmp_path: Path) -> None:
    assert lint_files(EXAMPLES / "router1.cfg", EXAMPLES / "router2.cfg")[1] == 0
    findings, status = lint_files(EXAMPLES / "split-router1.cfg", EXAMPLES / "split-router2.cfg")
    assert status == 1
    assert codes(findings) == {"address-order-split", "preempt-before-delay"}

    warned = tmp_path / "warned.cfg"
    warned.write_text(edit(ROUTER1, "crypto isakmp ssp 1\n", ""))
    other = tmp_path / "other.cfg"
    other.write_text(edit(ROUTER2, "crypto isakmp ssp 1\n", ""))
    findings, status = lint_files(warned, other)
    assert status == 0
    assert {f.severity for f in findings} == {"warning"}

    broken = tmp_path / "broken.cfg"
    broken.write_text(ROUTER1 + "standby 1 priority 300\nfrobnicate\n")
    findings, status = lint_files(broken, EXAMPLES / "router2.cfg")
    assert status == 2
    errors = [f for f in findings if f.code != "preempt-before-delay"]
    assert {f.code for f in errors} == {"parse-error"}
    assert [f.router for f in errors] == [str(broken)] * 2
    assert findings[0].line == len(ROUTER1.splitlines()) + 1

    findings, status = lint_files(tmp_path / "missing.cfg", broken)
    assert status == 2
    assert any("cannot read file" in f.message for f in findings)
    assert any(f.router == str(broken) for f in findings)


def test_parse_failure_still_lints_the_good_file(tmp_path: Path) -> None:
    good = tmp_path / "good.cfg"
    good.write_text(ROUTER1 + "crypto isakmp keepalive 10\n")
    broken = tmp_path / "broken.cfg"
    broken.write_text("frobnicate\n")
    findings, status = lint_files(good, broken)
    assert status == 2
    assert codes(findings) == {"parse-error", "ike-keepalive"}


# ---------------------------------------------------------------------------
# Lint never raises on anything that parses


@st.composite
def edited_pair(draw: st.DrawFn) -> tuple[str, str]:
    texts = [ROUTER1, ROUTER2]
    edits = st.sampled_from(
        [
            (" standby 1 preempt\n", " standby 1 priority 50\n"),
            (" standby 2 track FastEthernet0/0\n", ""),
            (" redundancy ISP\n", ""),
            (" crypto map CMAP_1 ssp 1\n", ""),
            (" ip address 40.0.0.", " ip address 40.0.0.2"),
            (" ip address 172.16.31.", " ip address 172.16.31.2"),
            ("crypto-card vam\n", "crypto-card vam2\n"),
            ("esp-3des", "esp-aes 192"),
            (" encr 3des\n", " encr aes\n"),
            ("interface FastEthernet0/0\n", "interface FastEthernet0/5\n"),
            (" standby 1 timers msec 500 3\n", ""),
            (" group 2\n", ""),
            (" description INSIDE_INTERFACE\n", " crypto map CMAP_1\n"),
        ]
    )
    for _ in range(draw(st.integers(0, 5))):
        which = draw(st.integers(0, 1))
        old, new = draw(edits)
        texts[which] = texts[which].replace(old, new, 1)
    return texts[0], texts[1]


@given(edited_pair())
def test_lint_never_raises(texts: tuple[str, str]) -> None:
    try:
        first, second = parse_config(texts[0]), parse_config(texts[1])
    except ConfigError:
        return
    findings = lint_pair(first, second)
    for finding in findings:
        assert finding.code in FINDING_CODES
        assert finding.severity in ("error", "warning")
        assert str(finding)
