#!/usr/bin/env python3
"""values.schema.json closes every object it defines (additionalProperties false, or a
schema for map values), so a typo in any key fails. Only fields that pass Kubernetes
structures through unchanged may stay open; they are listed here.

usage: check_schema.py values.schema.json
"""
import json
import sys

PASS_THROUGH = {  # JSON pointer suffixes of fields holding raw Kubernetes objects
    "envVar/properties/valueFrom",
    "affinity/properties/nodeAffinity",
    "affinity/properties/podAffinity",
    "affinity/properties/podAntiAffinity",
    "topologySpreadConstraint/properties/labelSelector",
    "networkPolicyPeer/properties/podSelector",
    "networkPolicyPeer/properties/namespaceSelector",
}
schema = json.load(open(sys.argv[1]))
bad = []


def walk(node, path):
    if path.startswith("/allOf"):
        return  # conditional rules constrain objects that are closed where they are defined
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            if "additionalProperties" not in node and not any(path.endswith(p) for p in PASS_THROUGH):
                bad.append(path or "/")
        for k, v in node.items():
            walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, f"{path}/{i}")


walk(schema, "")
for b in bad:
    print(f"open object (no additionalProperties): {b}")
sys.exit(1 if bad else 0)
