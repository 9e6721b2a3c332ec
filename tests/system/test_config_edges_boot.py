"""#13: nothing that passes validation may stop the daemon or the network
from coming up. Every schema field at the low edge of its rule, then at the
high edge, applied to the booted image with outpost-console: the daemon
restarts on each and runs, and after a reboot on the high edges lan0 has
its address and the daemon runs."""

import json
import re
import time

from test_admin_console import PASSWORD, _after_reboot, tool
from test_config_edges import edge_config
from vm import VM


def site(tmp_path, which):
    cfg = edge_config(tmp_path, 5060, which)
    cfg.pop("state")  # the router's own: the data disk
    cfg["interfaces"] = {"lan0": {"mac": "52:54:00:4f:50:01", "address": "192.0.2.1/24"},
                         "wan0": {"mac": "52:54:00:4f:50:02", "method": "dhcp"}}
    cfg["sip"]["listen"] = [{"transport": "udp", "address": "0.0.0.0", "port": 5060}]
    cfg["upstream"] = {"host": "203.0.113.10"}
    cfg["users"] = {"alice": {"password": "alice-branch-17"}}
    path = tmp_path / ("%s.yaml" % which)
    path.write_text(json.dumps(cfg, indent=1))  # JSON is YAML
    return path


def running(vm, tmp_path, capsys):
    assert tool(vm, tmp_path, "run", "restart") == 0, capsys.readouterr()
    assert re.match(r"restart: daemon running again \(pid \d+\)$", capsys.readouterr().out.strip())
    assert tool(vm, tmp_path, "run", "show status") == 0
    status = capsys.readouterr().out
    assert re.search(r"^daemon +running, pid \d+", status, re.M) and "listen error" not in status, status
    return status


def test_every_field_at_its_edges_runs_on_the_image(tmp_path, capsys):
    vm = VM(tmp_path).boot(login=False)
    try:
        (tmp_path / "pw").write_text(PASSWORD + "\n")
        for which in ("low", "high"):
            assert tool(vm, tmp_path, "apply", str(site(tmp_path, which))) == 0, capsys.readouterr().err
            capsys.readouterr()
            running(vm, tmp_path, capsys)
        admin = _after_reboot(vm)
        admin.answer("reboot", "yes")
        admin.link.ser.close()
        time.sleep(3)
        admin = _after_reboot(vm)
        status = admin("show status")
        admin.close()
        assert re.search(r"^daemon +running, pid \d+", status, re.M), status
        assert re.search(r"^interfaces +lan0 192\.0\.2\.1/24", status, re.M), status
    finally:
        vm.kill()
