"""A reproducible initramfs: newc cpio written here (hosts often have no
cpio, and this way nothing of the build machine leaks in). Entries are
sorted, owned by root, dated SOURCE_DATE_EPOCH, numbered in order."""

import os
import stat


def _entry(out, ino, name, mode, size, mtime, rdev=(0, 0), nlink=1):
    fields = (ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
    out.append(hdr)
    out.append(name.encode() + b"\x00")
    pad = (4 - (len(hdr) + len(name) + 1) % 4) % 4
    out.append(b"\x00" * pad)


def archive(root, mtime, devices=()):
    """The cpio archive (bytes) of the tree at `root`; `devices` adds
    (path, perm, major, minor) character devices."""
    entries = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            entries.append(rel)
        for f in files:
            entries.append(os.path.normpath(os.path.join(rel, f)))
        for d in dirs:
            if os.path.islink(os.path.join(dirpath, d)):
                entries.append(os.path.normpath(os.path.join(rel, d)))
    entries = sorted(set(entries))
    out = []
    ino = 1
    for name in entries:
        path = os.path.join(root, name)
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(path).encode()
            _entry(out, ino, name, stat.S_IFLNK | 0o777, len(target), mtime)
            out.append(target + b"\x00" * ((4 - len(target) % 4) % 4))
        elif stat.S_ISDIR(st.st_mode):
            _entry(out, ino, name, stat.S_IFDIR | 0o755, 0, mtime, nlink=2)
        else:
            data = open(path, "rb").read()
            perm = 0o755 if st.st_mode & 0o111 else 0o644
            if not st.st_mode & 0o044:
                perm = 0o600  # chmod'ed private by the assembler (/etc/shadow): stays private
            _entry(out, ino, name, stat.S_IFREG | perm, len(data), mtime)
            out.append(data + b"\x00" * ((4 - len(data) % 4) % 4))
        ino += 1
    for name, perm, major, minor in devices:
        _entry(out, ino, name, stat.S_IFCHR | perm, 0, mtime, (major, minor))
        ino += 1
    _entry(out, ino, "TRAILER!!!", 0, 0, 0, nlink=1)
    data = b"".join(out)
    return data + b"\x00" * ((512 - len(data) % 512) % 512)
