"""A private arm64 apt for the Debian backend: lists, dependency closure,
pinned downloads. Nothing here touches the host's dpkg: apt runs with its
own state, lists, cache and an empty status file under dl/apt/, and with
APT::Architecture=arm64. Sources are the host's own (its /etc/apt), so the
image comes from the same archive the machine already trusts.
"""

import glob
import hashlib
import os
import subprocess


def host_sources():
    """(uri, suite, components, signed_by) from the host's deb822 and one-line sources."""
    out = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in open(path).read().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[0] in " \t":
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
                continue
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    out.append((uri, suite, fields.get("components", "main"), fields.get("signed-by")))
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if not os.path.exists(path):
            continue
        for line in open(path):
            parts = line.split("#", 1)[0].split()
            if not parts or parts[0] != "deb":
                continue
            parts = parts[1:]
            signed = None
            if parts[0].startswith("["):
                opts = []
                while parts and not parts[0].endswith("]"):
                    opts.append(parts.pop(0))
                opts.append(parts.pop(0))
                for o in " ".join(opts).strip("[]").split():
                    if o.startswith("signed-by="):
                        signed = o.split("=", 1)[1]
            out.append((parts[0], parts[1], " ".join(parts[2:]), signed))
    return out


class Apt:
    def __init__(self, root):
        self.root = root = os.path.abspath(root)  # apt reads relative paths against /etc/apt
        for d in ("lists/partial", "cache/archives/partial", "etc/sources.list.d", "etc/preferences.d"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        self.status = os.path.join(root, "status")
        open(self.status, "a").close()
        sources = host_sources()
        if not sources:
            raise SystemExit("build.sh: the host has no apt sources to take the arm64 packages from")
        with open(os.path.join(root, "etc", "sources.list"), "w") as f:
            for uri, suite, comps, signed in sources:
                opt = "arch=arm64" + (" signed-by=" + signed if signed else "")
                f.write("deb [%s] %s %s %s\n" % (opt, uri, suite, comps))

    def options(self):
        r = self.root
        return ["-o", "Dir::Etc::SourceList=" + os.path.join(r, "etc", "sources.list"),
                "-o", "Dir::Etc::SourceParts=" + os.path.join(r, "etc", "sources.list.d"),
                "-o", "Dir::Etc::Preferences=/dev/null",
                "-o", "Dir::Etc::PreferencesParts=" + os.path.join(r, "etc", "preferences.d"),
                "-o", "Dir::State::Lists=" + os.path.join(r, "lists"),
                "-o", "Dir::State::status=" + self.status,
                "-o", "Dir::Cache=" + os.path.join(r, "cache"),
                "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
                "-o", "APT::Architecture=arm64", "-o", "APT::Architectures::=arm64",
                "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1",
                "-o", "APT::Get::List-Cleanup=0"]

    def run(self, *args, capture=True, cwd=None):
        cmd = [args[0]] + self.options() + list(args[1:])
        p = subprocess.run(cmd, capture_output=capture, text=True, cwd=cwd)
        if p.returncode != 0:
            raise SystemExit("build.sh: %s failed:\n%s" % (" ".join(args[:2]), (p.stderr or "")[-2000:]))
        return p.stdout

    def update(self):
        self.run("apt-get", "update", "-qq", capture=True)

    def has(self, name, version):
        """Does the index still list this exact version?"""
        p = subprocess.run(["apt-cache"] + self.options() + ["show", "%s=%s" % (name, version)], capture_output=True, text=True)
        return p.returncode == 0 and bool(p.stdout.strip())

    def candidate(self, name):
        """The candidate's stanza, or None when the index has no such package."""
        p = subprocess.run(["apt-cache"] + self.options() + ["show", "--no-all-versions", name], capture_output=True, text=True)
        return _stanza(p.stdout) if p.returncode == 0 and p.stdout.strip() else None

    def show(self, name):
        """The candidate's stanza as a dict (Package, Version, SHA256, Depends...)."""
        return _stanza(self.run("apt-cache", "show", "--no-all-versions", name))

    def download(self, name, version, sha256, dest):
        """name_version.deb in dest, downloaded once and checked against the pin."""
        os.makedirs(dest, exist_ok=True)
        path = os.path.join(dest, deb_name(name, version))
        if not os.path.exists(path) or sha256_file(path) != sha256:
            self.run("apt-get", "download", "-qq", "%s:arm64=%s" % (name, version), cwd=dest)
            found = [p for p in glob.glob(os.path.join(dest, "%s_*_*.deb" % name)) if sha256_file(p) == sha256]
            if not found:
                raise SystemExit("build.sh: %s %s does not match its pinned sha256" % (name, version))
            if found[0] != path:
                os.replace(found[0], path)
        return path


def _stanza(text):
    """The first stanza of apt-cache show as a dict."""
    fields = {}
    key = None
    for line in text.splitlines():
        if not line:
            break
        if line[0] in " \t" and key:
            fields[key] += "\n" + line.strip()
            continue
        k, _, v = line.partition(":")
        key = k.strip()
        fields[key] = v.strip()
    return fields


def deb_name(name, version):
    """The cache's name for a pinned package (arm64 or all alike)."""
    return "%s_%s.deb" % (name, version.replace(":", "%3a"))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
