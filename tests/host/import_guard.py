"""The core's import guard: what `outpost.core` may import.

The core must run on MicroPython's unix port and must not do I/O, so its
imports come from an allow-list (modules the unix port has and that do no
I/O) plus its own modules. Everything else is a violation: sockets, clocks,
files, processes, and CPython-only modules such as dataclasses or typing.
"""

import ast
import os

ALLOWED = {"micropython", "hashlib", "_md5", "_sha256", "binascii", "re", "struct", "collections", "errno", "gc", "sys", "array", "heapq"}
CORE_PACKAGE = "outpost.core"


def violations_in_source(source, filename="<source>", package=CORE_PACKAGE):
    """[(filename, line, what)] for every import the core may not make.
    `package` is the file's own package, against which relative imports
    are resolved: they may not climb out of the core."""
    out = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _allowed(alias.name):
                    out.append((filename, node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if not _allowed(node.module or ""):
                    out.append((filename, node.lineno, node.module))
            else:
                parts = package.split(".")
                base = parts[:len(parts) - node.level + 1] if node.level <= len(parts) else []
                target = ".".join(base + ([node.module] if node.module else []))
                if not (target == CORE_PACKAGE or target.startswith(CORE_PACKAGE + ".")):
                    out.append((filename, node.lineno, "." * node.level + (node.module or "")))
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in ("__import__", "import_module", "exec", "eval", "open"):
                out.append((filename, node.lineno, name + "()"))
    return out


def _allowed(module):
    top = module.split(".")[0]
    return top in ALLOWED or module == CORE_PACKAGE or module.startswith(CORE_PACKAGE + ".")


def core_violations(core_dir):
    out = []
    for dirpath, _dirs, files in os.walk(core_dir):
        rel = os.path.relpath(dirpath, core_dir)
        package = CORE_PACKAGE if rel == "." else CORE_PACKAGE + "." + rel.replace(os.sep, ".")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    out += violations_in_source(f.read(), path, package)
    return out
