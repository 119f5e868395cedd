"""Compares two JUnit files that CPython's regression runner wrote (python3
-m test --junit-xml), natively and under greenshim: for each test module,
the outcome of every test case (passed, failed, error, skipped).

    python3 compare.py NATIVE.xml GREEN.xml [MODULE...]

Prints one line per module: "same MODULE N cases (P passed, S skipped)"
or "differ MODULE: case native->greenshim, ...". Exits 1 if any differs.
"""
import sys
import xml.etree.ElementTree as ET


def outcomes(path):
    cases = {}
    for i, case in enumerate(ET.parse(path).getroot().iter("testcase")):
        kinds = {child.tag for child in case}
        if "failure" in kinds:
            result = "failed"
        elif "error" in kinds:
            result = "error"
        elif "skipped" in kinds or case.get("status") == "skipped":
            result = "skipped"
        else:
            result = "passed"
        # A case the runner could not name (a module that failed to
        # load, a crash): by its position, so that it still counts.
        cases[case.get("name") or f"unnamed.case{i}"] = result
    return cases


def module_of(name):
    # test.test_thread.LockTests.test_repr -> test_thread
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "test" else parts[0]


def main():
    native, green = outcomes(sys.argv[1]), outcomes(sys.argv[2])
    modules = sys.argv[3:] or sorted({module_of(n) for n in native} | {module_of(n) for n in green})
    bad = False
    for module in modules:
        names = sorted(n for n in set(native) | set(green) if module_of(n) == module)
        diffs = [f"{n} {native.get(n, 'absent')}->{green.get(n, 'absent')}"
                 for n in names if native.get(n) != green.get(n)]
        if not names:
            print(f"differ {module}: no test case ran")
            bad = True
        elif diffs:
            print(f"differ {module}: " + ", ".join(diffs[:10]) +
                  (f" (and {len(diffs) - 10} more)" if len(diffs) > 10 else ""))
            bad = True
        else:
            counts = {k: sum(1 for n in names if native[n] == k) for k in ("passed", "skipped", "failed", "error")}
            print(f"same {module} {len(names)} cases ({counts['passed']} passed, "
                  f"{counts['skipped']} skipped, {counts['failed'] + counts['error']} failed)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
