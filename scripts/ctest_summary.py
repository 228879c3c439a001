#!/usr/bin/env python3
"""Summarises ctest's JUnit file (ctest --output-junit): lists every test that did not run with its
reason, then ends with the line 'N passed, N failed' (with several files, one 'BUILD: N passed, N failed'
line each before the total). A skipped test counts as failed unless --allow-skips is given. Exits 1
when anything failed.

usage: ctest_summary.py [BUILD=]JUNIT.xml ... [--allow-skips]
"""
import sys
import xml.etree.ElementTree as ET


def skip_reason(case):
    # GoogleTest prints "<file>:<line>: Skipped", the GTEST_SKIP() message, then "[  SKIPPED ] <test>".
    lines = (case.findtext("system-out") or "").splitlines()
    for i, line in enumerate(lines):
        if line.endswith(": Skipped"):
            message = []
            for text in lines[i + 1:]:
                if text.startswith("[  SKIPPED ]"):
                    break
                if text.strip():
                    message.append(text.strip())
            return " ".join(message) or "(GTEST_SKIP without a message)"
    skipped = case.find("skipped")
    return skipped.get("message", "") if skipped is not None else case.get("status", "")


def main(argv):
    allow_skips = "--allow-skips" in argv
    runs = [a.split("=", 1) if "=" in a else ["", a] for a in argv if a != "--allow-skips"]
    if not runs:
        sys.exit(__doc__.strip().splitlines()[-1])
    total_passed, total_failed = 0, 0
    for build, path in runs:
        passed, failed, skipped = 0, 0, []
        for case in ET.parse(path).getroot().iter("testcase"):
            status = case.get("status")
            if status == "run":
                passed += 1
            elif status == "fail":
                failed += 1
            else:  # notrun (skipped) or disabled
                skipped.append((case.get("name"), skip_reason(case)))
        if skipped:
            print(f"\n{len(skipped)} tests did not run{' on ' + build if build else ''}:")
            for name, reason in skipped:
                print(f"  {name}: {reason}")
            if not allow_skips:
                print("They count as failures; pass --allow-skips to accept them.")
                failed += len(skipped)
        if len(runs) > 1:
            print(f"{build}: {passed} passed, {failed} failed")
        total_passed += passed
        total_failed += failed
    print(f"{total_passed} passed, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
