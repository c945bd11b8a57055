#!/usr/bin/env python3
"""`fedscope capture` watching real devices (issue #14), in a network namespace of its own.

For each case a capture from pcaps/ is replayed with tcpreplay into one end of a veth pair
while `fedscope capture -i` listens on the other end (and writes -w, --report, JSON lines).
Checked per case:
  - every event line validates against docs/events.schema.json, seq increases;
  - the fault is named while it happens: the root cause the report gives for the original
    capture appears in a finding event before the capture is stopped (SIGINT);
  - the final findings, verdicts and attempts of the live run equal `fedscope report` of its
    -w file (the same JSON apart from the run's options);
  - the report of the original capture has the same verdicts (status and root cause) as the
    live run, for cases whose judgement does not depend on the date (certificate validity
    does: a replay happens today);
  - the -w file ends with interface statistics blocks (isb_endtime) that `report` reads.
Bad input: a device that does not exist, a filter that does not compile, a device that goes
away mid-capture (the capture keeps what it had and ends with its report), a SIGINT that
timeout(1) delivers twice (the report is still written).

Addresses: the replayed captures use 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 only;
the namespace has no route anywhere, and IPv6 is off on its devices (no stray router
solicitations). Every wait is bounded; processes are stopped by PID and the namespace
deleted by name even on failure. Needs root, tcpreplay and `ip`; prints 'N passed, N failed'.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from checks import check, finish  # noqa: E402

NS = f"fslive{os.getpid()}"
A, B = "fsrA", "fsrB"  # tcpreplay sends on A; fedscope listens on B

# (capture, options, date-dependent[, capture-only arguments]) — one vantage, Ethernet, a few
# seconds at most.
CASES = [
    ("core/fw-drop/fw-outside.pcap", ["--inside-net", "192.0.2.0/24"], False),
    ("core/fw-reject-rst/fw-outside.pcap", ["--inside-net", "192.0.2.0/24"], False),
    ("core/server-not-listening/fw-outside.pcap", ["--inside-net", "192.0.2.0/24"], False),
    # Port 5369 is outside the default filter (and no SRV answer in this vantage names it).
    ("core/dns-srv-port-5369/fw-outside.pcap", [], False, ["--filter", "tcp or port 53"]),
    ("core/tcp-reset/fw-outside.pcap", ["--inside-net", "192.0.2.0/24"], False),
    ("core/outbound-healthy/fw-outside.pcap", [], False),
    ("xmpp/stream-error-host-unknown/s2s.pcap", [], False),
    ("xmpp/starttls-failure/s2s.pcap", [], False),
    ("xmpp/dialback-timeout/s2s.pcap", [], False),
    ("xmpp/dialback-valid-plaintext/s2s.pcap", [], False),
    ("xmpp/tls13-healthy/s2s.pcap", [], False),
    ("xmpp/tls-cert-self-signed/s2s.pcap", [], True),
]


def run(cmd, timeout=20, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def nsx(*cmd, timeout=20):
    return run(["ip", "netns", "exec", NS, *cmd], timeout=timeout)


def setup():
    run(["ip", "netns", "add", NS])
    for c in (["ip", "link", "add", A, "type", "veth", "peer", "name", B],
              ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
              ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
              ["ip", "link", "set", A, "mtu", "65535"], ["ip", "link", "set", B, "mtu", "65535"],
              ["ip", "link", "set", A, "up"], ["ip", "link", "set", B, "up"]):
        p = nsx(*c)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(c)}: {p.stderr.strip()}")


def teardown():
    p = run(["ip", "netns", "pids", NS], timeout=5)
    for pid in p.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    run(["ip", "netns", "del", NS], timeout=10)


def stop(proc, sig=signal.SIGINT, wait=30):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_capture(fedscope, tmp, name, args):
    out = open(tmp / f"{name}.jsonl", "w")
    err = open(tmp / f"{name}.err", "w")
    proc = subprocess.Popen(["ip", "netns", "exec", NS, fedscope, "capture", *args],
                            stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        if "listening on" in (tmp / f"{name}.err").read_text():
            break
        time.sleep(0.05)
    return proc


def events(path, validator, name):
    out, last = [], 0
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            check(False, f"{name}: line {n} is not JSON: {line[:80]}")
            continue
        errors = sorted(validator.iter_errors(e), key=str)
        check(not errors, f"{name}: line {n}: schema: {errors[0].message if errors else ''}")
        check(e["seq"] > last, f"{name}: line {n}: seq {e['seq']} after {last}")
        last = e["seq"]
        out.append(e)
    return out


def comparable(rep):
    """The report without what names the run rather than the capture."""
    rep = dict(rep)
    for k in ("generator", "options"):
        rep.pop(k, None)
    cap = dict(rep["capture"])
    cap.pop("files", None)
    rep["capture"] = cap
    return rep


def verdict_view(rep):
    return sorted((v["from"], v["to"], v["status"], v["root_cause"]) for v in rep["verdicts"])


def fold_verdicts(evs):
    """The verdicts a consumer of the events holds at the end, in the report's shape."""
    folded = {}
    for e in evs:
        if e["type"] == "verdict":
            if e["event"] == "withdrawn":
                folded.pop(e["key"], None)
            else:
                folded[e["key"]] = e["verdict"]
    return {"verdicts": list(folded.values())}


def first_difference(a, b, path=""):
    if type(a) is not type(b):
        return f"{path}: {str(a)[:120]} vs {str(b)[:120]}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'live' if k in a else 'report'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {str(a)[:120]} vs {str(b)[:120]}"


def same_as_report_of(fedscope, live, wfile, opts, name):
    """Checks that a live run's --report equals `fedscope report` of its -w file, and that
    the file says when the capture ended (isb_endtime). Returns that report, or None."""
    p = run([fedscope, "report", str(wfile), "--format", "json", *opts], timeout=120)
    try:
        again = json.loads(p.stdout)
    except json.JSONDecodeError:
        check(False, f"{name}: report of the -w file: {p.stderr.strip()[-300:]}")
        return None
    diff = first_difference(comparable(live), comparable(again))
    check(diff is None, f"{name}: the live report and the report of its -w file differ at {diff}")
    check(all(f.get("end") for f in again["capture"]["files"]),
          f"{name}: the -w file has no statistics block with isb_endtime")
    return again


def replay_case(fedscope, tmp, validator, rel, opts, dated, extra=()):
    name = rel.replace("/", "_")
    src = ROOT / "pcaps" / rel
    orig = json.loads(run([fedscope, "report", str(src), "--format", "json", *opts]).stdout)
    causes = {v["root_cause"] for v in orig["verdicts"] if v["root_cause"]}
    wfile, rfile = tmp / f"{name}.pcapng", tmp / f"{name}.report.json"
    proc = start_capture(fedscope, tmp, name, ["-i", B, "-f", "jsonl", "-w", str(wfile),
                                               "--report", str(rfile), "--stats-interval", "1",
                                               *opts, *extra])
    if not check(proc.poll() is None, f"{name}: capture did not start: "
                 f"{(tmp / f'{name}.err').read_text()[-300:]}"):
        return
    rp = nsx("tcpreplay", "-q", "-i", A, str(src), timeout=60)
    check(rp.returncode == 0, f"{name}: tcpreplay: {rp.stderr.strip()[-200:]}")
    # While it happens: wait (bounded) for every root cause of the original report to be
    # raised, as long as the capture runs.
    log = tmp / f"{name}.jsonl"
    deadline = time.monotonic() + 20
    seen_live = set()
    while time.monotonic() < deadline:
        seen_live = {e["finding"]["code"] for e in map(json.loads, log.read_text().splitlines())
                     if e["type"] == "finding" and e.get("finding")}
        if causes <= seen_live and (not causes or not dated):
            break
        time.sleep(0.2)
    time.sleep(1.5)  # past the tick lag: the last packets' timers are judged live too
    stop(proc)
    check(proc.returncode in (0, 1, 3), f"{name}: exit {proc.returncode}: "
          f"{(tmp / f'{name}.err').read_text()[-300:]}")
    evs = events(log, validator, name)
    if not dated:
        check(causes <= seen_live, f"{name}: root causes {sorted(causes - seen_live)} not raised "
              f"while the capture ran (raised: {sorted(seen_live)})")
    kinds = {(e["type"], e.get("event")) for e in evs}
    check(("stats", "final") in kinds, f"{name}: no final stats event")
    check(("session", "opened") in kinds and ("session", "closed") in kinds,
          f"{name}: sessions not opened and closed in the stream: {sorted(kinds)}")
    check(not any(e["type"] == "stats" and any(i["dropped"] for i in e["interfaces"])
                  for e in evs), f"{name}: kernel drops")
    try:
        live = json.loads(rfile.read_text())
    except (OSError, json.JSONDecodeError) as ex:
        check(False, f"{name}: no --report: {ex}")
        return
    again = same_as_report_of(fedscope, live, wfile, opts, name)
    if again is None:
        return
    if not dated:
        check(verdict_view(live) == verdict_view(orig),
              f"{name}: live verdicts {verdict_view(live)} vs original {verdict_view(orig)}")
    # The events folded give the final verdicts.
    check(verdict_view(fold_verdicts(evs)) == verdict_view(live),
          f"{name}: folded verdict events differ from the final report")
    # Statistics blocks: tshark shows isb_endtime; our reader takes it as the end.
    t = run(["tshark", "-r", str(wfile), "-q", "-z", "io,stat,0"], timeout=30)
    check(t.returncode == 0, f"{name}: tshark cannot read the -w file: {t.stderr[-200:]}")


def text_mode(fedscope, tmp):
    """What a person at the terminal sees: sessions, the verdict as it changes, the report."""
    src = ROOT / "pcaps/core/fw-reject-rst/fw-outside.pcap"
    proc = start_capture(fedscope, tmp, "text", ["-i", B, "--inside-net", "192.0.2.0/24"])
    nsx("tcpreplay", "-q", "-i", A, str(src), timeout=30)
    out = tmp / "text.jsonl"  # (stdout; the name is start_capture's)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and " verdict " not in out.read_text():
        time.sleep(0.2)
    live_part = out.read_text()
    stop(proc)
    text = out.read_text()
    check(" session  #" in live_part and "opened" in live_part,
          f"text: no session line while it ran: {live_part[:300]}")
    check(any(" verdict " in ln and "failed" in ln and "tcp-refused" in ln
              for ln in live_part.splitlines()),
          f"text: no failed verdict naming tcp-refused while it ran: {live_part[-600:]}")
    check("\nVerdicts\n" in text[len(live_part) - 1:] or "\nVerdicts\n" in text,
          f"text: no final report: {text[-400:]}")


def widening(fedscope, tmp):
    """The default filter follows an SRV answer to port 5369: the SYN there is captured."""
    src = ROOT / "pcaps/lab/srv-port-5369/srv.pcap"
    wfile = tmp / "widen.pcapng"
    proc = start_capture(fedscope, tmp, "widen", ["-i", B, "-f", "jsonl", "-w", str(wfile),
                                                  "--domain", "cupdomain.example"])
    nsx("tcpreplay", "-q", "-i", A, str(src), timeout=30)
    time.sleep(1.5)
    stop(proc)
    err = (tmp / "widen.err").read_text()
    check("or tcp port 5369" in err, f"widening: no message: {err[-300:]}")
    t = run(["tshark", "-r", str(wfile), "-Y", "tcp.port == 5369"], timeout=30)
    check(len(t.stdout.splitlines()) >= 2,
          f"widening: the SYN to 5369 and its RST not captured: {t.stdout!r}")


def rotation_and_user(fedscope, tmp):
    """-C/-W write a ring of complete files; -Z creates them as the user."""
    d = tmp / "ring"
    d.mkdir()
    os.chmod(d, 0o777)
    os.chmod(tmp, 0o755)
    proc = start_capture(fedscope, tmp, "ring", ["-i", B, "-f", "jsonl", "-w", str(d / "r.pcapng"),
                                                 "-C", "0.004", "-W", "3", "-Z", "nobody"])
    for _ in range(3):
        nsx("tcpreplay", "-q", "-i", A, str(ROOT / "pcaps/xmpp/tls13-healthy/s2s.pcap"),
            timeout=30)
    time.sleep(0.5)
    stop(proc)
    files = sorted(d.iterdir())
    check([f.name for f in files] == ["r.pcapng0", "r.pcapng1", "r.pcapng2"],
          f"-C/-W: files {[f.name for f in files]}")
    import pwd
    nobody = pwd.getpwnam("nobody").pw_uid
    check(all(f.stat().st_uid == nobody for f in files),
          f"-Z nobody: owners {[f.stat().st_uid for f in files]}")
    total = 0
    for f in files:
        p = run([fedscope, "report", str(f), "--format", "json"])
        try:
            rep = json.loads(p.stdout)
            total += rep["capture"]["files"][0]["packets"]
            check(True, "")
        except (json.JSONDecodeError, KeyError, IndexError) as ex:
            check(False, f"-C/-W: {f.name} unreadable: {ex} {p.stderr[-200:]}")
    check(total > 0, "-C/-W: no packets in the ring")


def net_raw_only(fedscope, tmp):
    """Not root, only CAP_NET_RAW (setpriv, as a file capability would give it): it captures."""
    if subprocess.run(["which", "setpriv"], capture_output=True).returncode != 0:
        return
    err = open(tmp / "netraw.err", "w")
    out = open(tmp / "netraw.jsonl", "w")
    proc = subprocess.Popen(["ip", "netns", "exec", NS, "setpriv", "--reuid=nobody",
                             "--regid=nogroup", "--clear-groups", "--inh-caps=+net_raw",
                             "--ambient-caps=+net_raw", fedscope, "capture", "-i", B,
                             "-f", "jsonl"], stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None and \
            "listening on" not in (tmp / "netraw.err").read_text():
        time.sleep(0.05)
    nsx("tcpreplay", "-q", "-i", A, str(ROOT / "pcaps/core/fw-reject-rst/fw-outside.pcap"),
        timeout=30)
    time.sleep(1.5)
    stop(proc)
    lines = (tmp / "netraw.jsonl").read_text().splitlines()
    final = [json.loads(x) for x in lines if '"type":"stats"' in x]
    check(final and final[-1]["packets"] >= 2,
          f"CAP_NET_RAW only: {(tmp / 'netraw.err').read_text()[-300:]}")
    # And without it: a clear refusal.
    p = run(["ip", "netns", "exec", NS, "setpriv", "--reuid=nobody", "--regid=nogroup",
             "--clear-groups", fedscope, "capture", "-i", B, "--duration", "1"])
    check(p.returncode == 2 and "CAP_NET_RAW" in p.stderr,
          f"no capability: rc {p.returncode}: {p.stderr.strip()}")


def bad_input(fedscope, tmp):
    p = run(["ip", "netns", "exec", NS, fedscope, "capture", "-i", "fsnosuch0", "--duration", "1"])
    check(p.returncode == 2 and "fsnosuch0" in p.stderr and "no such device" in p.stderr,
          f"missing device: rc {p.returncode}: {p.stderr.strip()}")
    p = run(["ip", "netns", "exec", NS, fedscope, "capture", "-i", B, "tcp", "prot", "5269"])
    check(p.returncode == 2 and "filter" in p.stderr, f"bad filter: rc {p.returncode}: {p.stderr}")
    p = run([fedscope, "capture", "-i", B, "-W", "3", "-w", str(tmp / "x.pcapng")])
    check(p.returncode == 2 and "-W needs -C" in p.stderr, f"-W without -C: {p.stderr}")
    # Stopped through timeout(1), which forwards the SIGINT to its command and then to its
    # process group: two deliveries of one request, which must still end with the report
    # (a second signal ends at once only a second or more after the first).
    for k in range(5):
        rfile = tmp / f"timeout{k}.report.json"
        proc = subprocess.Popen(["timeout", "30", "ip", "netns", "exec", NS, fedscope, "capture",
                                 "-i", B, "--report", str(rfile)], stdout=subprocess.DEVNULL,
                                stderr=open(tmp / f"timeout{k}.err", "w"), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None and \
                "listening on" not in (tmp / f"timeout{k}.err").read_text():
            time.sleep(0.05)
        stop(proc)
        check(proc.returncode == 3 and rfile.exists(),
              f"SIGINT through timeout(1) #{k}: exit {proc.returncode}, report "
              f"{'written' if rfile.exists() else 'missing'}")
    # A device that goes away mid-capture: a clear message, the frames so far kept and judged.
    run(["ip", "-n", NS, "link", "add", "fsgoA", "type", "veth", "peer", "name", "fsgoB"])
    for d in ("fsgoA", "fsgoB"):
        run(["ip", "-n", NS, "link", "set", d, "up"])
    wfile, rfile = tmp / "gone.pcapng", tmp / "gone.report.json"
    proc = start_capture(fedscope, tmp, "gone", ["-i", "fsgoB", "-i", B, "-f", "jsonl", "-w",
                                                 str(wfile), "--report", str(rfile)])
    nsx("tcpreplay", "-q", "-i", "fsgoA",
        str(ROOT / "pcaps/core/fw-reject-rst/fw-outside.pcap"), timeout=30)
    time.sleep(0.5)
    run(["ip", "-n", NS, "link", "del", "fsgoA"])
    time.sleep(1.0)
    alive = proc.poll() is None
    stop(proc)
    err = (tmp / "gone.err").read_text()
    check(alive, f"device gone: capture ended early: {err[-300:]}")
    check("fsgoB" in err and "capture stopped" in err, f"device gone: no message: {err[-300:]}")
    try:
        rep = json.loads(rfile.read_text())
        check(rep["capture"]["packets"] >= 2 if "packets" in rep["capture"] else True,
              "device gone: packets lost")
        check(any(v["root_cause"] for v in rep["verdicts"]),
              f"device gone: no root cause in the final report: {rep['verdicts']}")
    except (OSError, json.JSONDecodeError, KeyError) as ex:
        check(False, f"device gone: no report: {ex}; {err[-300:]}")


def main():
    fedscope = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0 or not subprocess.run(["which", "tcpreplay"],
                                               capture_output=True).returncode == 0:
        print("live: needs root and tcpreplay; skipped")
        sys.exit(77)
    schema = json.loads((ROOT / "docs/events.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    only = [a for a in sys.argv[2:] if a != "--extras"]
    extras = not only or "--extras" in sys.argv[2:]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        try:
            setup()
            for rel, opts, dated, *extra in CASES:
                if only and not any(o in rel for o in only):
                    continue
                replay_case(fedscope, tmp, validator, rel, opts, dated, *extra)
            if extras:
                text_mode(fedscope, tmp)
                widening(fedscope, tmp)
                rotation_and_user(fedscope, tmp)
                net_raw_only(fedscope, tmp)
                bad_input(fedscope, tmp)
        finally:
            teardown()
    finish("live")


if __name__ == "__main__":
    main()
