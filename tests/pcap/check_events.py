#!/usr/bin/env python3
"""The event log as a person gets it: `fedscope report --events FILE` on every expected.json
file set (with its options). Each line must validate against docs/events.schema.json, the
sequence numbers must increase, and the events folded in order (raised adds a key, updated
replaces it, withdrawn removes it) must give exactly the findings, attempts and verdicts of the JSON
report written by the same run. Prints 'N passed, N failed'; exits non-zero on a failure."""

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from checks import check, finish  # noqa: E402


def finding_view(f, files):
    """A finding as both forms can say it: evidence by file path and packet."""
    refs = f["evidence"]["refs"] if "refs" in f["evidence"] else f["evidence"]["packets"]
    ev = []
    for r in refs:
        path = files[r["file"]] if isinstance(r["file"], int) else r["file"]
        ev.append((path, r["packet"], r["time"]))
    return json.dumps([f["code"], f["severity"], f["summary"], f["remedy"], f["flow"],
                       f["domain"], f["detail"], f["count"], ev, f["evidence"]["total"]])


def attempt_view(a, target_of_key):
    return json.dumps([a["target"], a["domain"], a["originator"], a["outcome"], a["from"], a["to"],
                       a["auth_method"], a["auth_result"], a["dns"], a["flows"], a["roles"],
                       target_of_key.get(a["reverse"]) if a["reverse"] else None])


def report_attempt_view(a, attempts):
    auth = a["auth"] or {}
    rev = attempts[a["reverse"] - 1]["target"] if a["reverse"] else None
    return json.dumps([a["target"], a["domain"], a["originator"], a["outcome"],
                       a["domains"]["from"], a["domains"]["to"], auth.get("method"),
                       auth.get("result"), a["dns"], a["connections"], a["roles"], rev])


def main():
    fedscope = sys.argv[1]
    schema = json.loads((ROOT / "docs/events.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    runs = 0
    seen = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.jsonl"
        for exp_path in sorted((ROOT / "pcaps").glob("**/expected.json")):
            exp = json.loads(exp_path.read_text())
            d = exp_path.parent
            sets = exp.get("file_sets") or [[f] for f in exp.get("files", [])]
            for fs in sets:
                files = [str((d / f).relative_to(ROOT)) for f in fs]
                name = f"{d.relative_to(ROOT)}:{'+'.join(fs)}"
                p = subprocess.run([fedscope, "report", *files, *exp.get("options", []),
                                    "--format", "json", "--events", str(log)],
                                   cwd=ROOT, capture_output=True, text=True, timeout=120)
                try:
                    rep = json.loads(p.stdout)
                except json.JSONDecodeError:
                    check(False, f"{name}: no JSON report (rc={p.returncode}) {p.stderr.strip()}")
                    continue
                runs += 1
                findings, attempts, verdicts, last = {}, {}, {}, 0
                for n, line in enumerate(log.read_text().splitlines(), 1):
                    e = json.loads(line)
                    errors = sorted(validator.iter_errors(e), key=str)
                    check(not errors, f"{name}: line {n}: schema: "
                          f"{errors[0].message if errors else ''}")
                    check(e["seq"] > last, f"{name}: line {n}: seq {e['seq']} after {last}")
                    last = e["seq"]
                    seen[e["event"]] += 1
                    table = {"finding": findings, "attempt": attempts,
                             "verdict": verdicts}[e["type"]]
                    state = e.get("finding") or e.get("attempt") or e.get("verdict")
                    if e["event"] == "raised":
                        check(e["key"] not in table, f"{name}: {e['key']} raised twice")
                        table[e["key"]] = state
                    elif e["event"] in ("updated", "folded"):
                        check(e["key"] in table, f"{name}: {e['key']} updated before raised")
                        table[e["key"]] = state
                    else:
                        check(table.pop(e["key"], None) is not None,
                              f"{name}: {e['key']} withdrawn but not raised")
                paths = [f["path"] for f in rep["capture"]["files"]]
                got = Counter(finding_view(f, paths) for f in findings.values())
                want = Counter(finding_view(f, paths) for f in rep["findings"])
                check(got == want, f"{name}: folded findings differ from the report: "
                      f"{sorted((got - want).elements())[:2]} vs {sorted((want - got).elements())[:2]}")
                target_of_key = {k: a["target"] for k, a in attempts.items()}
                got_a = Counter(attempt_view(a, target_of_key) for a in attempts.values())
                want_a = Counter(report_attempt_view(a, rep["attempts"]) for a in rep["attempts"])
                check(got_a == want_a, f"{name}: folded attempts differ from the report: "
                      f"{sorted((got_a - want_a).elements())[:1]} vs "
                      f"{sorted((want_a - got_a).elements())[:1]}")
                # Verdicts: the events' final state is the report's, attempts by target.
                got_v = Counter(json.dumps([v["from"], v["to"], v["status"], v["basis"],
                                            v["stage"], v["root_cause"], v["root_cause_key"],
                                            v["why"], sorted(target_of_key[k] for k in
                                                             v["attempts"])])
                                for v in verdicts.values())
                want_v = Counter(json.dumps([v["from"], v["to"], v["status"], v["basis"],
                                             v["stage"], v["root_cause"], v["root_cause_key"],
                                             v["why"], sorted(rep["attempts"][i]["target"]
                                                              for i in v["attempts"])])
                                 for v in rep["verdicts"])
                check(got_v == want_v, f"{name}: folded verdicts differ from the report: "
                      f"{sorted((got_v - want_v).elements())[:1]} vs "
                      f"{sorted((want_v - got_v).elements())[:1]}")
    check(runs > 50, f"only {runs} runs")
    check(seen["withdrawn"] > 0 and seen["updated"] > 0, f"events seen: {dict(seen)}")
    print(f"events: {runs} runs, {sum(seen.values())} events {dict(seen)}")
    finish("pcap_events")


if __name__ == "__main__":
    main()
