#!/usr/bin/env python3
"""Writes docs/cli.md from docs/cli.md.in by running the real fedscope on committed captures:
every example in the CLI reference is real output. --check compares instead of writing
(a ctest keeps the page true). Markers: @@RUN args@@, @@FINDINGS args@@, @@GREP pat@@args@@,
@@STDERR args@@, @@ERRS@@, @@JSON key@@ (first element of a top-level array),
@@HEADTZ zone n@@args@@ (the first n lines under TZ=zone), @@EVENTS args@@ (the --events log
of a run: one line per event, condensed, then the first finding event in full)."""
import argparse, json, re, shlex, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--fedscope", required=True)
ap.add_argument("--check", action="store_true")
A = ap.parse_args()
F = A.fedscope

def run(args, stdout=True, stderr=True, env=None):
    p = subprocess.run([F] + shlex.split(args), cwd=ROOT, capture_output=True, text=True, env=env)
    return p

def head_tz(zone, n, args):
    # The first n lines of a run under TZ=zone (for --time local).
    import os
    p = run(args, env=dict(os.environ, TZ=zone))
    return "\n".join(p.stdout.splitlines()[:int(n)]) + "\n..."

def both(args):
    p = run(args)
    out = ""
    if p.stderr: out += p.stderr
    out += p.stdout
    return out.rstrip("\n") + f"\n[exit status {p.returncode}]"

def findings(args):
    p = run(args)
    lines = p.stdout.splitlines()
    # The verdicts and the findings: what a reader acts on, before the stories.
    s = lines.index("Verdicts"); e = lines.index("Federation attempts")
    body = [l for l in lines[s:e] ]
    while body and body[-1] == "": body.pop()
    return "\n".join(body) + f"\n[exit status {p.returncode}]"

def grep(pat, args):
    p = run(args)
    return "\n".join(l for l in p.stdout.splitlines() if pat in l) + f"\n[exit status {p.returncode}]"

def stderr_only(args):
    p = run(args)
    return p.stderr.rstrip("\n") + f"\n[exit status {p.returncode}; the report itself went to standard output]"

def errs():
    cases = ["report /nonexistent.pcap", "report pcaps", "report pcaps/corner/not-a-capture.pcap",
             "report pcaps/corner/header-only-cut.pcap", "report pcaps/corner/ticket-notes.pcap.gz", "report pcaps/corner/empty.pcap --format xml",
             "report pcaps/corner/empty.pcap --inside-net banana", "report -o / pcaps/corner/empty.pcap",
             "capture.pcap", "frobnicate", "findings nat-prot-mismatch"]
    out = []
    for c in cases:
        p = run(c)
        err = p.stderr.rstrip("\n")
        out.append(f"$ fedscope {c}\n{err}\n[exit status {p.returncode}]")
    return "\n\n".join(out)

js = json.loads(run("report pcaps/core/nat-port-522/fw-any.pcap --inside-net 192.0.2.0/24 --domain cupdomain.example --format json").stdout)
raw = run("report pcaps/core/nat-port-522/fw-any.pcap --inside-net 192.0.2.0/24 --domain cupdomain.example --format json").stdout

def json_first(key):
    # Cut the first element of the top-level array `key` verbatim out of the output.
    lines = raw.splitlines()
    i = lines.index(f'  "{key}": [')
    assert lines[i + 1] == "    {"
    j = lines.index("    }", i + 1) if "    }" in lines[i+1:] else None
    j = next(k for k in range(i + 2, len(lines)) if lines[k] in ("    }", "    },"))
    block = [l[4:] for l in lines[i + 1:j + 1]]
    block[-1] = block[-1].rstrip(",")
    return "\n".join(block)

def events(args):
    # The event log of a run (--events to a temporary file): seq, type, event, key, and the
    # reason or the attempt's outcome; then the first finding event as written.
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ev.jsonl"
        run(f"{args} -o /dev/null --events {path}")
        lines = path.read_text().splitlines()
    out, first = [], None
    for line in lines:
        e = json.loads(line)
        extra = e.get("reason") or (e.get("attempt") or {}).get("outcome", "")
        out.append(f"{e['seq']:>3} {e['type']:<8} {e['event']:<9} {e['key']}  {extra}".rstrip())
        if first is None and e["type"] == "finding" and e["event"] == "raised":
            first = line
    return "\n".join(out) + "\n\nand the first line that raised a finding, as written:\n\n" + first


def xmpp_json(args):
    # The `xmpp` object of the first flow of a report, as the CLI wrote it.
    rep = json.loads(run(args + " --format json").stdout)
    return json.dumps(rep["flows"][0]["xmpp"], indent=2, ensure_ascii=False)

def cap_errs():
    # What `capture` says before it captures anything (no device needed for these).
    cases = ["capture", "capture -i fsnosuchdev0", "capture -i lo tcp prot 5269",
             "capture -i lo -W 3 -w x.pcapng", "capture -i lo -f xml"]
    out = []
    for c in cases:
        p = run(c)
        out.append(f"$ fedscope {c}\n{p.stderr.rstrip()}\n[exit status {p.returncode}]")
    return "\n\n".join(out)


def session_note():
    # Where the recorded session came from (docs/sessions/README.txt).
    return (ROOT / "docs" / "sessions" / "README.txt").read_text().strip()


t = (ROOT / "docs" / "cli.md.in").read_text()
t = t.replace("@@CAPERRS@@", cap_errs())
t = t.replace("@@SESSIONNOTE@@", session_note())
t = re.sub(r"@@FILE (.*?)@@", lambda m: (ROOT / m.group(1)).read_text().rstrip("\n"), t)
t = re.sub(r"@@XMPPJSON (.*?)@@", lambda m: xmpp_json(m.group(1)), t)
t = re.sub(r"@@HEADTZ (\S+) (\d+)@@(.*?)@@", lambda m: head_tz(m.group(1), m.group(2), m.group(3)), t)
t = re.sub(r"@@EVENTS (.*?)@@", lambda m: events(m.group(1)), t)
t = re.sub(r"@@RUN (.*?)@@", lambda m: both(m.group(1)), t)
t = re.sub(r"@@FINDINGS (.*?)@@", lambda m: findings(m.group(1)), t)
t = re.sub(r"@@GREP (.*?)@@(.*?)@@", lambda m: grep(m.group(1), m.group(2)), t)
t = re.sub(r"@@STDERR (.*?)@@", lambda m: stderr_only(m.group(1)), t)
t = t.replace("@@ERRS@@", errs())
t = re.sub(r"@@JSON (.*?)@@", lambda m: json_first(m.group(1)), t)
assert "@@" not in t
out = ROOT / "docs" / "cli.md"
if A.check:
    same = out.read_text() == t
    print("1 passed, 0 failed" if same else "0 passed, 1 failed")
    if not same:
        print("docs/cli.md is not what the CLI prints now: run tests/docs/make_cli_doc.py "
              "--fedscope build/app/fedscope and review the diff")
    sys.exit(0 if same else 1)
out.write_text(t)
