"""Just enough ELF64 little-endian reading for the image: the interpreter and
DT_NEEDED of executables and libraries, and a kernel module's .modinfo."""

import struct

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NEEDED, DT_STRTAB = 1, 5


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _header(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    return phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx


def dynamic(path):
    """{'interp': str or None, 'needed': [sonames]}"""
    data = open(path, "rb").read()
    phoff, phentsize, phnum = _header(data)[:3]
    loads, dyn, interp = [], None, None
    for i in range(phnum):
        ptype, _flags, off, vaddr, _paddr, filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if ptype == PT_LOAD:
            loads.append((vaddr, off, filesz))
        elif ptype == PT_DYNAMIC:
            dyn = (off, filesz)
        elif ptype == PT_INTERP:
            interp = data[off:off + filesz].rstrip(b"\x00").decode()
    needed, strtab = [], None
    if dyn:
        off, size = dyn
        for j in range(0, size, 16):
            tag, val = struct.unpack_from("<qQ", data, off + j)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                needed.append(val)
            elif tag == DT_STRTAB:
                strtab = val
    names = []
    if needed and strtab is not None:
        base = None
        for vaddr, off, size in loads:
            if vaddr <= strtab < vaddr + size:
                base = strtab - vaddr + off
        for n in needed:
            end = data.index(b"\x00", base + n)
            names.append(data[base + n:end].decode())
    return {"interp": interp, "needed": names}


def modinfo(path):
    """A kernel module's .modinfo as a dict (depends=, name=, vermagic=...)."""
    data = open(path, "rb").read()
    _, _, _, shoff, shentsize, shnum, shstrndx = _header(data)

    def section(i):
        name, _type, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        end = data.index(b"\x00", stroff + name)
        if data[stroff + name:end] == b".modinfo":
            out = {}
            for item in data[off:off + size].split(b"\x00"):
                if b"=" in item:
                    k, v = item.decode(errors="replace").split("=", 1)
                    out.setdefault(k, v)
            return out
    return {}
