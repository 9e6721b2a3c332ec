"""What may come next on a console line: tab completion and `?`.

Both read only the console grammar and the candidate configuration's
paths; neither changes anything.
"""

import shlex

from . import consolegrammar
from .configvalues import config_paths
from .schema import Invalid

SHOW = ("config", "registrations", "calls", "survival", "pinholes", "status")


def complete(line, commands, plain):
    """(where the last word starts, what it could be). `commands`: the
    command names; `plain()`: the candidate as plain data, read only when a
    path is being completed."""
    start = line.rfind(" ") + 1
    words = line[:start].split()
    if not words:
        return start, sorted(commands)
    cmd = words[0].lower()
    if cmd == "show" and len(words) == 1:
        return start, list(SHOW)
    if (cmd in ("set", "delete") and len(words) == 1) or (cmd == "show" and words[1:] == ["config"]):
        return start, config_paths(line[start:], plain())
    return start, []


def question(partial, plain):
    """`?`: what may come next after these words, one line each."""
    try:
        words = shlex.split(partial)
    except ValueError:
        words = partial.split()
    paths = lambda prefix: config_paths(prefix, plain())  # noqa: E731
    if partial and not partial.endswith(" ") and words:
        last = words.pop()
        found = [(w, h) for w, h in consolegrammar.next_words(words, paths, _describe) if w.lower().startswith(last.lower())]
    else:
        found = consolegrammar.next_words(words, paths, _describe)
    return ["  %-28s %s" % (w, h) for w, h in found[:200]] or ["  (nothing: the line is complete or unknown)"]


def _describe(path):
    from . import configvalues

    try:
        return configvalues.describe(configvalues.node_at(consolegrammar.site_steps(path)))
    except (KeyError, ValueError, Invalid) as e:
        return str(e).strip("'\"")
