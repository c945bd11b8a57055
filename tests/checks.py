"""The pass/fail bookkeeping every test script under tests/ shares: check(ok, what) counts and
prints each failure; finish() prints the closing 'N passed, N failed' line (what CI reads) and
exits non-zero on any failure. Import it after putting tests/ on sys.path."""
import sys

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")
    return ok


def finish(label=""):
    print(f"{label + ': ' if label else ''}{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
