"""The console's command grammar: one table, from which the console takes
its dispatch, argument counts, abbreviations, `help` and `?`, and the
README its command reference (`outpost console --reference`).

    parse("sh conf sip | match port")
      -> Parsed("show", ["config", "sip"], [("match", ["port"])])

Rules of this file:
- Every word a command does not take is an error, never ignored (`commit
  check` must not commit, `rollback 3` must not roll back one level).
- A command or keyword may be abbreviated to any unique prefix, in any
  case (`SH RUN`); an ambiguous one is an error naming the candidates.
- Free words (paths, values, comments, patterns) are taken as typed.
"""

import re


class Syntax(Exception):
    """A line the grammar refuses; the message is the one line to print."""


# name: (usage after the name, help, fewest words, most words or None,
#        keywords the first word must be (abbreviable) or None)
COMMANDS = {
    "show": ("WHAT [...]", "show config|running|registrations|calls|survival|dialplan|pinholes|status|interfaces|system commit", 1, 3,
             None),
    "set": ("PATH VALUE | PATH add VALUE", "change a value (set sip.listen[0].port 5070); lists as [a, b]", 2, None, None),
    "delete": ("PATH", "remove a value", 1, 1, None),
    "diff": ("", "what commit would change", 0, 0, None),
    "compare": ("rollback N", "what the candidate changes against rollback N", 2, 2, ("rollback",)),
    "commit": ("[check | confirmed [MIN] | comment TEXT]", "validate, save and apply; check: validate only; confirmed: "
               "rolls back by itself after MIN minutes (default 10) unless committed again", 0, 4, None),
    "rollback": ("[N]", "load commit N of the history (default 1) as the candidate; commit applies it", 0, 1, None),
    "revert": ("", "drop uncommitted changes", 0, 0, None),
    "load": ("", "replace the candidate with a pasted site file, ended by the marker line the console names", 0, 3, None),
    "test-dial": ("NUMBER [--as USER] [--state normal|survival]", "which dial plan rule NUMBER meets and what goes out "
                  "(the candidate configuration: try before commit)", 1, 5, None),
    "clear": ("counters", "start show status's SIP counters at zero (the daemon keeps counting)", 1, 1, ("counters",)),
    "ping-upstream": ("", "an OPTIONS to the upstream server, and how long it took", 0, 0, None),
    "log": ("[N]", "the last N lines of the system log (default 20)", 0, 1, None),
    "restart": ("", "restart the SIP daemon (calls in progress drop)", 0, 0, None),
    "password": ("", "change the console password", 0, 0, None),
    "shell": ("", "a root shell (exit returns here)", 0, 0, None),
    "reboot": ("", "restart the router (asks first)", 0, 0, None),
    "help": ("[COMMAND]", "this list, or one command's", 0, 1, None),
    "exit": ("", "log out (asks first if changes are uncommitted)", 0, 0, None),
}
ALIASES = {"quit": "exit", "logout": "exit"}  # whole words only, never abbreviated
# Commands whose output goes through the pipes and the pager (the others
# ask questions or show a marker, which must reach the terminal at once).
OUTPUT_COMMANDS = ("show", "diff", "compare", "help", "log")
# Prefixes several commands share, settled as IOS and Junos admins type them.
SHORTCUTS = {"sh": "show", "co": "commit", "com": "commit"}

SHOW = {
    "config": ("[PATH]", "the candidate configuration as written, or one value of it (a default marked so)"),
    "running": ("[PATH]", "the committed configuration the router runs"),
    "registrations": ("", "phones registered with this router"),
    "calls": ("", "calls crossing the router: phone, WAN port, far end"),
    "survival": ("", "upstream health: relaying, or routing locally, and why"),
    "dialplan": ("", "the dial plan's rules in order, emergency numbers first (the candidate configuration)"),
    "pinholes": ("", "media pinholes open in the firewall (nftables)"),
    "status": ("", "version, uptime, daemon and configuration state"),
    "interfaces": ("", "lan0 and wan0: addresses and link state"),
    "system": ("commit", "the commit history (rollback numbers, times, comments)"),
}
COMMIT_WORDS = ("check", "confirmed", "comment")
# Junos's and IOS's names for the committed configuration.
SHOW_ALIASES = {"configuration": "running", "running-config": "running", "run": "running"}
SHOW_WORDS = {"config": 1, "running": 1, "system": 1}  # more words each takes

# After `|`: (fewest, most words, help). Applied left to right.
PIPES = {
    "match": (1, 1, "only lines matching a regular expression"),
    "except": (1, 1, "lines not matching a regular expression"),
    "count": (0, 0, "how many lines"),
    "no-more": (0, 0, "no pager"),
    "display": (1, 1, "display set: the configuration as set commands"),
    "compare": (2, 2, "compare rollback N: the diff against rollback N"),
}


def command_name(word):
    """The command a first word means: an alias, a shortcut, or a unique
    prefix (Syntax otherwise)."""
    w = word.lower()
    return ALIASES.get(w) or SHORTCUTS.get(w) or resolve(w, COMMANDS)


def resolve(word, names, what="command"):
    """The name `word` abbreviates (unique prefix, any case); Syntax if none
    or several."""
    w = word.lower()
    if w in names:
        return w
    found = sorted(n for n in names if n.startswith(w))
    if len(found) == 1:
        return found[0]
    shown = word[:40]
    if found:
        raise Syntax("'%s' is ambiguous: %s" % (shown, ", ".join(found)))
    raise Syntax("unknown %s '%s' (try help)" % (what, shown))


class Parsed:
    def __init__(self, name, args, pipes):
        self.name, self.args, self.pipes = name, args, pipes


def parse(words):
    """Words (shlex-split) -> Parsed; Syntax with the one line to print."""
    if "|" in words:
        i = words.index("|")
        head, rest = words[:i], words[i + 1:]
    else:
        head, rest = words, None
    first = head[0].lower() if head else ""
    name = command_name(first)
    args = head[1:]
    usage, _, fewest, most, keywords = COMMANDS[name]
    if keywords and args:
        args[0] = resolve(args[0], keywords, "word")
    if name == "show":
        args = _show_args(args)
    if len(args) < fewest or (most is not None and len(args) > most):
        raise Syntax(arity_error(name, args))
    pipes = _pipes(rest) if rest is not None else []
    if pipes and name not in ("show", "diff", "log", "help", "compare"):
        raise Syntax("%s: its output cannot be piped (| %s)" % (name, pipes[0][0]))
    return Parsed(name, args, pipes)


def _show_args(args):
    if not args:
        raise Syntax("show what? %s" % ", ".join(SHOW))
    what = SHOW_ALIASES.get(args[0].lower()) or resolve(args[0], SHOW, "show target")
    extra = args[1:]
    if len(extra) > SHOW_WORDS.get(what, 0):
        raise Syntax("show %s: takes %s (got '%s')" % (what, "no more words" if what not in SHOW_WORDS else "one more word",
                                                       " ".join(extra)[:60]))
    if what == "system":
        if not extra:
            raise Syntax("show system: commit is the one thing it shows (show system commit)")
        extra = [resolve(extra[0], ("commit",), "word")]
    return [what] + extra


def _pipes(rest):
    out, cur = [], []
    for word in rest + ["|"]:
        if word != "|":
            cur.append(word)
            continue
        if not cur:
            raise Syntax("| needs a command after it (%s)" % ", ".join(PIPES))
        name = resolve(cur[0], PIPES, "pipe command")
        fewest, most, _ = PIPES[name]
        args = cur[1:]
        if name == "display" and args:
            args = [resolve(args[0], ("set",), "display format")]
        if name == "compare" and args:
            args[0] = resolve(args[0], ("rollback",), "word")
        if not fewest <= len(args) <= most:
            raise Syntax("| %s: takes %d word(s) (got %d)" % (name, most, len(args)))
        out.append((name, args))
        cur = []
    return out


def commit_args(args):
    """`commit` words -> (check, confirmed minutes or None, comment);
    Syntax for anything else. Junos's forms: check | confirmed [MIN]
    [comment TEXT] | comment TEXT."""
    check, minutes, comment, i = False, None, "", 0
    while i < len(args):
        word = resolve(args[i], COMMIT_WORDS, "commit word")
        if word == "check" and len(args) == 1:
            check = True
        elif word == "confirmed" and minutes is None and not comment:
            minutes = 10
            if i + 1 < len(args) and args[i + 1].isdigit():
                i += 1
                minutes = int(args[i])
                if not 1 <= minutes <= 60:
                    raise Syntax("commit confirmed: MIN must be 1-60 minutes (got %d)" % minutes)
        elif word == "comment" and i + 1 < len(args) and not comment:
            i += 1
            comment = args[i]
        else:
            raise Syntax("commit: usage: commit %s" % COMMANDS["commit"][0])
        i += 1
    return check, minutes, comment


def arity_error(name, args):
    usage = COMMANDS[name][0]
    if COMMANDS[name][3] == 0:
        return "%s: takes no arguments (got '%s'); nothing was done" % (name, " ".join(args)[:60])
    return "%s: wrong number of arguments; usage: %s %s" % (name, name, usage)


PIPE_ROW = ("COMMAND | PIPE", "| match RE, | except RE, | count, | no-more, | display set, | compare rollback N")
SHORT = ("Commands and words may be shortened to any unique prefix (sh conf = show config); "
         "? at the end of a line lists what may come next.")


def rows():
    """(command with its usage, what it does), in the table's order."""
    out = []
    for name, (usage, text, *_) in COMMANDS.items():
        if name == "show":
            out += [(("show %s %s" % (t, u)).strip(), h) for t, (u, h) in SHOW.items()]
        else:
            out.append((("%s %s" % (name, usage)).strip(), text))
    return out


def help_lines(word=None):
    """`help` and `help CMD`: one line per command (show: per target)."""
    if word is None:
        return ["%-24s %s" % r for r in rows() + [PIPE_ROW]] + [SHORT]
    name = command_name(word)
    return ["%-24s %s" % r for r in rows() if r[0].split(" ", 1)[0] == name]


def next_words(words, complete_path=None, describe=None):
    """What may follow these words (for `?`): [(word, help)]."""
    if not words:
        return [(n, COMMANDS[n][1]) for n in COMMANDS]
    try:
        name = command_name(words[0])
    except Syntax:
        return []
    if name == "show" and len(words) == 1:
        return [(t, h) for t, (u, h) in SHOW.items()]
    if name in ("set", "delete") and len(words) == 1 or name == "show" and len(words) == 2 and words[1].startswith("conf"):
        return [(p, "") for p in (complete_path("") if complete_path else [])]
    if name == "set" and len(words) == 2 and describe:
        return [("VALUE", describe(words[1])), ("add VALUE", "one more entry, for a list")]
    keywords = COMMANDS[name][4] or (COMMIT_WORDS if name == "commit" else None)
    if keywords and len(words) == 1:
        return [(k, "") for k in keywords] + [("<Enter>", "run it")]
    usage = COMMANDS[name][0]
    return [("<Enter>", "run it")] + ([(usage, "")] if usage else [])


def reference_markdown():
    """The README's command reference (one source: this table)."""
    lines = ["| Command | What it does |", "|---|---|"]
    lines += ["| `%s` | %s |" % (c.replace("|", "\\|"), t.replace("|", "\\|")) for c, t in rows() + [PIPE_ROW]]
    return "\n".join(lines) + "\n\n" + SHORT + "\n"


def site_steps(path):
    from .sitetree import parse_path

    return parse_path(path)


def set_words(line):
    """`set PATH VALUE...` -> [PATH, VALUE as typed]: a list or mapping
    ([0X., 00.]) keeps its spaces and quotes for the schema to read."""
    _, path, value = (line.strip().split(None, 2) + ["", ""])[:3]
    return [path, value.strip()]  # one quoted word: configvalues takes the quotes off


def rollback_number(word):
    """N of `rollback N`, `compare rollback N`: a history position."""
    if word is None or not re.fullmatch(r"[0-9]{1,3}", word):
        raise Syntax("rollback: N must be a whole number (show system commit lists them; got '%s')" % str(word)[:20])
    return int(word)
