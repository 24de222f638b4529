"""Dependency audit: known vulnerabilities in the installed (pinned) packages. Run by `make audit` and CI.

1. pip-audit against PyPI's advisory data, one query per installed release.
2. Where that service cannot be reached (some networks serve only PyPI's project pages and package files), fall back
   to the project pages: they list the advisories that affect each project's latest release, which audits every
   package pinned at its latest release. Packages pinned below it are named as not audited.

Exit 1 on any known vulnerability. An audit that could not run is reported plainly and does not fail the build,
unless AUDIT_STRICT=1.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

BIN = Path(sys.executable).parent
STRICT = os.environ.get("AUDIT_STRICT") == "1"


def pip_audit():
    """(audited, skipped, findings) from pip-audit, or None if it could not run at all."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        result = subprocess.run(
            [BIN / "pip-audit", "--vulnerability-service", "pypi", "--progress-spinner", "off", "--skip-editable",
             "--format", "json", "--output", str(report)],
            capture_output=True, text=True, timeout=600,
        )
        if not report.exists():
            print(f"pip-audit did not run: {(result.stderr.strip().splitlines() or ['no output'])[-1]}")
            return None
        dependencies = json.loads(report.read_text())["dependencies"]
    audited = [d for d in dependencies if "skip_reason" not in d]
    skipped = [d for d in dependencies if "skip_reason" in d]
    findings = [(d["name"], d["version"], v["id"], v.get("fix_versions")) for d in audited for v in d["vulns"]]
    return audited, skipped, findings


def project_page(name):
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as response:
        return json.load(response)


def latest_release_audit():
    """(checked, behind, findings) from the project pages, for packages pinned at their latest release."""
    checked, behind, findings = [], [], []
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for name, version in sorted(installed.items()):
        try:
            page = project_page(name)
        except OSError as error:
            behind.append(f"{name} {version} (project page unreachable: {error})")
            continue
        latest = page["info"]["version"]
        if latest != version:
            behind.append(f"{name} {version} (latest {latest})")
            continue
        checked.append(name)
        for advisory in page.get("vulnerabilities", []):
            if not advisory.get("withdrawn"):
                findings.append((name, version, advisory["id"], advisory.get("fixed_in")))
    return checked, behind, findings


def main():
    result = pip_audit()
    if result is not None and result[0]:
        audited, skipped, findings = result
        print(f"pip-audit checked {len(audited)} packages against PyPI's advisories.")
        for item in skipped:
            print(f"  not audited: {item['skip_reason']}")
    else:
        if result is not None:
            print(f"pip-audit could not audit any of the {len(result[1])} installed packages: PyPI's per-release "
                  "advisory pages are not reachable from here (e.g. "
                  f"{result[1][0]['skip_reason'] if result[1] else 'no packages'}).")
        print("Falling back to the project pages, which list advisories for each project's latest release.")
        checked, behind, findings = latest_release_audit()
        print(f"Checked {len(checked)} packages pinned at their latest release.")
        if behind:
            print(f"NOT AUDITED: {len(behind)} packages pinned below their latest release (no advisory data "
                  "for their version here):")
            for line in behind:
                print(f"  {line}")
        if not checked:
            print("DEPENDENCY AUDIT COULD NOT RUN: no advisory data could be fetched.")
            return 1 if STRICT else 0
        if behind and STRICT:
            print("AUDIT_STRICT=1: packages that could not be audited fail the audit.")
            return 1
    for name, version, advisory, fixed in findings:
        print(f"VULNERABLE: {name} {version}: {advisory} (fixed in {', '.join(fixed or []) or 'no release yet'})")
    if findings:
        return 1
    print("No known vulnerability in the packages that could be audited.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
