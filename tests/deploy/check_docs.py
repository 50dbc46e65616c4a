#!/usr/bin/env python3
"""Every chart value named in the docs and scripts exists in values.schema.json.

usage: check_docs.py SCHEMA FILE... - looks at `--set a.b=...` and `a.b.c` spans in backticks
whose first part is a top-level value. Prints unknown ones, exit 1 if any.
"""
import json
import re
import sys

schema = json.load(open(sys.argv[1]))
defs = schema.get("definitions", {})


def resolve(node):
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    return node


def exists(path):
    node = schema
    for part in path.split("."):
        node = resolve(node)
        props = node.get("properties", {})
        if part in props:
            node = props[part]
        elif part == "<component>":
            node = props.get("backend", {})
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return False
    return True


top = set(schema["properties"]) | {"<component>"}
bad = []
for f in sys.argv[2:]:
    text = open(f).read()
    keys = set(re.findall(r"--set[ =]([A-Za-z][\w.<>]*)=", text))
    keys |= {k for k in re.findall(r"`([A-Za-z<][\w<>]*(?:\.[\w<>]+)+)", text) if k.split(".")[0] in top}
    for k in sorted(keys):
        if not exists(k):
            bad.append(f"{f}: {k} is not a chart value")
print("\n".join(bad))
sys.exit(1 if bad else 0)
