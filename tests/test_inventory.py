"""Selectors and Ansible inventory import (INI and YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.errors import ConfigError
from cockpit.config import expand_host_range, load_ansible
from cockpit.inventory import is_valid_selector, select, selector_kind
from cockpit.spec import HostSpec

INVENTORIES = Path(__file__).parent / "configs" / "inventories"

HOSTS = [
    HostSpec("web1", "web1", tags=("web", "eu")),
    HostSpec("web2", "web2", tags=("web", "us")),
    HostSpec("db1", "db1", tags=("db", "eu-west")),
    HostSpec("Web3", "Web3"),
]


def names(hosts: list[HostSpec]) -> list[str]:
    return [h.name for h in hosts]


# --------------------------------------------------------------------------- selectors

@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("all", ["web1", "web2", "db1", "Web3"]),
        ("web1", ["web1"]),
        ("web", []),  # exact names only, no prefix match
        ("web*", ["web1", "web2"]),  # case-sensitive
        ("*1", ["web1", "db1"]),
        ("web[12]", ["web1", "web2"]),
        ("?eb3", ["Web3"]),
        ("tag:web", ["web1", "web2"]),
        ("tag:eu", ["web1"]),  # exact tag
        ("tag:eu*", ["web1", "db1"]),  # glob on tags
        ("tag:nope", []),
        ("nope", []),
    ],
)
def test_select(selector: str, expected: list[str]) -> None:
    assert names(select(HOSTS, selector)) == expected


def test_select_keeps_the_given_order() -> None:
    assert names(select(list(reversed(HOSTS)), "tag:web")) == ["web2", "web1"]


@pytest.mark.parametrize(("selector", "kind"), [("all", "all"), ("tag:x", "tag"), ("a*", "glob"), ("a[1]", "glob"),
                                                 ("a", "name"), ("10.0.0.1", "name")])
def test_selector_kind(selector: str, kind: str) -> None:
    assert selector_kind(selector) == kind


@pytest.mark.parametrize(("selector", "valid"), [("web1", True), ("tag:web", True), ("*", True), ("", False),
                                                  ("tag:", False), ("a b", False), (" a", False), (5, False)])
def test_is_valid_selector(selector: object, valid: bool) -> None:
    assert is_valid_selector(selector) is valid


# --------------------------------------------------------------------------- host ranges

@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web[01:03]", ["web01", "web02", "web03"]),
        ("web[1:3].example.net", ["web1.example.net", "web2.example.net", "web3.example.net"]),
        ("db-[a:c]", ["db-a", "db-b", "db-c"]),
        ("n[0:6:3]", ["n0", "n3", "n6"]),
        ("n[:2]", ["n0", "n1", "n2"]),
        ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"]),
        ("plain", ["plain"]),
        ("x[08:10]", ["x08", "x09", "x10"]),
    ],
)
def test_expand_host_range(pattern: str, expected: list[str]) -> None:
    assert expand_host_range(pattern) == expected


@pytest.mark.parametrize("pattern", ["web[01:3]", "web[3:1]", "web[a:3]", "web[1:]", "web[1:3:0]", "web[aa:bb]"])
def test_expand_host_range_rejects(pattern: str) -> None:
    with pytest.raises(ValueError):
        expand_host_range(pattern)


# --------------------------------------------------------------------------- Ansible INI and YAML

EXPECTED = {
    # name: (address, port, user, tags, transport)
    "bastion": ("203.0.113.9", None, None, (), "ssh"),
    "web01.example.net": ("web01.example.net", 2022, "www", ("webservers", "eu"), "ssh"),
    "web02.example.net": ("web02.example.net", 2022, "www", ("webservers", "eu"), "ssh"),
    "web03.example.net": ("web03.example.net", 2022, "www", ("webservers", "eu"), "ssh"),
    "web01": ("192.0.2.11", 2201, "eu-admin", ("webservers", "eu"), "ssh"),
    "db-a": ("192.0.2.20", 2022, "eu-admin", ("dbservers", "eu"), "ssh"),
    "db-b": ("192.0.2.20", 2022, "eu-admin", ("dbservers", "eu"), "ssh"),
    "controller": ("localhost", None, None, ("local",), "local"),
}


def as_table(hosts: list[HostSpec]) -> dict[str, tuple[object, ...]]:
    return {h.name: (h.address, h.port, h.user, h.tags, h.transport) for h in hosts}


def test_ini_inventory() -> None:
    hosts = load_ansible(INVENTORIES / "hosts.ini")
    assert names(hosts) == list(EXPECTED)
    assert as_table(hosts) == EXPECTED


def test_yaml_inventory() -> None:
    hosts = load_ansible(INVENTORIES / "hosts.yml")
    table = as_table(hosts)
    # all:vars gives root; webservers:vars (deeper than all) gives www; host vars win over both
    assert table["bastion"] == ("203.0.113.9", None, "root", (), "ssh")
    assert table["web02.example.net"] == ("web02.example.net", 2022, "www", ("webservers", "eu"), "ssh")
    assert table["web01"] == ("192.0.2.11", 2201, "www", ("webservers", "eu"), "ssh")
    assert table["db-b"] == ("192.0.2.20", 2022, "root", ("eu", "dbservers"), "ssh")
    assert table["controller"][4] == "local"
    assert set(table) == set(EXPECTED)


def test_ini_details(tmp_path: Path) -> None:
    path = tmp_path / "inventory"  # no extension: detected by content
    path.write_text("""\
; comment
alpha:2200 ansible_ssh_user=old ansible_ssh_private_key_file=/keys/a
[a]
beta ansible_host="10.0.0.2"   # quoted value, trailing comment
[b]
beta ansible_user=b-user
[top:children]
mid
[mid:children]
a
[top:vars]
ansible_user=top-user
ansible_port=2000
[mid:vars]
ansible_port=3000
""")
    hosts = {h.name: h for h in load_ansible(path)}
    assert hosts["alpha"].port == 2200 and hosts["alpha"].user == "old"
    assert hosts["alpha"].identity_file == "/keys/a" and hosts["alpha"].tags == ()
    beta = hosts["beta"]
    assert beta.address == "10.0.0.2"
    assert beta.tags == ("a", "b", "top", "mid")  # groups in order of first appearance, parents propagate
    assert beta.port == 3000  # mid (child of top) beats top
    assert beta.user == "b-user"  # host vars beat group vars


def test_yaml_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "inventory"
    path.write_text("all:\n  hosts:\n    one:\n    two:\n      ansible_port: 2222\n")
    hosts = load_ansible(path)
    assert [(h.name, h.port) for h in hosts] == [("one", None), ("two", 2222)]


def test_empty_inventories(tmp_path: Path) -> None:
    (tmp_path / "e.ini").write_text("# nothing\n")
    (tmp_path / "e.yml").write_text("")
    assert load_ansible(tmp_path / "e.ini") == []
    assert load_ansible(tmp_path / "e.yml") == []


@pytest.mark.parametrize(
    ("name", "text", "line", "needle"),
    [
        ("bad_header.ini", "[web\nhost1\n", 1, "malformed section header"),
        ("bad_kind.ini", "[web:host]\nhost1\n", 1, "unknown section kind"),
        ("bad_var.ini", "[web]\nhost1 ansible_port\n", 2, "expected key=value"),
        ("bad_quote.ini", '[web]\nhost1 ansible_host="x\n', 2, "cannot parse line"),
        ("bad_range.ini", "[web]\nweb[01:3]\n", 2, "bad host range"),
        ("bad_port.ini", "[web]\nhost1 ansible_port=http\n", 2, "is not a port number"),
        ("two_children.ini", "[a:children]\nb c\n", 2, "one group name per line"),
        ("bad_syntax.yml", "all:\n  hosts:\n    a: [\n", 4, "YAML syntax error"),
        ("bad_key.yml", "all:\n  hosts:\n    a:\n  host:\n    b:\n", 4, "unexpected key 'host'"),
        ("bad_hosts.yml", "all:\n  hosts:\n    - a\n", 3, "hosts must be a mapping"),
        ("bad_root.yml", "- a\n- b\n", 1, "must be a mapping of groups"),
    ],
)
def test_malformed_inventory(tmp_path: Path, name: str, text: str, line: int, needle: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_ansible(path)
    rendered = str(info.value)
    assert f"{name}:{line}:" in rendered and needle in rendered and "fix:" in rendered


def test_children_cycle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cycle.ini"
    path.write_text("[a]\nh1\n[a:children]\nb\n[b:children]\na\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_ansible(path)


def test_unreadable_inventories(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_ansible(tmp_path / "missing.ini")
    assert load_ansible(tmp_path) == []  # an inventory directory, empty so far
    (tmp_path / "latin1.ini").write_bytes(b"caf\xe9\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_ansible(tmp_path / "latin1.ini")


def test_editing_group_vars_is_noticed_like_editing_the_inventory(tmp_path: Path) -> None:
    """group_vars/ and host_vars/ files that set a connection field are watched (a reload checks them)."""
    import shutil

    from cockpit.config import ConfigWatch, load_config

    shutil.copytree(Path(__file__).parent / "data" / "ansible" / "gvars", tmp_path / "inv")
    (tmp_path / "cockpit.toml").write_text('[inventory]\nansible = "inv/hosts.ini"\n')
    config = load_config(tmp_path / "cockpit.toml", env={})
    watched = {p.relative_to(tmp_path).as_posix() for p in ConfigWatch.files(config) if p.is_relative_to(tmp_path)}
    assert {"inv/hosts.ini", "inv/group_vars/web.yaml", "inv/group_vars/eu", "inv/group_vars/db/20-more.yaml",
            "inv/host_vars/db1/main.yml", "inv/host_vars/db2.json"} <= watched
    watch = ConfigWatch(config)
    assert not watch.changed()
    (tmp_path / "inv" / "group_vars" / "web.yaml").write_text("ansible_user: someone-else-entirely\n")
    assert watch.changed()


def test_host_list_source_and_group_priority(tmp_path: Path) -> None:
    hosts = load_ansible("alpha,beta:2222,")
    assert [(h.name, h.port, h.tags) for h in hosts] == [("alpha", None, ()), ("beta", 2222, ())]
    path = tmp_path / "prio.yml"  # equal depth: ansible_group_priority, then the name, decides who wins
    path.write_text("all:\n  children:\n    zeta:\n      hosts:\n        h:\n      vars:\n        ansible_user: z\n"
                    "    alpha:\n      hosts:\n        h:\n      vars:\n        ansible_user: a\n"
                    "        ansible_group_priority: 5\n")
    assert load_ansible(path)[0].user == "a"


@pytest.mark.parametrize(
    ("name", "text", "executable", "needle"),
    [
        ("dyn.py", "#!/bin/sh\necho {}\n", True, "dynamic inventory script"),
        ("aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n", False, "inventory plugin"),
        ("hosts.toml", "[web]\nhosts = {}\n", False, "TOML inventories"),
    ],
)
def test_what_only_ansible_reads_points_at_the_switch(tmp_path: Path, name: str, text: str, executable: bool,
                                                      needle: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    if executable:
        path.chmod(0o755)
    with pytest.raises(ConfigError) as info:
        load_ansible(path)
    assert needle in str(info.value) and "ansible_inventory_command = true" in str(info.value)


def test_vaulted_group_vars_are_refused_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[web]\nweb1\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(ConfigError, match=r"group_vars/web\.yml: .*ansible-vault"):
        load_ansible(tmp_path / "hosts.ini")


def test_inventory_switch_needs_a_source(tmp_path: Path) -> None:
    from cockpit.config import load_config

    (tmp_path / "cockpit.toml").write_text("[inventory]\nansible_inventory_command = true\n\n[hosts.a]\n")
    with pytest.raises(ConfigError, match=r"cockpit\.toml:2: \[inventory\.ansible_inventory_command\] .*no "
                                          r"\[inventory\] ansible source"):
        load_config(tmp_path / "cockpit.toml", env={})
