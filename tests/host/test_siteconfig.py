"""The YAML site file: round-trip edits, validation naming path, value and
rule, atomic commit to the daemon's JSON, rollback."""

import json
import os

import pytest

from outpost.runtime import config as configmod
from outpost.runtime.schema import Invalid
from outpost.runtime.siteconfig import SiteConfig, parse_path
from outpost.core import digest

SITE = """\
# Branch 17, Lyon. Phones on lan0, ITSP trunk on wan0.
sip:
  domain: example.com   # the ITSP's domain
  listen:
    - transport: udp
      address: 192.0.2.1
      port: 5060
# Keep registrations short so failover is quick.
registrar:
  default_expires: 600
"""


@pytest.fixture
def site(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE)
    return SiteConfig(str(tmp_path))


def test_set_keeps_comments_order_and_formatting(site):
    site.set("registrar.default_expires", "900")
    site.set("sip.listen[0].port", "5070")
    text = site.text()
    assert "# Branch 17, Lyon." in text and "# the ITSP's domain" in text and "# Keep registrations short" in text
    assert text.index("sip:") < text.index("registrar:") and "default_expires: 900" in text and "port: 5070" in text
    assert site.dirty and "-  default_expires: 600" in site.diff() and "+  default_expires: 900" in site.diff()


def test_commit_writes_yaml_json_and_history_atomically(site, tmp_path):
    site.set("registrar.default_expires", "900")
    r = site.commit(comment="shorter registrations")
    assert r.state == "committed" and "+  default_expires: 900" in r.changes and not site.dirty
    assert configmod.load(str(tmp_path / "outpost.json"))["registrar"]["default_expires"] == 900
    assert site.history.text(1) == SITE and site.history.text(0) == (tmp_path / "outpost.yaml").read_text()
    assert [e[3] for e in site.history.entries()] == ["shorter registrations", ""]
    assert "# Branch 17, Lyon." in (tmp_path / "outpost.yaml").read_text()


def test_a_rejected_commit_changes_nothing_and_names_every_error(site, tmp_path):
    site.commit()
    before = [(tmp_path / f).read_text() for f in ("outpost.yaml", "outpost.json")]
    site.replace(SITE.replace("port: 5060", "port: 70000").replace("default_expires: 600", "default_expires: abc")
                 .replace("domain:", "domian:"))
    with pytest.raises(Invalid) as e:
        site.commit()
    assert e.value.errors == [
        "sip.domian: unknown key (did you mean 'domain'?)",
        "sip.domain: is required",
        "sip.listen[0].port: 70000 is not a port (1-65535)",
        "registrar.default_expires: 'abc' is not a whole number",
    ]
    assert [(tmp_path / f).read_text() for f in ("outpost.yaml", "outpost.json")] == before


def test_set_checks_the_value_against_the_schema_where_it_is_typed(site):
    """#13 finding 4 and 9: set took anything until commit; lists lost their text."""
    for path, value, error in (
            ("sip.listen[0].port", "70000", "sip.listen[0].port: 70000 is not a port (1-65535)"),
            ("registrar.default_expires", "abc", "registrar.default_expires: 'abc' is not a whole number"),
            ("upstream.transport", "sctp", "upstream.transport: 'sctp' is not one of 'udp', 'tcp'"),
            ("interfaces.lan0.address", "10.20.0.300/24", "interfaces.lan0.address: '10.20.0.300/24' is not an IPv4 address with a prefix"),
            ("interfaces.lan0.address", "10.20.0.1/33", "interfaces.lan0.address: '10.20.0.1/33' is not an IPv4 address with a prefix"),
            ("media.lan_gateways", "[192.0.2.256]", "media.lan_gateways[0]: '192.0.2.256' is not an IPv4 address"),
            ("upstream.host", "pbx..example.com", "upstream.host: 'pbx..example.com' is not a host name or IP address"),
            ("survival.fallback_patterns", "0X.", "survival.fallback_patterns: is a list: write [a, b]"),
            ("log.syslog", "maybe", "log.syslog: 'maybe' is not true or false")):
        with pytest.raises(Invalid) as e:
            site.set(path, value)
        assert e.value.errors[0].startswith(error), e.value.errors
    with pytest.raises(KeyError, match="sip.domian: unknown key \\(did you mean 'domain'\\?\\)"):
        site.set("sip.domian", "example.org")
    assert not site.dirty  # nothing refused was stored
    site.set("survival.fallback_patterns", "[0X., 00.]")
    site.set("survival.emergency_numbers", "[112,999]")
    site.add("survival.emergency_numbers", "000")
    site.set("upstream.host", "pbx.hq.example.com")
    assert site.get("survival.fallback_patterns") == ["0X.", "00."]
    assert site.get("survival.emergency_numbers") == ["112", "999", "000"]
    assert site.errors() == ["upstream.host: relaying to pbx.hq.example.com needs interfaces.lan0.address (the phones' network)"]


def test_rollback_restores_the_previous_commit(site, tmp_path):
    site.commit()
    site.set("registrar.default_expires", "1200")
    site.commit()
    site.rollback()
    assert site.dirty and "+  default_expires: 600" in site.diff()  # a candidate, as in Junos
    site.commit(comment="back")
    assert configmod.load(str(tmp_path / "outpost.json"))["registrar"]["default_expires"] == 600
    assert "# Keep registrations short" in (tmp_path / "outpost.yaml").read_text()


def test_a_password_is_stored_as_ha1_only(site):
    site.set("users.alice.password", "s3cret-alice")
    text = site.text()
    assert "s3cret-alice" not in text
    assert site.get("users.alice.ha1.SHA-256") == digest.ha1("SHA-256", "alice", "example.com", "s3cret-alice")
    assert site.get("users.alice.ha1.MD5") == digest.ha1("MD5", "alice", "example.com", "s3cret-alice")
    site.commit()


def test_delete_revert_and_path_errors(site):
    site.delete("registrar.default_expires")
    assert "default_expires" not in site.text()
    site.revert()
    assert not site.dirty
    with pytest.raises(KeyError):
        site.delete("registrar.nothing")
    with pytest.raises(KeyError):
        site.get("sip.listen[3].port")
    for bad_path in ("sip..domain", "sip.listen[x]", ""):
        with pytest.raises(ValueError):
            parse_path(bad_path)
    assert parse_path("sip.listen[0].port") == ["sip", "listen", 0, "port"]
    site.set("sip.listen[1]", "{transport: tcp, address: 192.0.2.1, port: 5060}")  # append a list entry
    assert site.errors() == []


def test_the_images_default_site_file_and_json_say_the_same():
    """rootfs_overlay ships both: the YAML people edit and the JSON the daemon
    reads before anyone has committed anything."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "rootfs_overlay", "etc", "outpost")
    site = SiteConfig(root)
    assert site.errors() == []
    with open(os.path.join(root, "outpost.json")) as f:
        assert json.loads(json.dumps(site.data)) == json.load(f)


def test_the_whole_router_schema_names_field_value_and_rule(tmp_path):
    bad = SITE + """\
upstream:
  host: pbx.hq.example.com
  transport: sctp
media:
  port_min: 30000
  idle_timeout_s: 5
survival:
  fallback_patterns: ["0XXXXXXXXX", "call-me"]
users:
  bob:
    ha1: {MD5: "00112233445566778899aabbccddeeff"}
    networks: [192.0.2.0/24, lan]
"""
    (tmp_path / "outpost.yaml").write_text(bad)
    errs = SiteConfig(str(tmp_path)).errors()
    assert "upstream.transport: 'sctp' is not one of 'udp', 'tcp'" in errs
    assert "media.port_min: 30000 is outside the media range the firewall guards (40000-49999)" in errs
    assert "media.idle_timeout_s: 5 is not in 10-3600" in errs
    assert "survival.fallback_patterns[1]: 'call-me' is not a dial pattern (digits, X, [..], .)" in errs
    assert "users.bob.networks[1]: 'lan' is not an IPv4 address with a prefix length 0-32 (like 192.0.2.1/24)" in errs
    good = SITE + "upstream: {host: pbx.hq.example.com}\nsurvival: {fallback_trunk: 192.0.2.50}\n"
    (tmp_path / "outpost.yaml").write_text(good)
    assert SiteConfig(str(tmp_path)).errors() == [
        "upstream.host: relaying to pbx.hq.example.com needs interfaces.lan0.address (the phones' network)"]
    good += "interfaces: {lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}}\n"
    (tmp_path / "outpost.yaml").write_text(good)
    site = SiteConfig(str(tmp_path))
    assert site.errors() == []
    site.commit()
    cfg = configmod.load(str(tmp_path / "outpost.json"))
    assert cfg["survival"]["probe_interval_s"] == 10 and cfg["survival"]["emergency_numbers"] == ["112", "911"]
    assert cfg["media"] == {"port_min": 40000, "port_max": 49999, "idle_timeout_s": 120, "max_call_s": 14400, "max_calls": 500, "lock": "sdp", "lan_gateways": []}


def test_interfaces_are_validated_and_written_for_boot(tmp_path):
    (tmp_path / "outpost.yaml").write_text(SITE + "interfaces:\n  lan0: {mac: '52:54:00:4f:50:01', method: static}\n  wan0: {mac: 'zz', method: dhcp}\n")
    site = SiteConfig(str(tmp_path))
    assert site.errors() == ["interfaces.wan0.mac: 'zz' is not a MAC address (like 52:54:00:4f:50:01)",
                             "interfaces.lan0.address: required when method is static"]  # every error at once
    site.set("interfaces.wan0.mac", "'52:54:00:4f:50:02'")
    assert site.errors() == ["interfaces.lan0.address: required when method is static"]
    site.set("interfaces.lan0.address", "192.0.2.1/24")
    site.commit()
    assert (tmp_path / "interfaces").read_text().splitlines()[1:] == [
        "lan0 52:54:00:4f:50:01 static 192.0.2.1/24 -", "wan0 52:54:00:4f:50:02 dhcp - -"]


def test_digest_algorithms_default_to_md5_and_are_set_per_user_or_network(site):
    """The common phones (baresip 1.0, many desk phones) give up on any
    SHA-256 challenge: MD5 by default; SHA-256 where the admin says. A list
    a user's phone would meet without an HA1 for it is an error naming
    the user, the field and the list."""
    site.set("users.alice.password", "s3cret-alice")
    site.commit()
    cfg = configmod.check(configmod.validate(configmod.SCHEMA, site._plain()))
    assert cfg["auth"]["algorithms"] == ["MD5"]
    site.set("auth.by_network", "[{network: 192.0.2.128/25, algorithms: [SHA-256, MD5]}]")
    site.set("users.alice.algorithms", "[SHA-256]")
    assert site.errors() == []
    auth = configmod.proxy_config(configmod.check(configmod.validate(configmod.SCHEMA, site._plain())), b"k" * 32).authenticator
    assert auth.offered("alice", "192.0.2.10") == ("SHA-256",)
    assert auth.offered("bob", "192.0.2.130") == ("SHA-256", "MD5") and auth.offered("bob", "192.0.2.10") == ("MD5",)
    site.delete("users.alice.ha1.SHA-256")
    assert any("users.alice.ha1: needs a value for one of SHA-256 (users.alice.algorithms)" in e for e in site.errors()), site.errors()
    with pytest.raises(Invalid, match="auth.by_network\\[0\\].algorithms\\[0\\]: 'MD4' is not one of"):
        site.set("auth.by_network[0].algorithms", "[MD4]")


def test_a_static_wan_has_a_gateway_and_dns_servers(tmp_path):
    """#13 finding 8: static WAN had no gateway and no DNS servers, so an
    upstream given by name could never be resolved."""
    (tmp_path / "outpost.yaml").write_text(SITE + "interfaces:\n  lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}\n"
                                           "  wan0: {mac: '52:54:00:4f:50:02', address: 203.0.113.2/24, gateway: 198.51.100.1}\n")
    site = SiteConfig(str(tmp_path))
    assert site.errors() == ["interfaces.wan0.gateway: 198.51.100.1 is not in wan0's network 203.0.113.0/24"]
    site.set("interfaces.wan0.gateway", "203.0.113.1")
    site.set("interfaces.wan0.dns", "[203.0.113.53, 198.51.100.53]")
    site.commit()
    assert (tmp_path / "interfaces").read_text().splitlines()[1:] == [
        "lan0 52:54:00:4f:50:01 static 192.0.2.1/24 -", "wan0 52:54:00:4f:50:02 static 203.0.113.2/24 203.0.113.1"]
    assert (tmp_path / "resolv.conf").read_text() == "nameserver 203.0.113.53\nnameserver 198.51.100.53\n"
    site.set("interfaces.wan0.method", "dhcp")
    assert "interfaces.wan0.gateway: gateway and dns are for method static (dhcp brings its own)" in site.errors()
    site.delete("interfaces.wan0.gateway")
    site.delete("interfaces.wan0.dns")
    site.delete("interfaces.wan0.address")
    site.commit()
    assert not (tmp_path / "resolv.conf").exists()  # the lease's servers again


def test_renumbering_lan0_names_the_advertised_address_left_behind(tmp_path):
    """#13 finding 6: sip.advertise stayed the old LAN address after renumbering."""
    (tmp_path / "outpost.yaml").write_text(SITE + "interfaces:\n  lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}\n")
    site = SiteConfig(str(tmp_path))
    site.set("sip.advertise", "192.0.2.1")
    assert site.errors() == []
    site.set("interfaces.lan0.address", "192.0.2.254/24")
    assert site.errors() == ["sip.listen[0].address: 192.0.2.1 is in lan0's network but is not lan0's address (192.0.2.254)",
                             "sip.advertise: 192.0.2.1 is in lan0's network but is not lan0's address (192.0.2.254): renumbered?"]
    site.set("interfaces.lan0.address", "10.1.1.1/24")  # renumbered to another network altogether
    site.set("sip.listen[0].address", "0.0.0.0")
    assert site.errors() == ["sip.advertise: 192.0.2.1 is a private address outside lan0's network 10.1.1.0/24: renumbered?"]


def test_listeners_that_cannot_both_bind_are_refused(site):
    """Found by a newcomer on the image: a second udp 0.0.0.0:5060 passed
    commit check, and the daemon then could not start."""
    site.add("sip.listen", "{transport: udp, address: 0.0.0.0, port: 5060}")
    site.add("sip.listen", "{transport: tcp, address: 0.0.0.0, port: 5060}")  # another transport: fine
    assert site.errors() == ["sip.listen[1]: udp 0.0.0.0:5060 takes the port sip.listen[0] (192.0.2.1:5060) binds already"]


DIALPLAN_SITE = SITE + """\
interfaces: {lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}}
upstream: {host: pbx.hq.example.com}
users:
  alice: {ha1: {MD5: "00112233445566778899aabbccddeeff"}}
dialplan:
  - {target: upstream}
  - {regex: '(0\\d)+', target: upstream}
  - {regex: '^0(\\d+)$', replace: '+49${2}', target: upstream}
  - {match: '00.', callers: [alice, mallory], target: upstream}
  - {match: '0.', target: trunk}
  - {match: '0.', target: voicemail}
  - {match: '0900.', target: refuse, status: 200}
  - {match: '0.', prepend: '9', replace: '${0}', target: upstream}
  - {match: '0.', regex: '0', target: upstream}
  - {match: 00., target: upstream}
  - {match: '00.', groups: [sales], target: upstream}
"""


def test_dial_plan_rules_are_checked_naming_their_index(tmp_path):
    (tmp_path / "outpost.yaml").write_text(DIALPLAN_SITE)
    errs = SiteConfig(str(tmp_path)).errors()
    assert errs == [
        "dialplan[5].target: 'voicemail' is not one of 'upstream', 'trunk', 'local', 'refuse'",
        "dialplan[6].status: 200 is not a failure status (400-699)",
        "dialplan[9].match: 0.0 is not a string (YAML read a number: put it in quotes, like '00.')",
        "dialplan[0]: needs match (a dial pattern) or regex, one of them",
        "dialplan[1].regex: '(0\\d)+' repeats a group (a caller's number could make it backtrack for long)",
        "dialplan[2].replace: ${2} names a group the regex does not have (it has 1)",
        "dialplan[3].callers[1]: 'mallory' is not one of users (a caller is a user who proved who they are)",
        "dialplan[4].target: 'trunk' needs survival.fallback_trunk",
        "dialplan[7].prepend: give prepend or replace, not both",
        "dialplan[8].regex: give match or regex, not both",
        "dialplan[10].groups[0]: 'sales' is no user's group (users.NAME.groups)",
    ], errs


def test_a_good_dial_plan_reaches_the_core(tmp_path):
    good = SITE + """\
interfaces: {lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}}
upstream: {host: 198.51.100.10}
survival: {fallback_trunk: '203.0.113.50:5080', emergency_numbers: ['112']}
users:
  ann: {ha1: {MD5: "00112233445566778899aabbccddeeff"}, groups: [sales]}
dialplan:
  - {match: '00.', groups: [sales], target: upstream}
  - {match: '0900.', target: refuse, status: 403, reason: No premium numbers}
  - {regex: '^0(\\d+)$', replace: '+4930${1}', target: upstream, state: normal}
  - {match: '0.', strip: 1, prepend: '+4930', target: trunk, state: survival}
"""
    (tmp_path / "outpost.yaml").write_text(good)
    site = SiteConfig(str(tmp_path))
    assert site.errors() == []
    site.commit()
    cfg = configmod.load(str(tmp_path / "outpost.json"))
    pc = configmod.proxy_config(cfg, b"k" * 32, ["192.0.2.1"], "198.51.100.1")
    assert pc.survival.trunk == ("udp", "203.0.113.50", 5080, None)  # host:port, as the README says
    plan = pc.dialplan
    assert plan.route("112", "normal").rule == "emergency"
    assert plan.route("0044", "normal", "ann", True).target == "upstream" and plan.route("0044", "normal", None, True).rule == 2
    assert (plan.route("09001", "normal").status, plan.route("09001", "normal").reason) == (403, "No premium numbers")
    assert plan.route("0301234", "normal").number == "+4930301234"
    assert (plan.route("0301234", "survival").number, plan.route("0301234", "survival").target) == ("+4930301234", "trunk")


def test_the_fallback_trunk_takes_host_or_host_port_as_documented(tmp_path):
    """The README said host or host:port; the schema took only a host."""
    base = SITE + "interfaces: {lan0: {mac: '52:54:00:4f:50:01', address: 192.0.2.1/24}}\nupstream: {host: 198.51.100.10}\n"
    for value, error in (("sip.example.net:5080", None), ("203.0.113.50", None), ("203.0.113.50:0", "with a port 1-65535"),
                         ("[2001:db8::1]:5060", "is not host or host:port"), ("203.0.113.50:5060:1", "is not host or host:port")):
        (tmp_path / "outpost.yaml").write_text(base + "survival: {fallback_trunk: '%s'}\n" % value)
        errs = SiteConfig(str(tmp_path)).errors()
        assert (errs == []) if error is None else (len(errs) == 1 and errs[0].startswith("survival.fallback_trunk: ") and error in errs[0]), errs
