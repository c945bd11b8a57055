#!/usr/bin/env python3
"""Keeps what docs/ and the README say about the interface true:
- every `schema_version N` they mention is the schema's (docs/report.schema.json) and the one
  the binary writes;
- every long option they mention exists in some `fedscope ... --help`, and every option of
  `fedscope report --help`, `fedscope findings --help`, `fedscope capture --help` and `fedscope tui --help` is
  documented in docs/cli.md.in.
usage: check_docs.py --fedscope build/app/fedscope"""
import argparse, json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from checks import check, finish  # noqa: E402
# Long options that docs mention for other programs, not fedscope.
FOREIGN = {
    "--fedscope": "tests/docs/make_cli_doc.py and tests/pcap/check_pcaps.py take the binary",
    "--test": "scripts/install-deps.sh --test",
    "--check": "tests/docs/make_cli_doc.py --check",
    "--docs": "tests/tui/check_tui.py --docs",
}

ap = argparse.ArgumentParser()
ap.add_argument("--fedscope", required=True)
a = ap.parse_args()



def help_options(*args):
    out = subprocess.run([a.fedscope, *args], capture_output=True, text=True, timeout=30).stdout
    opts = set()
    for line in out.splitlines():
        if line.lstrip().startswith("-"):
            opts |= set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", line))
    return opts


schema = json.loads((ROOT / "docs/report.schema.json").read_text())
version = schema["properties"]["schema_version"]["const"]
check(f"schema_version {version}" in schema.get("title", ""), "the schema's title names its version")
rep = subprocess.run([a.fedscope, "report", "pcaps/core/nat-port-522/fw-any.pcap", "--format",
                      "json"], capture_output=True, text=True, cwd=ROOT, timeout=60)
check(json.loads(rep.stdout)["schema_version"] == version, "the binary writes the schema's version")

docs = sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "docs").glob("*.in")) + [ROOT / "README.md"]
main_opts, report_opts, findings_opts = help_options("--help"), help_options("report", "--help"), help_options("findings", "--help")
capture_opts = help_options("capture", "--help")
tui_opts = help_options("tui", "--help")
known = main_opts | report_opts | findings_opts | capture_opts | tui_opts
for doc in docs:
    text = doc.read_text()
    rel = doc.relative_to(ROOT)
    for m in re.finditer(r"schema_version[`\"]*\s*[:=]?\s*`?(\d+)", text):
        check(int(m.group(1)) == version,
              f"{rel}: mentions schema_version {m.group(1)}, the schema is {version}")
    for opt in set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", text)):
        check(opt in known or opt in FOREIGN, f"{rel}: mentions {opt}, which no fedscope --help has")

cli = (ROOT / "docs/cli.md.in").read_text()
for opt in sorted(report_opts | findings_opts | capture_opts | tui_opts):
    check(f"`{opt}" in cli, f"docs/cli.md.in does not document {opt}")
finish("docs")
