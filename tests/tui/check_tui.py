#!/usr/bin/env python3
"""`fedscope tui` driven as a person drives it: the real binary in tmux (send-keys, capture-pane).

Saved capture (a lab fault, pcaps/lab/fw-drop-5269 outside + inside + the server's vantage):
  - both domains and the verdict with its root cause are on the first screen; the status bar
    says 'done' with the packet count the report gives;
  - navigation (Down, j/k, End/Home) moves the selection marker;
  - '/' filters by a finding code: only the failing session is left;
  - Enter opens the session: ladder, legs, the finding and its remedy;
  - 's' saves the session's packets; `fedscope report` of the saved file gives the same
    session (client, server, conn_state, packets) and the same root cause;
  - Tab shows the findings pane and the DNS pane; '?' the help;
  - resize to 80x24: every line fits and the verdict is still there; 60x20: a clear message;
  - NO_COLOR: no colour escapes, and with colour the failed verdict is red;
  - an ASCII terminal (LANG=C) gets ASCII only; 'q' quits with status 0.
Healthy capture (pcaps/lab/healthy-ca): OK verdicts, no FAILED.
Follow: a pcapng file written while `tui --follow` reads it shows sessions added later.
Bad input: no terminal, an unreadable capture, a file that is not a capture, no argument.
Live (root and tcpreplay): `tui -i` on a veth pair in a namespace while a capture is replayed;
the verdict appears on screen.

With --docs, writes docs/tui/*.txt: capture-pane dumps of the main screen on a fault scenario
and on a healthy one (what docs/tui.md shows).

Every wait is bounded; tmux runs on a private socket that is killed at the end; the namespace
is deleted by name. Prints 'N passed, N failed'.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from checks import check, finish  # noqa: E402

SOCK = f"fstui{os.getpid()}"
LAB = ROOT / "pcaps/lab"
FAULT = [LAB / "fw-drop-5269/fw-outside.pcap", LAB / "fw-drop-5269/fw-inside.pcap",
         LAB / "fw-drop-5269/srv.pcap"]
FAULT_OPTS = ["--inside-net", "192.0.2.0/24", "--domain", "cupdomain.example"]
HEALTHY = [LAB / "healthy-ca/fw-outside.pcap", LAB / "healthy-ca/fw-inside.pcap"]


def tmux(*args, timeout=10):
    return subprocess.run(["tmux", "-L", SOCK, *args], capture_output=True, text=True,
                          timeout=timeout)


class Pane:
    """One fedscope tui in a detached tmux session of its own."""
    n = 0

    def __init__(self, cmd, width=100, height=30, env=None, cwd=None):
        Pane.n += 1
        self.name = f"s{Pane.n}"
        e = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "screen-256color"}
        e.update(env or {})
        exports = " ".join(f"{k}={v}" for k, v in e.items())
        # The exit status is printed after the TUI gives the terminal back.
        shell = f"cd {cwd or ROOT} && env {exports} {cmd}; echo TUI-EXIT=$?; sleep 60"
        p = tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                 "sh", "-c", shell)
        if p.returncode != 0:
            raise RuntimeError(p.stderr)

    def text(self, escapes=False):
        args = ["capture-pane", "-p", "-t", self.name] + (["-e"] if escapes else [])
        return tmux(*args).stdout

    def keys(self, *keys, pause=0.25):
        tmux("send-keys", "-t", self.name, *keys)
        time.sleep(pause)

    def type(self, text):
        tmux("send-keys", "-t", self.name, "-l", text)
        time.sleep(0.2)

    def wait(self, pattern, timeout=15):
        deadline = time.monotonic() + timeout
        t = ""
        while time.monotonic() < deadline:
            t = self.text()
            if re.search(pattern, t):
                return t
            time.sleep(0.1)
        return None

    def save_as(self, path):
        """'s' on the selected session, the offered name replaced by @path, Enter; True when
        the status bar says how many packets were saved."""
        self.keys("s")
        self.keys("C-u")
        for _ in range(40):
            tmux("send-keys", "-t", self.name, "BSpace")
        self.type(str(path))
        self.keys("Enter", pause=0.5)
        return self.wait(r"saved \d+ packets", 15) is not None

    def resize(self, w, h):
        tmux("resize-window", "-t", self.name, "-x", str(w), "-y", str(h))
        time.sleep(0.5)

    def exit_status(self, timeout=10):
        t = self.wait(r"TUI-EXIT=\d+", timeout)
        m = re.search(r"TUI-EXIT=(\d+)", t or "")
        return int(m.group(1)) if m else None

    def close(self):
        tmux("kill-session", "-t", self.name)


def q(args):
    return " ".join(f"'{a}'" for a in map(str, args))


def report_json(fedscope, files, opts=()):
    p = subprocess.run([fedscope, "report", "--format", "json", *map(str, files), *opts],
                       capture_output=True, text=True, timeout=60)
    return json.loads(p.stdout) if p.stdout.strip() else None


def widths_fit(text, w):
    return all(len(line) <= w for line in text.splitlines())


def saved_capture(fedscope, tmp):
    rep = report_json(fedscope, FAULT, FAULT_OPTS)
    packets = sum(f["packets"] for f in rep["capture"]["files"])
    p = Pane(f"{fedscope} tui {q(FAULT)} {q(FAULT_OPTS)}", 100, 30)
    try:
        t = p.wait(r"done \|")
        check(t is not None, f"fault: the status bar says done ({p.text()!r})")
        t = t or ""
        check("cupdomain.example" in t and "gmail.example" in t, "fault: both domains shown")
        first_lines = t.splitlines()[1:4]
        check(any("FAILED" in l and "fw-blocked" in l for l in first_lines),
              f"fault: the failed verdict and its root cause lead ({first_lines})")
        check(f"{packets:,} pkts" in t, f"fault: the report's packet count {packets} shown")
        # Navigation: the marker moves.
        sel = [l for l in t.splitlines() if l.startswith("\u25b6")]
        check(len(sel) == 1 and sel[0].startswith("\u25b61 "), f"fault: flow 1 selected ({sel})")
        p.keys("Down")
        sel = [l for l in p.text().splitlines() if l.startswith("\u25b6")]
        check(len(sel) == 1 and sel[0].startswith("\u25b62 "), f"fault: Down selects flow 2 ({sel})")
        p.keys("k")
        check(any(l.startswith("\u25b61 ") for l in p.text().splitlines()), "fault: k moves up")
        p.keys("End")
        check(any(l.startswith("\u25b62 ") for l in p.text().splitlines()), "fault: End")
        p.keys("Home")
        # Filter by the root cause's code.
        p.keys("/")
        check("filter (domain" in p.text(), "fault: '/' prompts for a filter")
        p.type("fw-blocked")
        p.keys("Enter")
        t = p.text()
        rows = [l for l in t.splitlines() if re.match(r"^[\u25b6 ]\d+ ", l)]
        check(len(rows) == 1 and re.match(r"^[\u25b6 ]2 ", rows[0]) is not None,
              f"fault: the filter leaves the failing session only ({rows})")
        check("filter: fw-blocked" in t, "fault: the status bar shows the filter")
        # Open it.
        p.keys("Enter")
        t = p.text()
        check("Session 2" in t and "Ladder" in t, "fault: Enter opens the session's ladder")
        p.keys("End")
        t = p.text()
        check("remedy:" in t and "fw-blocked" in t, f"fault: the finding and its remedy ({t})")
        # Save its packets.
        out = tmp / "flow2.pcapng"
        p.keys("s")
        check("save packets to" in p.text(), "fault: 's' asks where to save")
        p.keys("Escape")
        check(p.save_as(out), f"fault: saving says how many packets ({p.text()[-300:]!r})")
        if out.exists():
            saved = report_json(fedscope, [out], FAULT_OPTS)
            orig = {f["id"]: f for f in rep["flows"]}
            fl = saved["flows"] if saved else []
            want = orig.get(2)
            check(len(fl) == 1, f"fault: the saved file holds one session ({len(fl)})")
            if fl and want:
                got = fl[0]
                for k in ("client", "server", "conn_state", "packets", "history"):
                    check(got[k] == want[k], f"fault: saved session {k}: {got[k]} vs {want[k]}")
                check(len(got["legs"]) == len(want["legs"]),
                      f"fault: saved session has every leg ({len(got['legs'])})")
                # The saved file holds the capture points that saw the session: the absence on
                # the inside (fw-blocked) is not in it, the unanswered SYNs are.
                codes = {f["code"] for f in saved["findings"]}
                check(codes & {"fw-blocked", "tcp-no-answer"},
                      f"fault: the saved file's report names the unanswered SYNs ({codes})")
        else:
            check(False, "fault: the saved file exists")
        p.keys("Escape")
        # Clear the filter; panes; help.
        p.keys("/")
        p.keys("C-u")
        for _ in range(20):
            tmux("send-keys", "-t", p.name, "BSpace")
        p.keys("Enter")
        p.keys("Tab")
        t = p.text()
        check("[Findings 1]" in t and "ERROR" in t and "fw-blocked" in t,
              "fault: Tab shows the findings pane")
        p.keys("Tab")
        t = p.text()
        check("[DNS" in t and "_xmpp-server._tcp.gmail.example" in t, "fault: the DNS pane")
        p.keys("Tab")
        p.keys("?")
        check("Keys" in p.text() and "save the selected session" in p.text(), "fault: '?' help")
        p.keys("Escape")
        # Resize.
        p.resize(80, 24)
        t = p.text()
        check(widths_fit(t, 80) and len(t.splitlines()) <= 24, "fault: 80x24 fits")
        check("FAILED" in t and "[Sessions" in t, f"fault: at 80x24 the verdict and list remain ({t})")
        p.resize(60, 20)
        check(p.wait("terminal too small: 60x20", 5) is not None, "fault: too small says so")
        p.resize(100, 30)
        check(p.wait("FAILED", 5) is not None, "fault: larger again redraws")
        p.keys("q")
        check(p.exit_status() == 0, "fault: q quits with status 0")
    finally:
        p.close()


def colours(fedscope):
    p = Pane(f"{fedscope} tui {q(FAULT)} {q(FAULT_OPTS)}", 100, 30)
    try:
        p.wait(r"done \|")
        e = p.text(escapes=True)
        line = next((l for l in e.splitlines() if "FAILED" in l), "")
        check(re.search(r"\x1b\[[0-9;]*(41|31|91|38;5;1|48;5;1)[0-9;]*m[^\x1b]*FAILED", line) is not None,
              f"colour: FAILED is red ({line!r})")
        p.keys("q")
    finally:
        p.close()
    p = Pane(f"{fedscope} tui {q(FAULT)} {q(FAULT_OPTS)}", 100, 30, env={"NO_COLOR": "1"})
    try:
        p.wait(r"done \|")
        e = p.text(escapes=True)
        check(re.search(r"\x1b\[[0-9;]*(3[0-7]|4[0-7]|38;5|48;5)[;m]", e) is None,
              "NO_COLOR: no colour escapes")
        check("FAILED" in e, "NO_COLOR: still shows the verdict")
        p.keys("q")
    finally:
        p.close()
    p = Pane(f"{fedscope} tui {q(FAULT)} {q(FAULT_OPTS)}", 100, 30,
             env={"LANG": "C", "LC_ALL": "C"})
    try:
        t = p.wait(r"done \|") or ""
        check(all(ord(c) < 128 for c in t), "ASCII terminal: ASCII only")
        check("gmail.example -> cupdomain.example" in t, f"ASCII terminal: '->' arrows ({t[:400]!r})")
        p.keys("q")
    finally:
        p.close()


def healthy(fedscope):
    p = Pane(f"{fedscope} tui {q(HEALTHY)}", 100, 30)
    try:
        t = p.wait(r"done \|") or ""
        check(re.search(r"^ OK", t, re.M) is not None and "FAILED" not in t,
              f"healthy: OK verdicts, nothing failed ({t[:600]!r})")
        p.keys("q")
    finally:
        p.close()


def follow(fedscope, tmp):
    """A file still being written: tui --follow shows what is appended later."""
    src = LAB / "healthy-ca/fw-any.pcap"
    growing = tmp / "growing.pcap"
    data = src.read_bytes()
    # Classic pcap: the 24-byte header, then records; write the first half now.
    recs = []
    off = 24
    while off + 16 <= len(data):
        incl = int.from_bytes(data[off + 8:off + 12], "little")
        recs.append(data[off:off + 16 + incl])
        off += 16 + incl
    half = len(recs) // 3
    with open(growing, "wb") as f:
        f.write(data[:24])
        f.write(b"".join(recs[:half]))
    p = Pane(f"{fedscope} tui --follow {q([growing])}", 100, 30)
    try:
        t = p.wait(r"following", 10)
        check(t is not None, f"follow: waits for more at the end ({p.text()[-200:]!r})")
        before = len([l for l in p.text().splitlines() if re.match(r"^[\u25b6 ]\d+ ", l)])
        with open(growing, "ab") as f:
            for r in recs[half:]:
                f.write(r[:10])  # a record cut in the middle must wait, not fail
                f.flush()
                f.write(r[10:])
                f.flush()
        deadline = time.monotonic() + 10
        after = before
        while time.monotonic() < deadline:
            after = len([l for l in p.text().splitlines() if re.match(r"^[\u25b6 ]\d+ ", l)])
            if after > before:
                break
            time.sleep(0.2)
        check(after > before, f"follow: sessions appended later appear ({before} -> {after})")
        check("FAILED" not in p.text(), "follow: no damaged-record failure")
        p.keys("q")
        check(p.exit_status() == 0, "follow: q quits")
    finally:
        p.close()


def stdin_save(fedscope, tmp):
    """A capture on standard input cannot be read again: the session is saved from the ring
    (keys come from /dev/tty)."""
    out = tmp / "stdin-flow.pcapng"
    p = Pane(f"{fedscope} tui - {q(FAULT_OPTS)} < {q([LAB / 'fw-drop-5269/fw-any.pcap'])}",
             100, 30)
    try:
        t = p.wait(r"done \|")
        check(t is not None and "FAILED" in t, f"stdin: read and judged ({p.text()[-300:]!r})")
        p.keys("End")
        check(p.save_as(out), f"stdin: saved from the ring ({p.text()[-300:]!r})")
        saved = report_json(fedscope, [out]) if out.exists() else None
        check(saved is not None and len(saved["flows"]) == 1, "stdin: the saved file has the session")
        p.keys("q")
        check(p.exit_status() == 0, "stdin: q quits")
    finally:
        p.close()


def bad_input(fedscope, tmp):
    r = subprocess.run([fedscope, "tui", str(FAULT[0])], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "needs a terminal" in r.stderr,
          f"no terminal: status 2 and a message ({r.returncode}, {r.stderr!r})")
    r = subprocess.run([fedscope, "tui", "/nonexistent/x.pcap"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "No such file" in r.stderr, f"missing capture: {r.stderr!r}")
    r = subprocess.run([fedscope, "tui"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "no capture given" in r.stderr, f"no argument: {r.stderr!r}")
    # In a terminal: a file that is not a capture gets a message, not a broken screen.
    p = Pane(f"{fedscope} tui README.md", 100, 30)
    try:
        st = p.exit_status()
        t = p.text()
        check(st == 2 and "not a readable pcap" in t, f"not a capture: message and 2 ({t[:300]!r})")
    finally:
        p.close()
    p = Pane(f"{fedscope} tui {q([FAULT[0]])}", 100, 30, env={"TERM": "dumb"})
    try:
        st = p.exit_status()
        check(st == 2 and "TERM" in p.text(), "TERM=dumb: a message")
    finally:
        p.close()


def live(fedscope):
    if os.geteuid() != 0 or shutil.which("tcpreplay") is None:
        print("tui live: needs root and tcpreplay; skipped")
        return
    sys.path.insert(0, str(ROOT / "tests/live"))
    import check_live as cl  # noqa: E402
    cl.teardown()
    try:
        cl.setup()
        p = Pane(f"ip netns exec {cl.NS} {fedscope} tui -i {cl.B} --inside-net 192.0.2.0/24",
                 100, 30)
        try:
            t = p.wait(r"live \|", 10)
            check(t is not None, f"live: the status bar says live ({p.text()!r})")
            src = ROOT / "pcaps/core/fw-drop/fw-outside.pcap"
            r = cl.nsx("tcpreplay", "-q", "-i", cl.A, str(src), timeout=60)
            check(r.returncode == 0, f"live: tcpreplay {r.stderr[-200:]}")
            t = p.wait(r"FAILED .*fw-blocked|FAILED .*tcp-no-answer", 20)
            check(t is not None, f"live: the verdict appears on screen ({p.text()!r})")
            # Save the failing session's packets from the live ring.
            p.keys("/")
            p.type("5269")
            p.keys("Enter")
            out = Path(tempfile.mkdtemp()) / "live-flow.pcapng"
            check(p.save_as(out),
                  f"live: the session's packets saved from the ring ({p.text()[-300:]!r})")
            saved = report_json(fedscope, [out]) if out.exists() else None
            check(saved is not None and len(saved["flows"]) == 1 and
                  saved["flows"][0]["server"].endswith(":5269"),
                  "live: the saved file's report shows the session")
            shutil.rmtree(out.parent, ignore_errors=True)
            p.keys("q")
            check(p.exit_status() == 0, "live: q quits")
        finally:
            p.close()
    finally:
        cl.teardown()


DUMPS = (("fault-main", FAULT, FAULT_OPTS, []),
         ("fault-session", FAULT, FAULT_OPTS, ["Down", "Enter"]),
         ("healthy-main", HEALTHY, [], []),
         ("healthy-session", HEALTHY, [], ["Enter"]))


def docs(fedscope, write):
    """docs/tui.md's screens, between <!-- dump:NAME --> and its code block: written, or
    checked against what the binary shows now."""
    page = ROOT / "docs/tui.md"
    text = page.read_text()
    for name, files, opts, keys in DUMPS:
        p = Pane(f"{fedscope} tui {q([f.relative_to(ROOT) for f in files])} {q(opts)}", 100, 30)
        try:
            p.wait(r"done \|")
            for k in keys:
                p.keys(k)
            time.sleep(0.3)
            shot = "\n".join(l.rstrip() for l in p.text().rstrip("\n").splitlines())
            p.keys("q")
        finally:
            p.close()
        pat = re.compile(r"(<!-- dump:" + re.escape(name) + r" -->\n```\n)(.*?)(```)", re.S)
        m = pat.search(text)
        if not check(m is not None, f"docs: docs/tui.md has the marker dump:{name}"):
            continue
        if write:
            text = text[:m.start(2)] + shot + "\n" + text[m.end(2):]
        else:
            check(m.group(2) == shot + "\n",
                  f"docs: docs/tui.md dump:{name} is what the binary shows "
                  f"(tests/tui/check_tui.py BINARY --docs rewrites it)")
    if write:
        page.write_text(text)


def main():
    fedscope = str(Path(sys.argv[1]).resolve())
    if shutil.which("tmux") is None:
        print("tui: needs tmux; skipped")
        sys.exit(77)
    try:
        if "--docs" in sys.argv:
            docs(fedscope, True)
            return
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            saved_capture(fedscope, tmp)
            colours(fedscope)
            healthy(fedscope)
            follow(fedscope, tmp)
            stdin_save(fedscope, tmp)
            bad_input(fedscope, tmp)
            docs(fedscope, False)
            if "--no-live" not in sys.argv:
                live(fedscope)
    finally:
        # The server goes, and its socket file with it (tmux leaves it behind).
        tmux("kill-server")
        (Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / SOCK).unlink(
            missing_ok=True)
    finish("tui")


if __name__ == "__main__":
    main()
