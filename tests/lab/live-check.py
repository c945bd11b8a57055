#!/usr/bin/python3
"""Lab scenarios watched live by `fedscope capture` (issue #14).

    tests/lab/live-check.py FEDSCOPE [SCENARIO...]     (root; exit 77 = skipped)

Runs tests/lab/lab.sh with FSL_LIVE=FEDSCOPE (real Prosody, dnsmasq and the nftables "ASA" in
network namespaces): during each scenario two `fedscope capture -i outside -i inside` run in
fsl-fw, the devices of fw-outside.pcap and fw-inside.pcap, one writing JSON lines (with -w
live.pcapng and --report live.json), one text (with --report live-text.json); lab.sh stops
them with SIGINT when the scenario is over and records in live/stop.txt how many lines each had
written by then. The clients' message bodies carry a marker word (FSL_MARKER).

Checked per scenario:
  - every JSON line validates against docs/events.schema.json and seq increases;
  - while it happens: every finding code the scenario's expected.json requires ("must",
    "xmpp_must") was raised in a finding event, and every expected root cause was named in a
    verdict event and in the text stream, before the captures were told to stop;
  - the live --report: the expected verdicts (expected.json "verdicts" for the
    fw-outside + fw-inside file set) and exactly the expected codes (plus "may");
  - the live --report equals `fedscope report live.pcapng --format json` with the same options
    apart from "generator", "options" and "capture.files" (tests/live/check_live.py);
  - the verdict events folded equal the report's verdicts; the text run's --report has the same
    verdicts; the text output has verdict lines and ends with the report ("Verdicts");
  - privacy: the marker is in no event line, not in the text output, not in either --report,
    not in `fedscope report` of the -w file, not on stderr; the clients did send it, and
    (proving the check can fail) in the plaintext scenario it is in live.pcapng.
Prints 'N passed, N failed'.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "live"))

# healthy (ok both ways), a firewall fault, an XMPP fault, and a plaintext one for the
# privacy check's sanity half (the marker must be visible in its -w file).
SCENARIOS = ["healthy-ca", "fw-drop-5269", "dialback-imposter", "healthy-plaintext"]
PLAINTEXT = {"healthy-plaintext"}
FILE_SET = "fw-outside.pcap+fw-inside.pcap"  # what the live captures' devices are
LAB_TOOLS = ["ip", "nft", "tcpdump", "dnsmasq", "prosody", "ejabberdctl", "setpriv", "openssl",
             "jq", "tshark", "timeout", "ss", "flock"]


def skip(why):
    print(f"lab live: {why}; skipped")
    sys.exit(77)


def preflight():
    if os.geteuid() != 0:
        skip("needs root (network namespaces)")
    missing = [t for t in LAB_TOOLS if shutil.which(t) is None]
    if missing:
        skip(f"missing {' '.join(missing)} (scripts/install-deps.sh --test)")
    for mod in ("slixmpp", "jsonschema"):
        if subprocess.run(["/usr/bin/python3", "-c", f"import {mod}"],
                          capture_output=True).returncode != 0:
            skip(f"/usr/bin/python3 lacks {mod}")
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        skip("no network namespaces")


def kv(path):
    out = {}
    for line in path.read_text().splitlines():
        k, _, v = line.partition("=")
        out[k.strip()] = v.strip()
    return out


def run_fedscope(fedscope, args, timeout=120):
    return subprocess.run([fedscope, *args], capture_output=True, text=True, timeout=timeout)


def check_scenario(fedscope, out, name, marker, validator):
    # Imported here: check_live imports jsonschema at its top (preflight checks it first).
    from check_live import events, fold_verdicts, same_as_report_of, verdict_view
    from checks import check

    exp = json.loads((ROOT / "pcaps" / "lab" / name / "expected.json").read_text())
    opts = exp.get("options", [])
    live = out / name / "live"
    if not check(live.is_dir(), f"{name}: lab.sh wrote no live/ (did the scenario fail?)"):
        return
    stop = kv(live / "stop.txt")
    for m in ("jsonl", "text"):
        check(stop.get(f"rc_{m}") in ("0", "1"),
              f"{name}: fedscope capture ({m}) exit status {stop.get(f'rc_{m}')} (0 or 1 expected; "
              f"124/143: it did not stop on SIGINT): {(live / f'live.{m}.err').read_text()[-300:]}")

    # The stream: schema, seq; what it said before the stop.
    evs = events(live / "live.jsonl", validator, name)
    n_stop = int(stop.get("lines_jsonl", "0"))
    before = evs[:n_stop]
    check(n_stop > 0 and len(evs) > n_stop,
          f"{name}: {n_stop} lines before the stop, {len(evs)} in all (the end adds the final stats)")
    raised = {e["finding"]["code"] for e in before
              if e["type"] == "finding" and e["event"] in ("raised", "updated") and e.get("finding")}
    must = set(exp.get("must", [])) | set(exp.get("xmpp_must", []))
    check(must <= raised, f"{name}: {sorted(must - raised)} not raised before the stop "
          f"(raised by then: {sorted(raised)})")
    listed = exp.get("verdicts_for", {}).get(FILE_SET, exp["verdicts"])
    causes = {(v["from"], v["to"], v["root_cause"]) for v in listed if v.get("root_cause")}
    said = {(e["verdict"]["from"], e["verdict"]["to"], e["verdict"]["root_cause"]) for e in before
            if e["type"] == "verdict" and e.get("verdict")}
    check(causes <= said, f"{name}: root causes {sorted(causes - said)} not in a verdict event "
          f"before the stop")
    print(f"{name}: {len(evs)} events, {n_stop} before the stop; raised by then: {sorted(raised)}")

    # The final report of the live run.
    try:
        raw = (live / "live.json").read_text()
        # lab.sh wrote -w in its work directory and copied it here: evidence names that path.
        was = json.loads(raw)["capture"]["files"][0]["path"]
        rep = json.loads(raw.replace(json.dumps(was)[1:-1], str(live / "live.pcapng")))
    except (OSError, json.JSONDecodeError, KeyError, IndexError) as ex:
        check(False, f"{name}: no --report: {ex}")
        return
    got = {(v["from"], v["to"]): v for v in rep["verdicts"]}
    for w in listed:
        g = got.get((w["from"], w["to"]))
        bad = [f"{k} {g[k]!r}, want {w[k]!r}" for k in ("status", "stage", "root_cause", "basis")
               if g is not None and k in w and w[k] != g.get(k)]
        check(g is not None and not bad,
              f"{name}: live verdict {w['from']} -> {w['to']}: {bad or 'missing'}")
    for key, g in got.items():
        check(key in {(w["from"], w["to"]) for w in listed} or g["status"] == "not-observed",
              f"{name}: live verdict {key} not expected: {g['status']}")
    codes = {f["code"] for f in rep["findings"]}
    may = set(exp.get("may", []))
    check(must <= codes <= must | may,
          f"{name}: live findings {sorted(codes)}, want {sorted(must)} (+ maybe {sorted(may)})")
    check(not codes & (set(exp.get("must_not", [])) | set(exp.get("xmpp_must_not", []))),
          f"{name}: live findings {sorted(codes)} include a must_not code")

    # It equals the report of its -w file.
    if same_as_report_of(fedscope, rep, live / "live.pcapng", opts, name) is None:
        return

    # The verdict events folded give the final verdicts.
    folded = fold_verdicts(evs)
    check(verdict_view(folded) == verdict_view(rep),
          f"{name}: folded verdict events {verdict_view(folded)} "
          f"vs the report's {verdict_view(rep)}")

    # Text mode: verdict lines while it ran, then the report; its --report agrees.
    text = (live / "live.text").read_text()
    tlines = text.splitlines()
    t_stop = int(stop.get("lines_text", "0"))
    early = "\n".join(tlines[:t_stop])
    check(re.search(r"^\S+ verdict  ", early, re.M) is not None,
          f"{name}: no verdict line in the text stream before the stop")
    for frm, to, cause in sorted(causes):
        check(f"{frm} -> {to}: " in early and f"root cause {cause}" in early,
              f"{name}: the text stream did not name {cause} for {frm} -> {to} before the stop")
    # How long after its evidence each root cause was said (the text's verdict lines carry the
    # wall clock, the finding events the packets' times); information, not a check.
    day = evs[0]["time"][:11] if evs else ""
    for frm, to, cause in sorted(causes):
        ev = [max(r["time"] for r in e["finding"]["evidence"]["refs"]) for e in evs
              if e["type"] == "finding" and e["event"] == "raised" and e.get("finding")
              and e["finding"]["code"] == cause and e["finding"]["evidence"]["refs"]]
        said_at = re.search(rf"^(\S+)Z verdict  {re.escape(frm)} -> {re.escape(to)}: .*"
                            rf"root cause {re.escape(cause)}", early, re.M)
        if ev and said_at:
            lag = (datetime.fromisoformat(day + said_at.group(1)) -
                   datetime.fromisoformat(min(ev).rstrip("Z"))).total_seconds()
            print(f"{name}: {cause} ({frm} -> {to}) said {lag:.1f} s after its evidence, "
                  f"{float(stop['stop_time']) - datetime.fromisoformat(day + said_at.group(1)).replace(tzinfo=timezone.utc).timestamp():.1f} s before the stop")
    report_part = "\n".join(tlines[t_stop:])
    check("\nVerdicts\n" in "\n" + report_part + "\n" and "fedscope report:" in report_part,
          f"{name}: the text output does not end with the report: {report_part[:200]!r}")
    try:
        trep = json.loads((live / "live-text.json").read_text())
        check(verdict_view(trep) == verdict_view(rep),
              f"{name}: text run verdicts {verdict_view(trep)} vs jsonl run {verdict_view(rep)}")
    except (OSError, json.JSONDecodeError) as ex:
        check(False, f"{name}: text run --report: {ex}")

    # Privacy: the message bodies carry the marker; nothing fedscope says repeats it.
    sent = []
    for c in live.glob("*.json"):
        if c.name in ("live.json", "live-text.json"):
            continue
        s = json.loads(c.read_text()).get("sent")
        if s:
            sent.append(s["body"])
    check(sent and all(marker in b for b in sent),
          f"{name}: the clients did not send the marker: {sent}")
    mb = marker.encode()
    for f in ("live.jsonl", "live.text", "live.json", "live-text.json", "live.jsonl.err",
              "live.text.err"):
        check(mb not in (live / f).read_bytes(), f"{name}: the message body is in {f}")
    t = run_fedscope(fedscope, ["report", str(live / "live.pcapng"), *opts])
    j = run_fedscope(fedscope, ["report", str(live / "live.pcapng"), "--format", "json", *opts])
    check(marker not in j.stdout and marker not in t.stdout and marker not in t.stderr,
          f"{name}: the message body is in `fedscope report live.pcapng`")
    if name in PLAINTEXT:
        check(mb in (live / "live.pcapng").read_bytes(),
              f"{name}: sanity: the marker is not in live.pcapng of a plaintext scenario "
              f"(the privacy check would prove nothing)")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    fedscope = os.path.abspath(sys.argv[1])
    preflight()
    import jsonschema
    from checks import check, finish

    validator = jsonschema.Draft202012Validator(
        json.loads((ROOT / "docs" / "events.schema.json").read_text()))
    scenarios = sys.argv[2:] or SCENARIOS
    marker = "fsmark" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="fedscope-lablive.") as t:
        out = Path(t)
        env = dict(os.environ, FSL_OUT=str(out), FSL_LIVE=fedscope, FSL_MARKER=marker)
        env.pop("FSL_KEEP", None)
        # lab.sh bounds itself (FSL_BUDGET watchdog, 900 s by default); this is the outer bound.
        p = subprocess.run(["timeout", "-k", "10", "600", str(HERE / "lab.sh"), *scenarios],
                           env=env, stdin=subprocess.DEVNULL, timeout=700)
        check(p.returncode == 0, f"lab.sh exit status {p.returncode}")
        for name in scenarios:
            check_scenario(fedscope, out, name, marker, validator)
    finish("lab live")


if __name__ == "__main__":
    main()
