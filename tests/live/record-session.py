#!/usr/bin/env python3
"""Records the capture session docs/cli.md shows: the lab's fw-drop-5269 scenario (real
Prosody servers, dnsmasq and an nftables firewall that drops inbound 5269) watched live by
`fedscope capture -i outside -i inside` (tests/lab/lab.sh with FSL_LIVE), in text and as JSON
lines. Writes docs/sessions/capture-text.txt, capture-jsonl.txt and README.txt; then run
tests/docs/make_cli_doc.py. Needs root (about 20 s). usage: record-session.py FEDSCOPE"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
fedscope = os.path.abspath(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, FSL_LIVE=fedscope, FSL_OUT=tmp)
    subprocess.run([str(ROOT / "tests/lab/lab.sh"), "fw-drop-5269"], env=env, check=True,
                   timeout=300, stdout=subprocess.DEVNULL)
    live = Path(tmp) / "fw-drop-5269" / "live"
    cmds = (live / "commands.txt").read_text().splitlines()
    text = (live / "live.text").read_text()
    text_err = (live / "live.text.err").read_text()
    jsonl = (live / "live.jsonl").read_text().splitlines()

out = ROOT / "docs" / "sessions"
out.mkdir(exist_ok=True)
cmd_text = next(c for c in cmds if "(text)" in c).split(": ", 1)[1]
cmd_text = cmd_text.replace(" --report " + cmd_text.split(" --report ")[1], "") \
    if " --report " in cmd_text else cmd_text
# The report's long stories are cut after the first attempt: the page shows the live part.
body = text.split("\nFederation attempts\n")[0].rstrip("\n") + "\n\nFederation attempts\n  ..."
ours = [ln for ln in text_err.splitlines() if ln.startswith("fedscope capture:")]
(out / "capture-text.txt").write_text(
    f"# {cmd_text.replace('ip netns exec fsl-fw ', '')}\n" + ours[0] + "\n" + body + "\n" +
    "\n".join(ours[1:]) + "\n")
# JSON lines: the first event of each type and kind, and every verdict event, as written.
seen, keep = set(), []
for line in jsonl:
    e = json.loads(line)
    kind = (e["type"], e.get("event"))
    if kind not in seen or e["type"] == "verdict":
        seen.add(kind)
        keep.append(line)
(out / "capture-jsonl.txt").write_text("\n".join(keep) + "\n")
day = datetime.date.today().isoformat()
(out / "README.txt").write_text(
    f"Recorded on {day} with tests/live/record-session.py (the lab's fw-drop-5269 scenario, "
    "real Prosody servers behind an nftables firewall that drops inbound 5269, watched on "
    "the firewall's outside and inside devices); a live session cannot be replayed "
    "byte for byte, so make_cli_doc.py includes it as recorded.\n")
print(f"docs/sessions: {len(keep)} of {len(jsonl)} JSON lines kept")
