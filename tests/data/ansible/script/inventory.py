#!/usr/bin/env python3
"""A small dynamic inventory script: Ansible runs it with --list (and --host NAME)."""
import json
import sys

INVENTORY = {
    "web": {"hosts": ["dyn-web1", "dyn-web2"], "vars": {"ansible_user": "dyn"}},
    "db": {"hosts": ["dyn-db1"], "children": ["replicas"]},
    "replicas": {"hosts": ["dyn-db2"]},
    "_meta": {"hostvars": {"dyn-web1": {"ansible_host": "192.0.2.101", "ansible_port": 2201},
                           "dyn-db2": {"ansible_ssh_private_key_file": "/keys/db"}}},
}

if __name__ == "__main__":
    print(json.dumps(INVENTORY if "--list" in sys.argv else {}))
