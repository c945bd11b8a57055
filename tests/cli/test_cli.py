#!/usr/bin/env python3
"""The fedscope command line as a tcpdump/tshark user meets it: input from pipes, FIFOs,
process substitution and gzip; -o written safely; --time; usage errors and hints; the
findings catalogue; 1-based ids. Each check runs the real binary; every wait is bounded.

usage: test_cli.py --fedscope build/app/fedscope
"""
import argparse
import gzip
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from checks import check, finish  # noqa: E402
NAT522 = ROOT / "pcaps/core/nat-port-522/fw-any.pcap"
INSIDE = ROOT / "pcaps/core/dns-address-inside/fw-any.pcap"
PCAPNG = ROOT / "pcaps/corner/dumpcap-two-if.pcapng"
DIALBACK = ROOT / "pcaps/xmpp/dialback-valid-plaintext/s2s.pcap"
TIMEOUT = 60  # seconds any one fedscope run may take




def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run([FS] + [str(a) for a in args], **kw)


def report_json(args, **kw):
    p = run(["report", *args, "--format", "json"], **kw)
    try:
        return p, json.loads(p.stdout)
    except (json.JSONDecodeError, TypeError):
        return p, None


def same_analysis(a, b):
    """Two reports of the same packets: equal but for where the packets came from."""
    if a is None or b is None:
        return False
    def strip(r):
        r = json.loads(json.dumps(r))
        for f in r["capture"]["files"]:
            f["path"] = ""
            f["compression"] = None
        def walk(x):
            if isinstance(x, dict):
                for k in list(x):
                    if k in ("file", "vantage"):
                        x[k] = ""
                    else:
                        walk(x[k])
            elif isinstance(x, list):
                for v in x:
                    walk(v)
        walk(r)
        return r
    return strip(a) == strip(b)


def sha(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Input


def input_tests(tmp):
    base_p, base = report_json([NAT522])
    check(base_p.returncode == 1 and base is not None, "baseline report of nat-port-522")
    data = NAT522.read_bytes()

    p, rep = report_json(["-"], input=data)
    check(same_analysis(base, rep), f"`cat x | fedscope report -` reads standard input: {p.stderr!r}")
    check(rep is not None and rep["capture"]["files"][0]["path"] == "-", "stdin is named '-' in JSON")
    p = run(["report", "-"], input=data)
    check(b"standard input" in p.stdout and b"stdin#" not in p.stdout,
          "text report names standard input")

    p, rep = report_json(["/dev/stdin"], input=data)
    check(same_analysis(base, rep), f"/dev/stdin from a pipe is read in one pass: {p.stderr!r}")

    p, rep = report_json(["-r", NAT522])
    check(same_analysis(base, rep), "-r FILE is the same as FILE")

    gz = tmp / "x.pcap.gz"
    gz.write_bytes(gzip.compress(data))
    p, rep = report_json([gz])
    check(same_analysis(base, rep), f"a gzip-compressed pcap is read: {p.stderr!r}")
    check(rep is not None and rep["capture"]["files"][0]["compression"] == "gzip"
          and rep["capture"]["files"][0]["format"] == "pcap", "JSON says pcap, gzip")
    multi = tmp / "multi.pcap.gz"
    multi.write_bytes(gzip.compress(data[:1000]) + gzip.compress(data[1000:]))
    p, rep = report_json([multi])
    check(same_analysis(base, rep), f"a multi-member gzip (cat a.gz b.gz) is read: {p.stderr!r}")
    noext = tmp / "capture-without-extension"
    noext.write_bytes(gzip.compress(data))
    p, rep = report_json([noext])
    check(same_analysis(base, rep), "gzip is recognised by its bytes, not the name")

    p, rep = report_json(["-"], input=gzip.compress(data))
    check(same_analysis(base, rep), f"gzip through a pipe: {p.stderr!r}")

    # Process substitution: bash gives /dev/fd/N, a pipe that can be opened once only.
    for src in (f"cat {NAT522}", f"zcat {gz}"):
        p = subprocess.run(["bash", "-c", f'"$0" report <({src}) --format json', FS],
                           capture_output=True, timeout=TIMEOUT)
        try:
            rep = json.loads(p.stdout)
        except json.JSONDecodeError:
            rep = None
        check(same_analysis(base, rep), f"process substitution <({src.split()[0]} ...): {p.stderr!r}")

    ng = PCAPNG.read_bytes()
    ng_p, ng_base = report_json([PCAPNG])
    p, rep = report_json(["-"], input=ng)
    check(same_analysis(ng_base, rep), f"pcapng through a pipe: {p.stderr!r}")
    p, rep = report_json(["-"], input=gzip.compress(ng))
    check(same_analysis(ng_base, rep), f"gzip'd pcapng through a pipe: {p.stderr!r}")

    # A named FIFO: the writer writes everything and closes; the reader must finish.
    for name, payload, want in (("fifo", data, base), ("fifo-ng", ng, ng_base)):
        fifo = tmp / name
        os.mkfifo(fifo)
        def writer(path=fifo, payload=payload):
            with open(path, "wb") as w:
                for i in range(0, len(payload), 97):  # small writes, like a live tcpdump
                    w.write(payload[i:i + 97])
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        p, rep = report_json([fifo])
        t.join(5)
        check(same_analysis(want, rep), f"a named FIFO ({name}) is read to its end: {p.stderr!r}")

    # What was seen, named.
    text = tmp / "notes.txt"
    text.write_bytes(b"hello world, this is not a capture\n")
    tgz = tmp / "notes.txt.gz"
    tgz.write_bytes(gzip.compress(text.read_bytes()))
    p = run(["report", tgz])
    check(p.returncode == 2 and b"gzip data, but not a capture inside" in p.stderr,
          f"gzip of text: {p.stderr!r}")
    p = run(["report", text])
    check(p.returncode == 2 and b"text" in p.stderr, f"text is named as text: {p.stderr!r}")
    bz = tmp / "x.pcap.bz2"
    bz.write_bytes(b"BZh91AY&SY" + b"\0" * 40)
    p = run(["report", bz])
    check(p.returncode == 2 and b"bzip2" in p.stderr, f"bzip2 is named: {p.stderr!r}")
    p = run(["report", "-"], input=b"")
    check(p.returncode == 2 and b"empty" in p.stderr, f"empty standard input: {p.stderr!r}")
    cut = tmp / "cut.pcap.gz"
    cut.write_bytes(gzip.compress(data)[:-30])
    p, rep = report_json([cut])
    check(rep is not None and not rep["capture"]["files"][0]["complete"]
          and b"gzip" in p.stderr, f"a gzip file cut short is read up to the cut: {p.stderr!r}")

    # The same input twice is read once, with a warning.
    p, rep = report_json([NAT522, ROOT / "pcaps/core/../core/nat-port-522/fw-any.pcap"])
    check(rep is not None and len(rep["capture"]["files"]) == 1 and b"reading it once" in p.stderr,
          f"the same file twice is read once: {p.stderr!r}")
    check(same_analysis(base, rep), "the same file twice gives the one-file report")

    # Two files of the same name in different folders: evidence tells them apart.
    for d in ("outside", "inside"):
        (tmp / d).mkdir()
    shutil.copy(ROOT / "pcaps/core/nat-port-522/fw-outside.pcap", tmp / "outside/capture.pcap")
    shutil.copy(ROOT / "pcaps/core/nat-port-522/fw-inside.pcap", tmp / "inside/capture.pcap")
    p = run(["report", tmp / "outside/capture.pcap", tmp / "inside/capture.pcap"])
    out = p.stdout.decode()
    check("outside/capture.pcap#" in out and "inside/capture.pcap#" in out
          and " capture.pcap#" not in out, "evidence names same-named files by their folders")


def pcap_bytes(records, snaplen=65535):
    """A classic microsecond pcap (Ethernet) of (sec, usec, caplen_data, origlen)."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    for sec, usec, frame, orig in records:
        out += struct.pack("<IIII", sec, usec, len(frame), orig) + frame
    return out


def capture_tests(tmp):
    frame = bytes(6) + bytes(6) + b"\x08\x06" + bytes(28)  # an ARP-sized Ethernet frame
    late = tmp / "late.pcap"
    late.write_bytes(pcap_bytes([(0xFFFFFFFF, 0, frame, len(frame))]))
    p, rep = report_json([late])
    check(rep is not None and rep["capture"]["first"] == "2106-02-07T06:28:15.000000Z",
          f"ts_sec 0xFFFFFFFF is 2106 (unsigned, as tshark reads it): {rep and rep['capture']['first']}")
    check(rep is not None and "capture.time_went_backwards" not in rep["anomalies"],
          "one packet never went back in time")
    bad = tmp / "origlen.pcap"
    bad.write_bytes(pcap_bytes([(1795600800, 0, frame, 10)]))
    p, rep = report_json([bad])
    check(rep is not None and any("original_length" in k for k in rep["anomalies"]),
          f"origlen < caplen is counted: {rep and rep['anomalies']}")

    # The snaplen that cut packets is the interface's (dumpcap-two-if: interface 0 128).
    p = run(["report", PCAPNG])
    out = p.stdout.decode()
    check("snaplen 262144" not in out.split("\n")[2], f"the file line names no wrong snaplen: {out.splitlines()[2]!r}")
    check("snaplen 128" in out and "4 cut" in out, "the interface line shows its snaplen and cut packets")
    p, rep = report_json([PCAPNG])
    ifs = rep["capture"]["files"][0]["interfaces"] if rep else []
    check([i["truncated"] for i in ifs] == [4, 0] or [i["truncated"] for i in ifs] == [0, 4],
          f"JSON counts cut packets per interface: {ifs}")


# ---------------------------------------------------------------------------------------------
# Output


def output_tests(tmp):
    cap = tmp / "v.pcap"
    shutil.copy(NAT522, cap)
    before = sha(cap)
    p = run(["report", cap, "-o", cap])
    check(p.returncode == 2 and b"one of the input" in p.stderr and sha(cap) == before,
          f"-o onto the input is refused and the capture untouched: {p.stderr!r}")
    link = tmp / "link.pcap"
    os.symlink(cap, link)
    p = run(["report", cap, "-o", link])
    check(p.returncode == 2 and sha(cap) == before, "-o onto a link to the input is refused")
    p = run(["report", cap, "-o", "/"])
    check(p.returncode == 2 and b"Is a directory" in p.stderr, f"-o /: {p.stderr!r}")
    p = run(["report", cap, "-o", tmp / "missing/r.txt"])
    check(p.returncode == 2 and b"No such file or directory" in p.stderr and b"missing" in p.stderr,
          f"-o into a missing folder: {p.stderr!r}")
    p = run(["report", cap, "-o", "/dev/full"])
    check(p.returncode == 2 and b"No space left on device" in p.stderr, f"-o /dev/full: {p.stderr!r}")
    p = run(["report", cap, "-o", "/dev/null"])
    check(p.returncode == 1 and not p.stderr, "-o /dev/null writes in place")

    # A read-only folder: as root permissions do not apply, so run as nobody there.
    ro = tmp / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    os.chmod(tmp, 0o755)
    cmd = [FS, "report", cap, "-o", ro / "r.txt"]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    p = subprocess.run([str(c) for c in cmd], capture_output=True, timeout=TIMEOUT)
    check(p.returncode == 2 and b"Permission denied" in p.stderr, f"-o into a read-only folder: {p.stderr!r}")

    # Checked before the analysis: a bad -o fails at once even when the input never ends.
    fifo = tmp / "never"
    os.mkfifo(fifo)
    keep = os.open(fifo, os.O_RDWR)  # a writer that never writes nor closes
    try:
        t0 = time.monotonic()
        try:
            p = run(["report", fifo, "-o", tmp / "missing/r.txt"], timeout=20)
            check(p.returncode == 2 and time.monotonic() - t0 < 15,
                  "-o is checked before reading starts")
        except subprocess.TimeoutExpired:
            check(False, "-o is checked before reading starts (it waited for the input)")

        # A killed run leaves the old report as it was and no temporary file.
        out = tmp / "r.json"
        out.write_text("old report\n")
        proc = subprocess.Popen([FS, "report", str(fifo), "--format", "json", "-o", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.write(keep, NAT522.read_bytes()[:200])
        time.sleep(1.0)
        temps = [f for f in os.listdir(tmp) if f.startswith(".r.json.")]
        check(len(temps) == 1, f"the report is written to a temporary file beside the target: {temps}")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        check(out.read_text() == "old report\n", "a killed run leaves the old report untouched")
        check(not [f for f in os.listdir(tmp) if f.startswith(".r.json.")],
              "a killed run leaves no temporary file")
    finally:
        os.close(keep)

    # A completed run replaces the target whole, with a normal file mode.
    out = tmp / "ok.json"
    out.write_text("old\n")
    p = run(["report", cap, "--format", "json", "-o", out])
    check(p.returncode == 1 and json.loads(out.read_text())["schema_version"] >= 3,
          "-o replaces the report when complete")
    check(oct(out.stat().st_mode & 0o777) == oct(0o644) or out.stat().st_mode & 0o044,
          f"the report is readable like a normally created file: {oct(out.stat().st_mode)}")


def time_tests(tmp):
    env = dict(os.environ, TZ="Europe/Berlin")
    p = run(["report", NAT522, "--time", "local"], env=env)
    out = p.stdout.decode()
    check("times: local time, Europe/Berlin" in out, "the header names the local zone")
    ev = [l for l in out.splitlines() if l.strip().startswith("evidence:")]
    first = ev[0].split("#1 ")[1].split(",")[0] if ev else ""
    # tshark -t ad on the same packet, same zone.
    t = subprocess.run(["tshark", "-r", str(NAT522), "-t", "ad", "-c", "1", "-T", "fields",
                        "-e", "_ws.col.Time"], capture_output=True, text=True, env=env, timeout=TIMEOUT)
    want = t.stdout.strip()  # "2026-11-25 15:13:40.311930"
    check(first.endswith("+01:00") and want.split(" ")[-1][:15] == first[:15],
          f"--time local matches tshark -t ad under TZ=Europe/Berlin: {first!r} vs {want!r}")
    p = run(["report", NAT522])
    out = p.stdout.decode()
    check("times: UTC" in out and "#1 14:13:40.311930Z" in out, "UTC is the default and marked Z")
    p = run(["report", NAT522, "--time", "relative"])
    out = p.stdout.decode()
    check("seconds since the first packet" in out and "#1 +0.000000s" in out
          and "#4 +0.000130s" in out, "--time relative counts from the first packet")
    p, rep = report_json([NAT522, "--time", "local"], env=env)
    check(rep is not None and rep["capture"]["first"].endswith("Z"), "JSON stays UTC")
    p = run(["report", NAT522, "--time", "cet"])
    check(p.returncode == 2 and b"--time" in p.stderr, "a bad --time is a usage error")


# ---------------------------------------------------------------------------------------------
# Command-line habits


def habit_tests(tmp):
    p = run(["x.pcap"])
    check(p.returncode == 2 and b"did you mean `fedscope report x.pcap`" in p.stderr,
          f"a file without a command gets a hint: {p.stderr!r}")
    p = run(["-r", "x.pcap"])
    check(p.returncode == 2 and b"fedscope report -r x.pcap" in p.stderr, "-r without report: hint")
    p = run(["reprot", "x.pcap"])
    check(p.returncode == 2 and b"report" in p.stderr, "a mistyped command: hint")
    p = run(["help", "report"])
    check(p.returncode == 0 and b"usage: fedscope report" in p.stdout and b"--time" in p.stdout,
          "help report prints the report help")
    p = run(["help", "findings"])
    check(p.returncode == 0 and b"usage: fedscope findings" in p.stdout, "help findings")
    for v in ("-V", "--version", "version"):
        p = run([v])
        check(p.returncode == 0 and p.stdout.startswith(b"fedscope "), f"{v} prints the version")
    p = run(["report", NAT522, "--frobnicate"])
    lines = p.stderr.decode().splitlines()
    check(p.returncode == 2 and len(lines) == 2 and "see `fedscope report --help`" in lines[1],
          f"a usage error is one line plus where to look: {lines}")
    p = run(["report"])
    check(p.returncode == 2 and b"no capture file" in p.stderr and len(p.stderr.splitlines()) == 2,
          "report without files: one line")

    p = run(["findings", "--format", "json"])
    cat = json.loads(p.stdout)["findings"]
    codes = [c["code"] for c in cat]
    check(p.returncode == 0 and len(codes) >= 37 and all(c["remedy"] and c["meaning"] for c in cat),
          "findings --format json lists every code with meaning and remedy")
    md = (ROOT / "docs/findings.md").read_text()
    check(all(f"## {c}" in md for c in codes), "every JSON code is documented in findings.md")
    p = run(["findings", "nat-port-mismatch"])
    out = p.stdout.decode()
    check(p.returncode == 0 and "nat-port-mismatch  (error" in out and "Remedy:" in out
          and "docs/findings.md#nat-port-mismatch" in out, "findings CODE explains one code")
    p = run(["findings", "nat-port-mismatch", "--format", "json"])
    one = json.loads(p.stdout)["findings"]
    check(len(one) == 1 and one[0]["code"] == "nat-port-mismatch" and one[0]["severity"] == "error",
          "findings CODE --format json")
    p = run(["findings", "tls"])
    check(p.returncode == 0 and all(l.split()[0].find("tls") >= 0 for l in p.stdout.decode().splitlines()),
          "findings WORD lists the codes containing it")
    p = run(["findings", "nat-prot-mismatch"])
    check(p.returncode == 2 and b"did you mean nat-port-mismatch" in p.stderr, "unknown code: hint")


def json_tests(tmp):
    p, rep = report_json([DIALBACK, "--domain", "a.example"])
    att = rep["attempts"] if rep else []
    ids = [a["id"] for a in att]
    check(ids == list(range(1, len(att) + 1)), f"attempt ids are 1-based: {ids}")
    rev = [a["reverse"] for a in att if a["reverse"] is not None]
    check(rev and all(r in ids for r in rev), f"reverse names an attempt id: {rev}")
    check(all(att[a["reverse"] - 1]["reverse"] == a["id"] for a in att if a["reverse"]),
          "reverse is symmetric")
    txt = run(["report", DIALBACK, "--domain", "a.example"]).stdout.decode()
    for a in att:
        if a["reverse"]:
            check(f"[{a['id']}] " in txt and f"reverse direction: [{a['reverse']}]" in txt,
                  "the text report's [n] are the JSON ids")
    check(rep["schema_version"] == 4, "schema_version 4")


def domain_tests(tmp):
    for d in ("CUPDOMAIN.EXAMPLE", "cupdomain.example.", "CupDomain.Example."):
        p, rep = report_json([INSIDE, "--inside-net", "192.0.2.0/24", "--domain", d])
        f = [x for x in rep["findings"] if x["code"] == "dns-address-not-public"] if rep else []
        check(bool(f) and f[0]["remedy"].startswith("This is your domain"),
              f"--domain {d} is the same domain as cupdomain.example")


def events_tests(tmp):
    """--events: written in full beside the report, refused onto an input or onto the report's
    own standard output, and the report is the same with or without it."""
    cap = tmp / "v.pcap"
    shutil.copy(NAT522, cap)
    before = sha(cap)
    p = run(["report", cap, "--events", cap])
    check(p.returncode == 2 and b"--events" in p.stderr and sha(cap) == before,
          f"--events onto the input is refused: {p.stderr!r}")
    p = run(["report", cap, "--events", "-"])
    check(p.returncode == 2 and b"standard output" in p.stderr,
          f"--events - with the report on standard output is refused: {p.stderr!r}")
    ev = tmp / "ev.jsonl"
    _, plain = report_json([cap])
    p, rep = report_json([cap, "--events", ev])
    check(same_analysis(plain, rep), "the report is the same with --events")
    lines = ev.read_text().splitlines() if ev.exists() else []
    kinds = {json.loads(l)["event"] for l in lines}
    check(len(lines) > 0 and "raised" in kinds, f"--events wrote events: {len(lines)} lines")
    check(not list(tmp.glob(".ev.jsonl.fedscope-*")), "no temporary event file is left")
    p = run(["report", cap, "-o", tmp / "r.json", "--format", "json", "--events", "-"])
    out = p.stdout.decode().splitlines()
    check(p.returncode == 1 and out and all(json.loads(l)["type"] in ("finding", "attempt", "verdict")
                                            for l in out),
          "--events - writes the events to standard output when the report goes to -o")


def main():
    global FS
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedscope", required=True)
    a = ap.parse_args()
    FS = str(Path(a.fedscope).resolve())
    tmp = Path(tempfile.mkdtemp(prefix="fedscope-cli-"))
    try:
        for t in (input_tests, capture_tests, output_tests, time_tests, habit_tests, json_tests,
                  domain_tests, events_tests):
            d = tmp / t.__name__
            d.mkdir()
            try:
                t(d)
            except Exception as e:  # a crash of the test itself is a failure, not an abort
                check(False, f"{t.__name__} raised {type(e).__name__}: {e}")
    finally:
        for d, _, _ in os.walk(tmp):
            os.chmod(d, 0o755)
        shutil.rmtree(tmp, ignore_errors=True)
    finish("cli")


if __name__ == "__main__":
    main()
