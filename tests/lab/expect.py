#!/usr/bin/python3
"""Writes a lab scenario's expected.json and servers.txt (called by tests/lab/lab.sh), or
rebuilds the lab block of pcaps/README.md (--readme).

Server logs are normalised so that they read the same from run to run: no timestamps, no
session ids (s2sin55d0c3e0 -> s2sin), no Erlang pids, no temporary paths."""

import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

sys.dont_write_bytecode = True

# What a server's log says about federation. Prosody's debug log is read (its info lines
# alone do not say why a connection failed), ejabberd's info log; both are cut where the lab
# stopped the servers (after the captures ended).
SKIP_SRC = re.compile(r"^(c2s|conn|serv|runner|portmanager|datamanager|rostermanager|"
                      r"modulemanager|certmanager|storagemanager|usermanager|hostmanager|stats|"
                      r"startup|sessionmanager|general|stringprep|ejabberd_mnesia|ejabberd_app|"
                      r"ejabberd_config|ejabberd_cluster|ejabberd_pkix|gen_mod|mod_)")
NOISE = re.compile(r"Accepted connection 127\.0\.0\.1|Start accepting|Stop accepting|"
                   r"Creating Mnesia|Loading modules|Certificates loaded|Creating context|"
                   r"Reload|is started in the node|Statistics disabled|legacy DNS API")
KEY_DEBUG = re.compile(r"Next target|[Ff]ailed to connect|No more targets|refused|timed out|"
                       r"[Uu]nreachable|certificate chain validation|certificate identity "
                       r"validation|SASL EXTERNAL|[Ii]nitiating dialback|dialback key|"
                       r"asking .* if key|TLS handshake complete|is offering TLS|"
                       r"Sending stream features|DNS socket|Exhausted|not in cache|"
                       r"Cert dNSName|opening a new outgoing|Checking for targets|"
                       r"Beginning new connection attempt|Connection attempt failed")
STOP = re.compile(r"Received SIGTERM|SIGTERM received")


def norm_prosody(line, work):
    # "Mar 10 12:34:56 s2sout55d0c3e0\tinfo\tmessage"
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 3:
        return None
    src = re.sub(r"^\w{3} [ \d]\d [\d:]{8} ", "", parts[0])
    src = re.sub(r"(c2s|s2sin|s2sout|conn)[0-9a-f]+$", r"\1", src)
    level, msg = parts[1].strip(), "\t".join(parts[2:])
    msg = re.sub(r"(c2s|s2sin|s2sout)[0-9a-f]{6,}", r"\1", msg)
    msg = re.sub(r" \(thread: 0x[0-9a-f]+\)\.\.\. \[\w+\]", "", msg)
    msg = re.sub(r"0x[0-9a-f]+", "0x…", msg)
    msg = re.sub(r"\[pending connection [^]]+\]", "[pending connection]", msg)
    msg = re.sub(r"\b[0-9a-f]{40,}\b", "KEY", msg)  # dialback keys
    msg = msg.replace(work, "$WORK")
    return src, level, msg


def norm_ejabberd(line, work):
    # "2024-03-10 12:34:56.123456+00:00 [info] <0.123.0>@ejabberd_s2s_out:... message"
    m = re.match(r"^\S+ \S+ \[(\w+)\] (?:<[\d.]+>)?(?:@(\S+))? ?(.*)$", line.rstrip("\n"))
    if not m:
        return None
    level, src, msg = m.group(1), (m.group(2) or "").split(":")[0], m.group(3)
    msg = re.sub(r"<[\d.]+>", "<pid>", msg).replace(work, "$WORK")
    return src, level, msg


def server_lines(work, spec):
    name, kind, domain, label = spec.split("=", 3)
    if kind == "prosody":
        path, norm = os.path.join(work, name, "prosody-debug.log"), norm_prosody
    else:
        path, norm = os.path.join(work, name, "logs", "ejabberd.log"), norm_ejabberd
    out = []
    try:
        lines = open(path, errors="replace").readlines()
    except FileNotFoundError:
        return label, out
    for line in lines:
        if STOP.search(line):
            break
        r = norm(line, work)
        if not r:
            continue
        src, level, msg = r
        if SKIP_SRC.search(src) or NOISE.search(msg):
            continue
        if level == "debug" and not KEY_DEBUG.search(msg):
            continue
        out.append(r)
    return label, out


def dedupe(seq):
    seen, res = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            res.append(x)
    return res


def write(a):
    key, full = [], []
    for spec in a.server:
        label, lines = server_lines(a.work, spec)
        full.append(f"## {label}")
        for src, level, msg in lines:
            full.append(f"{src}\t{level}\t{msg}")
            key.append(f"{label}: {level}: {msg}")
    full.append("## clients")
    clients = {}
    for f in sorted(os.listdir(os.path.join(a.work, "clients"))):
        if f.endswith(".json"):
            c = json.load(open(os.path.join(a.work, "clients", f)))
            clients[c["name"]] = c
            full.append(f"{c['jid']} -> {c['to']}: sent={bool(c['sent'])} received_from_peer="
                        f"{bool(c['received'])} errors={[e['condition'] for e in c['errors']]} "
                        f"events={c['events']}")
    sets = json.loads(a.file_sets)
    exp = {
        "description": a.desc,
        "options": json.loads(a.options),
        "file_sets": sets,
        "must": a.must,
        "must_not": a.must_not,
        **({"extra_checks": json.loads(a.extra_checks)} if a.extra_checks not in (None, "", "[]") else {}),
        "xmpp_must": a.xmpp_must,
        "xmpp_must_not": a.xmpp_must_not,
        "exact": True,
        "may": a.may,
        "messages": {"inside_to_peer": a.a2b, "peer_to_inside": a.b2a},
        "server_logs": dedupe(key),
        "not_determinable": a.not_determinable,
        "notes": a.notes,
    }
    # The verdict expectations are written by hand from how the scenario was built (issue
    # #11): a regeneration keeps those of the committed scenario.
    committed = os.path.join(ROOT, "pcaps", "lab", a.name, "expected.json")
    if os.path.exists(committed):
        old = json.load(open(committed))
        for k in ("verdicts", "verdicts_why", "verdicts_for"):
            if k in old:
                exp[k] = old[k]
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(exp, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(a.out, "servers.txt"), "w") as f:
        f.write(f"# {a.name}: what the servers logged about federation until the captures "
                "stopped (normalised: no times, no session ids) and what the clients saw\n")
        f.write("\n".join(dedupe(full)) + "\n")


def readme(a):
    lines = ["<!-- BEGIN lab-scenarios (generated by tests/lab/lab.sh --readme; edit "
             "tests/lab/scenarios.sh, not this block) -->"]
    tag = re.compile(r"(</?[A-Za-z][^<>]*>)")
    for name in a.names:
        d = os.path.join(a.lab, name)
        try:
            exp = json.load(open(os.path.join(d, "expected.json")))
        except FileNotFoundError:
            continue
        files = ", ".join(f"`{f}` {pcap_packets(os.path.join(d, f))} pkts"
                          for f in sorted(os.listdir(d)) if f.endswith(".pcap"))
        fmt = lambda codes: ", ".join(f"`{c}`" for c in codes) or "nothing"  # noqa: E731
        desc = tag.sub(r"`\1`", exp["description"])
        lines.append(f"* **{name}** — {desc}. {files}.  \n"
                     f"  messages: inside → peer {exp['messages']['inside_to_peer']}, peer → inside "
                     f"{exp['messages']['peer_to_inside']}.  \n"
                     f"  must: {fmt(exp['must'])}; xmpp_must: {fmt(exp['xmpp_must'])}.\n")
    lines.append("<!-- END lab-scenarios -->")
    block = "\n".join(lines)
    text = open(a.readme).read()
    if "<!-- BEGIN lab-scenarios" not in text:
        print(f"no lab-scenarios block in {a.readme}; left alone", file=sys.stderr)
        return
    text = re.sub(r"<!-- BEGIN lab-scenarios.*?<!-- END lab-scenarios -->", lambda m: block, text,
                  flags=re.S)
    open(a.readme, "w").write(text)


def pcap_packets(path):
    import struct
    data = open(path, "rb").read()
    if len(data) < 24:
        return 0
    end = "<" if struct.unpack("<I", data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    n, off = 0, 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        off += 16 + incl
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--readme")
    ap.add_argument("--lab")
    ap.add_argument("names", nargs="*")
    ap.add_argument("--out")
    ap.add_argument("--work")
    ap.add_argument("--name")
    ap.add_argument("--desc", default="")
    ap.add_argument("--notes", default="")
    ap.add_argument("--options")
    ap.add_argument("--file-sets")
    ap.add_argument("--extra-checks")
    ap.add_argument("--a2b")
    ap.add_argument("--b2a")
    for k in ("server", "must", "must-not", "xmpp-must", "xmpp-must-not", "may",
              "not-determinable"):
        ap.add_argument("--" + k, action="append", default=[])
    a = ap.parse_args()
    if a.readme:
        readme(a)
    else:
        write(a)


if __name__ == "__main__":
    main()
