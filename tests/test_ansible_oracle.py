"""Ansible inventories read as Ansible reads them, with ``ansible-inventory --list`` (ansible-core) as the oracle.

For every host of every inventory of tests/data/ansible/, the cockpit's hosts, groups (through children),
address, port, user, key file and ProxyJump/ProxyCommand must equal what Ansible resolves (and what
``ssh -G`` makes of the ssh arguments); a difference fails naming the case, the host and the field.
"""

from __future__ import annotations

import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest
from ansible_generated import write_generated
from ansible_oracle import (
    CASES,
    COMMAND_ONLY,
    CORPUS,
    REFUSED,
    Difference,
    ansible_view,
    cockpit_view,
    compare,
    run_ansible_inventory,
    sources,
)

from cockpit.config import (
    ansible_inventory_program,
    describe,
    load_ansible,
    load_config,
)
from cockpit.config.sshconf import connections
from cockpit.errors import ConfigError

pytestmark = [
    pytest.mark.xdist_group("ansible"),  # each ansible-inventory run is a second or more of CPU
    pytest.mark.skipif(ansible_inventory_program() is None, reason="ansible-core is not installed"),
]


@cache
def oracle(case: str) -> dict[str, dict[str, object]]:
    return ansible_view(sources({**CASES, **COMMAND_ONLY}[case]))


def differences(case: str, *, command: bool) -> list[Difference]:
    srcs = sources({**CASES, **COMMAND_ONLY}[case])
    theirs = oracle(case)
    assert theirs, f"{case}: Ansible sees no host: the case tests nothing"
    _agree, diffs = compare(case, cockpit_view(load_ansible(srcs, command=command)), theirs)
    return diffs


@pytest.mark.parametrize("case", list(CASES))
def test_cockpit_reads_each_inventory_as_ansible_does(case: str) -> None:
    diffs = differences(case, command=False)
    assert not diffs, "the cockpit and ansible-inventory disagree:\n" + "\n".join(map(str, diffs))


@pytest.mark.parametrize("case", ["group_host_vars", "proxy", *COMMAND_ONLY])  # a few: each runs Ansible twice
def test_ansible_inventory_command_gives_what_ansible_gives(case: str) -> None:
    diffs = differences(case, command=True)
    assert not diffs, "ansible_inventory_command and ansible-inventory disagree:\n" + "\n".join(map(str, diffs))


def test_a_difference_names_case_host_and_field() -> None:
    """The comparison itself can fail: one doctored field is reported, the rest still agree."""
    theirs = oracle("group_host_vars")
    ours = {h: dict(row) for h, row in theirs.items()}
    ours["web2"]["port"] = "1111"  # what a reader ignoring group_vars/ would say
    del ours["db1"]
    agree, diffs = compare("group_host_vars", ours, theirs)
    assert [str(d) for d in diffs] == [
        "group_host_vars: host db1: present: cockpit False, ansible True",
        "group_host_vars: host web2: port: cockpit '1111', ansible '3000'",
    ]
    assert agree == 3 * 7 - 1  # the three hosts both sides know, less the doctored field


def test_the_corpus_covers_what_the_issue_names() -> None:
    """Ranges, children, group_vars over inventory vars, several sources, a bastion: each really resolved."""
    basic = oracle("ini_basic")
    assert {f"web{n:02d}.example.net" for n in range(1, 21)} <= set(basic)
    assert {f"db-{c}" for c in "abcdef"} <= set(basic) and {"n0", "n5", "n10"} <= set(basic)
    assert basic["web07.example.net"]["groups"] == ("eu", "web")
    gv = oracle("group_host_vars")
    assert gv["web2"]["port"] == "3000" and gv["web2"]["user"] == "from-group-vars-web"
    assert gv["db1"]["address"] == "10.3.0.1" and gv["db1"]["port"] == "4001"
    assert oracle("several_sources")["shared"]["groups"] == ("db", "eu", "web")
    assert oracle("several_sources")["only-a"]["port"] == "3003"  # group_vars merged source by source
    assert oracle("proxy")["p2"]["proxy_jump"] == "ops@b1.example.net,b2.example.net:2222"
    assert oracle("ini_vars")["app1"]["proxy_command"] == "ssh -W %h:%p -q bastion.example.net"
    kube = oracle("kubespray_layout")  # group_vars/all/ files in name order, ansible_ssh_host over ansible_host
    assert kube["node5"]["address"] == "95.54.0.16" and kube["node1"]["user"] == "etcd-admin"
    assert kube["node4"]["proxy_command"].endswith("ubuntu@bastion.example.net")
    assert oracle("script")["dyn-db2"]["groups"] == ("db", "replicas")
    assert oracle("constructed")["c1"]["groups"] == ("region_eu", "web")


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_ansible_refuses_the_cockpit_refuses_naming_file_and_line(case: str) -> None:
    source, ansible_words, line = REFUSED[case]
    done = run_ansible_inventory([str(CORPUS / source)])
    assert done.returncode != 0 and ansible_words in done.stderr
    with pytest.raises(ConfigError) as info:
        load_ansible(CORPUS / source)
    assert f"{CORPUS / source}:{line}:" in str(info.value) and "never declared" in str(info.value)


@pytest.mark.parametrize("case", list(COMMAND_ONLY))
def test_what_only_ansible_can_read_points_at_the_switch(case: str) -> None:
    with pytest.raises(ConfigError, match="ansible_inventory_command = true"):
        load_ansible(sources(COMMAND_ONLY[case]))


def test_cockpit_refusals_ansible_would_accept(tmp_path: Path) -> None:
    """Inventories Ansible loads but a connection from them would fail or go elsewhere: refused with the line."""
    with pytest.raises(ConfigError) as info:
        load_ansible(CORPUS / "refused" / "comment_in_address.ini")
    assert "comment_in_address.ini:6:" in str(info.value) and "comments included" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_ansible(CORPUS / "refused" / "docker_connection.ini")
    text = str(info.value)
    assert "docker_connection.ini:2:" in text and "[box1]" in text and "community.docker.docker" in text
    (tmp_path / "t.yml").write_text("all:\n  hosts:\n    a:\n      ansible_host: '{{ inventory_hostname }}.lan'\n")
    with pytest.raises(ConfigError, match=r"t\.yml:4:.*Jinja template"):
        load_ansible(tmp_path / "t.yml")
    (tmp_path / "p.ini").write_text("a ansible_ssh_common_args='-p 2222'\n")
    with pytest.raises(ConfigError, match=r"p\.ini:1:.*-p is not read by the cockpit \(use ansible_port\)"):
        load_ansible(tmp_path / "p.ini")


def test_missing_ansible_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    assert ansible_inventory_program() is None
    with pytest.raises(ConfigError, match="(?s)not installed.*pip install ansible-core"):
        load_ansible(CORPUS / "ini_basic" / "hosts.ini", command=True)


def test_ansible_inventory_has_a_deadline_and_leaves_nothing_behind(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = tmp_path / "slow.py"
    script.write_text(f"#!{sys.executable}\nimport pathlib, os, time\n"
                      f"pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))\ntime.sleep(120)\n")
    script.chmod(0o755)
    with pytest.raises(ConfigError, match=r"(?s)did not finish within 6s.*ansible_inventory_timeout"):
        load_ansible(script, command=True, timeout=6)
    if marker.exists():  # the script started (Ansible's start-up takes 1-3 s here): it must be gone now
        assert gone(int(marker.read_text()))


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for init to reap it counts), polled with a bounded deadline."""
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_config_with_several_sources_and_the_switch(tmp_path: Path) -> None:
    config = tmp_path / "cockpit.toml"
    multi = CORPUS / "multi"
    config.write_text(f'[inventory]\nansible = ["{multi}/a/hosts.ini", "{multi}/b/hosts.yml"]\n')
    native = {h.name: h for h in load_config(config, env={}).hosts}
    config.write_text(f'[inventory]\nansible = ["{multi}/a/hosts.ini", "{multi}/b/hosts.yml"]\n'
                      'ansible_inventory_command = true\nansible_inventory_timeout = "2m"\n')
    via_ansible = {h.name: h for h in load_config(config, env={}).hosts}
    assert set(native) == set(via_ansible) == {"shared", "only-a", "only-b"}
    for name, h in native.items():
        other = via_ansible[name]
        assert (h.address, h.port, h.user, set(h.tags)) == (other.address, other.port, other.user, set(other.tags))
    assert native["shared"].origin("port") == f"{multi}/b/hosts.yml:6 (ansible_port)"
    assert native["only-a"].origin("user") == f"{multi}/b/group_vars/web.yml:1 (ansible_user)"
    assert via_ansible["shared"].origin("port", ).startswith("ansible-inventory -i ")


def test_validate_says_where_each_connection_field_came_from(tmp_path: Path) -> None:
    config = tmp_path / "cockpit.toml"
    config.write_text(f'[inventory]\nansible = "{CORPUS}/gvars/hosts.ini"\n\n'
                      '[hosts.web2]\nuser = "override"\n')
    text = describe(load_config(config, env={}))
    section = text.split("Where each host's connection comes from", 1)[1].split("\n\n", 1)[0]
    lines = [" ".join(line.split()) for line in section.strip().splitlines()]
    assert "web2 address web2 from " + f"{CORPUS}/gvars/hosts.ini:3 (the inventory name)" in lines
    assert "user override from cockpit.toml:5 (hosts.web2.user)" in lines  # relative to the config's folder
    assert f"port 3000 from {CORPUS}/gvars/group_vars/eu:3 (ansible_port)" in lines
    assert f"db1 address 10.3.0.1 from {CORPUS}/gvars/host_vars/db1/main.yml:1 (ansible_host)" in lines
    assert f"port 4001 from {CORPUS}/gvars/group_vars/db/20-more.yaml:1 (ansible_port)" in lines


def test_validate_refuses_an_undefined_child_group_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "cockpit.toml"
    config.write_text(f'[inventory]\nansible = "{CORPUS}/refused/undefined_child.ini"\n')
    done = subprocess.run([sys.executable, "-m", "cockpit", "validate", str(config)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "undefined_child.ini:6: [prod:children] names group 'dbservers'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_inventorys_jump_is_what_the_connection_uses(tmp_path: Path) -> None:
    """The inventory's ProxyJump/ProxyCommand reach the SSH connection (validate shows them with their origin)."""
    config = tmp_path / "cockpit.toml"
    config.write_text(f'[inventory]\nansible = "{CORPUS}/proxy/hosts.ini"\n')
    loaded = load_config(config, env={})
    hosts = {h.name: h for h in loaded.hosts}
    assert hosts["p2"].proxy_jump == "ops@b1.example.net,b2.example.net:2222"
    assert hosts["p6"].proxy_jump == "none" and hosts["p6"].proxy_command is None
    notes = "\n".join(loaded.notes)
    assert "does not follow" not in notes  # the transport connects through them now
    resolved = {name: r for name, r, _why in connections(loaded)}
    assert resolved["p2"] is not None and resolved["p2"].proxy_jump == "ops@b1.example.net,b2.example.net:2222"
    assert resolved["p2"].origin_of("proxy_jump") == f"{CORPUS}/proxy/hosts.ini:3 (ansible_ssh_common_args)"
    assert resolved["p3"] is not None and resolved["p3"].proxy_command == "ssh -W %h:%p -q jump.example.net"
    assert resolved["p6"] is not None and resolved["p6"].proxy_jump is None
    lines = [" ".join(line.split()) for line in describe(loaded).splitlines()]
    assert (f"proxy_jump ops@b1.example.net,b2.example.net:2222 from {CORPUS}/proxy/hosts.ini:3 "
            "(ansible_ssh_common_args)") in lines
    assert f"proxy_jump group-bastion.example.net from {CORPUS}/proxy/hosts.ini:11 (ansible_ssh_common_args)" in lines


def test_a_generated_directory_of_varied_syntax_reads_as_ansible_reads_it(tmp_path: Path) -> None:
    """Two dozen INI and YAML files (fixed seed): ranges, ports, quotes, comments, :vars spacing, children, aliases."""
    inv = write_generated(tmp_path)
    theirs = ansible_view([str(inv)])
    assert len(theirs) > 200 and any(row["proxy_jump"] for row in theirs.values())
    agree, diffs = compare("generated", cockpit_view(load_ansible(inv)), theirs)
    assert not diffs, "the cockpit and ansible-inventory disagree:\n" + "\n".join(map(str, diffs))
    assert agree == len(theirs) * 7
