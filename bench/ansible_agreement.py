"""Agreement with Ansible: the cockpit's reading of every inventory of tests/data/ansible/ against ansible-inventory.

Usage: .venv/bin/python bench/ansible_agreement.py [--out ansible_agreement]

Not part of `make bench` (it measures no time). For each case of the corpus (tests/ansible_oracle.py) it
counts the hosts and the fields (groups, address, port, user, key file, ProxyJump, ProxyCommand) on which
the cockpit's own reader and its `ansible_inventory_command` mode agree with `ansible-inventory --list`
(ssh -G for the ssh arguments), does the same on directories of generated inventories
(tests/ansible_generated.py, one seed each), lists every difference, and checks that what Ansible refuses
the cockpit refuses too. The counts go into docs/ssh.md ("Ansible inventories").
"""

from __future__ import annotations

import argparse
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from common import ROOT, log, write_result

from cockpit.config import load_ansible
from cockpit.errors import ConfigError

assert (ROOT / "tests" / "ansible_oracle.py").exists()  # common put tests/ on sys.path: the corpus lives there
from ansible_generated import write_generated
from ansible_oracle import (
    CASES,
    COMMAND_ONLY,
    CORPUS,
    FIELDS,
    REFUSED,
    check_case,
    run_ansible_inventory,
    sources,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="ansible_agreement")
    ap.add_argument("--generated", type=int, default=5, help="generated inventory directories (seeds 21...)")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    for mode, cases in (("native", CASES), ("ansible_inventory_command", {**CASES, **COMMAND_ONLY})):
        for case, srcs in cases.items():
            hosts, agree, diffs = check_case(case, sources(srcs), command=mode != "native")
            rows.append({"case": case, "mode": mode, "hosts": hosts, "fields": hosts * len(FIELDS),
                         "agree": agree, "differences": [str(d) for d in diffs]})
            log(f"{mode:26} {case:18} {hosts:3} hosts  {agree}/{hosts * len(FIELDS)} fields agree")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(21, 21 + args.generated):  # directories of generated inventories, one Ansible run each
            inv = write_generated(Path(tmp) / str(seed), files=30, seed=seed)
            hosts, agree, diffs = check_case(f"generated-{seed}", [str(inv)])
            rows.append({"case": f"generated-{seed}", "mode": "generated", "hosts": hosts,
                         "fields": hosts * len(FIELDS), "agree": agree, "differences": [str(d) for d in diffs]})
            log(f"{'generated':26} seed {seed:13} {hosts:3} hosts  {agree}/{hosts * len(FIELDS)} fields agree")
    refused = []
    for case, (source, words, _line) in REFUSED.items():
        ansible_refuses = words in run_ansible_inventory([str(CORPUS / source)]).stderr
        try:
            load_ansible(CORPUS / source)
            cockpit_refuses = False
        except ConfigError:
            cockpit_refuses = True
        refused.append({"case": case, "ansible_refuses": ansible_refuses, "cockpit_refuses": cockpit_refuses})
        log(f"refused {case:24} ansible {ansible_refuses}  cockpit {cockpit_refuses}")
    totals = {mode: {"hosts": sum(r["hosts"] for r in rows if r["mode"] == mode),
                     "fields": sum(r["fields"] for r in rows if r["mode"] == mode),
                     "agree": sum(r["agree"] for r in rows if r["mode"] == mode)}
              for mode in ("native", "ansible_inventory_command", "generated")}
    print("| reader | cases | hosts | fields compared | agree |")
    print("| --- | --- | --- | --- | --- |")
    for mode, t in totals.items():
        n = sum(1 for r in rows if r["mode"] == mode)
        print(f"| {mode} | {n} | {t['hosts']} | {t['fields']} | {t['agree']} |")
    print(f"refused by both: {sum(r['ansible_refuses'] and r['cockpit_refuses'] for r in refused)}/{len(refused)}")
    write_result(args.out, {"ansible_core": version("ansible-core"), "totals": totals, "cases": rows,
                            "refused": refused})
    return 0 if all(not r["differences"] for r in rows) and all(r["cockpit_refuses"] for r in refused) else 1


if __name__ == "__main__":
    raise SystemExit(main())
