"""Real softphones for the interop tests, each in a namespace of the site:
Debian's baresip (driven over its ctrl_tcp socket) and linphonec (driven
over its stdin, read back from its stdout).

Phones are configured as they are in the field: the account's AOR is
sip:USER@hq.example.com and its outbound proxy is the router (LAN phones)
or Kamailio (WAN phones), so every request carries a preloaded
`Route: <sip:PROXY;lr>` and nobody needs DNS. Media is PCMU/PCMA only, on
a fixed RTP port per phone, so SDP and captures are predictable. No
sound card: baresip sends a sine tone and plays to ALSA's null device,
linphonec plays a .wav of its own to the far end.
Every process is started here and stopped here, by PID.
"""

import ctypes
import json
import os
import queue
import re
import socket
import subprocess
import threading
import time

from routersite import DOMAIN, ns_popen, stop

CLONE_NEWNET = 0x40000000
MODULES = "/usr/lib/baresip/modules"
CTRL_PORT = 4444

# baresip 1.0.0's ausine makes 48 kHz stereo only; the core resamples it to
# the codec's 8 kHz. rtp_stats adds X-RTP-Stat to each BYE, as deployed
# phones do for the PBX's call-quality records. net_interface takes an
# address: without it baresip uses the interface's first one for SDP and
# RTP, and phones sharing a namespace would all claim that one.
BARESIP_CONFIG = """\
poll_method\t\tepoll
net_interface\t\t{ip}
sip_listen\t\t{ip}:{sip_port}
sip_trans_def\t\tudp
audio_player\t\talsa,null
audio_alert\t\talsa,null
audio_source\t\tausine,440
ausrc_srate\t\t48000
ausrc_channels\t\t2
rtp_ports\t\t{rtp_port}-{rtp_port_end}
rtp_stats\t\tyes
module_path\t\t{modules}
module\t\t\tg711.so
module\t\t\tausine.so
module\t\t\talsa.so
module_app\t\taccount.so
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t{ip}:{ctrl_port}
"""


STATUS_LINE = re.compile(r"\[\d+:\d\d:\d\d\] audio=\d+/\d+ \(bit/s\)\s*")


class PhoneError(AssertionError):
    pass


class Baresip:
    """One baresip user agent at `ip` in namespace `ns`. Its SIP trace (-s)
    and log go to WORK/NAME.log; events arrive on the control socket."""

    def __init__(self, work, ns, ip, user, proxy, rtp_port, name=None, sip_port=5060):
        self.ns, self.ip, self.user, self.proxy = ns, ip, user, proxy
        self.rtp_port, self.sip_port = rtp_port, sip_port
        self.name = name or user
        self.dir = os.path.join(str(work), self.name)
        self.log_path = self.dir + ".log"
        self.aor = "sip:%s@%s" % (user, DOMAIN)
        self.proc = self.sock = None
        self.events = queue.Queue()
        self.responses = queue.Queue()
        self.backlog = []  # events read past while waiting for another type

    def account(self):
        # The outbound proxy without ;lr: baresip appends its own, and with
        # one here the Route would read <sip:X;lr;lr>.
        return ('<%s>;auth_user=%s;auth_pass=%s-secret;outbound="sip:%s";answermode=auto;'
                'audio_codecs=PCMU,PCMA;regint=600' % (self.aor, self.user, self.user, self.proxy))

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "config"), "w") as f:
            # Two ports: RTP on the even one, RTCP on the next.
            f.write(BARESIP_CONFIG.format(ip=self.ip, sip_port=self.sip_port, rtp_port=self.rtp_port,
                                          rtp_port_end=self.rtp_port + 1, modules=MODULES, ctrl_port=CTRL_PORT))
        # No account at start: it is added over the socket (register()), so
        # that REGISTER_OK cannot happen before anyone listens for it.
        open(os.path.join(self.dir, "accounts"), "w").close()
        self.proc = ns_popen(self.ns, ["baresip", "-f", self.dir, "-s", "-v"], open(self.log_path, "ab"))
        self.sock = self._connect()
        threading.Thread(target=self._reader, daemon=True).start()
        return self

    def _connect(self, timeout=10):
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PhoneError("%s: baresip exited %s\n%s" % (self.name, self.proc.returncode, self.log()[-2000:]))
            try:
                return ns_connect(self.ns, self.ip, CTRL_PORT)
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def _reader(self):
        """Netstrings of JSON: responses (to our commands) and events."""
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b":" in buf:
                head, _, rest = buf.partition(b":")
                n = int(head)
                if len(rest) < n + 1:
                    break
                msg, buf = json.loads(rest[:n]), rest[n + 1:]
                (self.responses if msg.get("response") else self.events).put(msg)

    def command(self, cmd, params="", timeout=5):
        payload = json.dumps({"command": cmd, "params": params, "token": cmd}).encode()
        self.sock.sendall(b"%d:%s," % (len(payload), payload))
        try:
            r = self.responses.get(timeout=timeout)
        except queue.Empty:
            raise PhoneError("%s: no answer to %s\n%s" % (self.name, cmd, self.log()[-2000:]))
        if not r.get("ok"):
            raise PhoneError("%s: %s %s failed: %r" % (self.name, cmd, params, r))
        return r.get("data", "")

    def wait_event(self, kind, timeout=10, fail=()):
        """The next event of type `kind` (earlier ones of other types are
        kept for later waits); an event of a type in `fail` raises."""
        for i, ev in enumerate(self.backlog):
            if ev["type"] == kind:
                return self.backlog.pop(i)
        deadline = time.time() + timeout
        while True:
            try:
                ev = self.events.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                raise PhoneError("%s: no %s within %.0f s (backlog %s)\n%s" % (
                    self.name, kind, timeout, [e["type"] for e in self.backlog], self.log()[-3000:]))
            if ev["type"] == kind:
                return ev
            if ev["type"] in fail:
                raise PhoneError("%s: %s while waiting for %s: %r\n%s" % (self.name, ev["type"], kind, ev, self.log()[-3000:]))
            self.backlog.append(ev)

    def forget_events(self):
        self.backlog = []
        while not self.events.empty():
            self.events.get_nowait()

    # -- what a user does ------------------------------------------------------------

    def register(self):
        self.command("uanew", self.account())

    def wait_registered(self, timeout=10):
        return self.wait_event("REGISTER_OK", timeout, fail=("REGISTER_FAIL",))

    def dial(self, uri):
        self.command("dial", uri)

    def answer(self):
        self.command("accept")

    def hold(self):
        self.command("hold")

    def resume(self):
        self.command("resume")

    def hangup(self):
        self.command("hangup")

    def hangup_all(self):
        """Whatever calls are up, ended (no error if none is)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for _ in range(4):
            try:
                self.hangup()
            except PhoneError:
                break
        time.sleep(0.5)
        self.forget_events()

    def wait_established(self, timeout=15):
        return self.wait_event("CALL_ESTABLISHED", timeout, fail=("CALL_CLOSED",))

    def wait_closed(self, timeout=10):
        return self.wait_event("CALL_CLOSED", timeout)

    def log(self):
        """The SIP trace and log, less the call-status line baresip redraws
        (with \\r) every 100 ms of a call."""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return STATUS_LINE.sub("", text)

    def stop(self):
        if self.sock is not None:
            self.sock.close()
        stop(self.proc)


def ns_connect(ns, ip, port):
    """A TCP socket connected from inside namespace `ns`. setns() moves only
    the calling thread, so a short-lived thread makes the socket there and
    the test process itself stays where it was; the socket keeps its
    namespace for life."""
    out = {}

    def work():
        libc = ctypes.CDLL(None, use_errno=True)
        with open("/run/netns/" + ns) as f:
            if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                out["error"] = OSError(ctypes.get_errno(), "setns " + ns)
                return
        try:
            out["sock"] = socket.create_connection((ip, port), timeout=2)
        except OSError as e:
            out["error"] = e

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    out["sock"].settimeout(None)
    return out["sock"]


# linphonec has no control socket: commands go to its stdin, and what it
# prints (one line per state change) is its event stream.
LINPHONE_EVENTS = (
    ("REGISTER_OK", re.compile(r"to \[LinphoneRegistrationOk\]")),
    ("REGISTER_FAIL", re.compile(r"to \[LinphoneRegistrationFailed\]")),
    ("CALL_ESTABLISHED", re.compile(r"Call \d+ with \S+ connected")),
    ("CALL_CLOSED", re.compile(r"Call \d+ with \S+ (ended|error)")),
)

LINPHONE_VOICE = "/usr/share/sounds/linphone/hello8000.wav"

LINPHONE_RC = """\
[sip]
sip_port=5060
sip_tcp_port=-1
sip_tls_port=-1
default_proxy=0
[rtp]
audio_rtp_port={rtp_port}
[sound]
echocancellation=0
[proxy_0]
reg_proxy=<sip:{proxy};transport=udp>
reg_route=<sip:{proxy};lr>
reg_identity={aor}
reg_expires=600
reg_sendregister=1
[auth_info_0]
username={user}
passwd={user}-secret
realm={domain}
"""


class Linphonec(Baresip):
    """linphonec (liblinphone) as a second, independent phone; the same
    calls as Baresip where it has them. It must be the only host of its
    namespace: it binds the wildcard address and its Contact takes the
    first one. Registration starts with the process (its rc's proxy)."""

    def start(self):
        os.makedirs(os.path.join(self.dir, ".local", "share", "linphone"), exist_ok=True)
        rc = os.path.join(self.dir, "linphonerc")
        with open(rc, "w") as f:
            f.write(LINPHONE_RC.format(rtp_port=self.rtp_port, proxy=self.proxy, aor=self.aor, user=self.user, domain=DOMAIN))
        # HOME: without a writable database directory liblinphone never
        # opens its SIP listening point ("No listening point matching").
        env = dict(os.environ, HOME=self.dir)
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "linphonec", "-a", "-S", "-c", rc, "-d", "1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        threading.Thread(target=self._reader, daemon=True).start()
        # No sound card here: its .wav file player and recorder instead, and
        # a voice from linphone's own sounds to send (else it sends nothing).
        self.command("soundcard use files")
        self.command("play", LINPHONE_VOICE)
        return self

    def _reader(self):
        for raw in iter(self.proc.stdout.readline, b""):
            self.log_file.write(raw)
            self.log_file.flush()
            line = raw.decode(errors="replace")
            for kind, pattern in LINPHONE_EVENTS:
                if pattern.search(line):
                    self.events.put({"type": kind, "line": line.strip()})

    def command(self, cmd, params=""):
        self.proc.stdin.write(("%s %s\n" % (cmd, params)).strip().encode() + b"\n")
        self.proc.stdin.flush()

    def register(self):
        pass  # linphonec registers its rc's proxy by itself

    def dial(self, uri):
        self.command("call", uri)

    def answer(self):
        self.command("answer")

    def hold(self):
        self.command("pause")

    def resume(self):
        self.command("resume")

    def hangup(self):
        self.command("terminate")

    def hangup_all(self):
        if self.proc is not None and self.proc.poll() is None:
            self.command("terminate all")
            time.sleep(0.5)
            self.forget_events()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop(self.proc)
        if self.proc is not None:
            self.log_file.close()
