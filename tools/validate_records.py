#!/usr/bin/python3
"""Validate raqib records (one JSON object per line) against docs/event.schema.json.

Usage: validate_records.py [--reference-per-file N] SCHEMA RECORDS...
Lines that are not JSON objects (log text) are skipped. Every record is
checked; prints one line per invalid record, LINE: the error and where in
the record, and exits 1 if any; else prints how many records of each kind
were valid.

Two validators check them. python3-jsonschema reads the schema as written
(draft 2020-12) and is the reference, but checks a few hundred records a
second; python3-fastjsonschema compiles it to Python and checks tens of
thousands, but knows drafts up to 7 only, so it gets the schema rewritten
in draft-7 terms (draft7() below). Every record goes through the fast one;
with --reference-per-file N, detection, health and tamper records and the
first N info records of each type per file also go through the reference,
and a record the two judge differently is an error of this tool.
"""
import collections
import copy
import json
import sys

import fastjsonschema  # Debian: python3-fastjsonschema
import jsonschema  # Debian: python3-jsonschema


def draft7(schema):
    """The schema in draft-7 terms, for fastjsonschema. Two keywords differ:
    dependentRequired is draft 7's dependencies; unevaluatedProperties:
    false, where the schema uses it (an object whose allOf names shared
    properties by $ref), is additionalProperties: false over its own
    properties and those of every $ref in its allOf, which is what it means
    when the allOf branches evaluate no other properties (their if/then
    test properties the object names itself). Anything else unknown to
    draft 7 is refused rather than ignored."""
    out = copy.deepcopy(schema)
    out["$schema"] = "http://json-schema.org/draft-07/schema#"
    defs = out["$defs"]

    def resolve(ref):
        return defs[ref.rsplit("/", 1)[1]]

    def rewrite(node):
        if isinstance(node, list):
            for item in node:
                rewrite(item)
            return
        if not isinstance(node, dict):
            return
        for unknown in ("prefixItems", "dependentSchemas", "unevaluatedItems", "$dynamicRef"):
            if unknown in node:
                raise SystemExit(f"validate_records.py: draft7() cannot rewrite {unknown}")
        if "dependentRequired" in node:
            node["dependencies"] = node.pop("dependentRequired")
        if node.pop("unevaluatedProperties", True) is False:
            names = dict(node.get("properties", {}))
            for branch in node.get("allOf", []):
                if "$ref" in branch:
                    names.update(resolve(branch["$ref"]).get("properties", {}))
                elif set(branch) - {"if", "then"}:
                    raise SystemExit("validate_records.py: draft7() cannot rewrite an allOf "
                                     f"branch with {sorted(branch)}")
            node["properties"] = {k: node.get("properties", {}).get(k, {}) for k in names}
            node["additionalProperties"] = False
        for key, value in node.items():
            if key in ("properties", "$defs", "dependencies"):
                for sub in value.values():
                    rewrite(sub)
            elif key not in ("enum", "const", "required"):
                rewrite(value)

    rewrite(out)
    return out


def main(schema_path, records_paths, reference_per_file=None):
    with open(schema_path) as f:
        schema = json.load(f)
    reference_class = jsonschema.validators.validator_for(schema)
    reference_class.check_schema(schema)
    reference = reference_class(schema)
    fast = fastjsonschema.compile(draft7(schema))

    def fast_valid(record):
        try:
            fast(record)
            return True
        except fastjsonschema.JsonSchemaException:
            return False

    # For the reasons, the record's own kind is checked alone, so the
    # message names the field, not "not valid under any of the given
    # schemas".
    by_kind = {}
    for kind in (branch["$ref"].rsplit("/", 1)[1] for branch in schema["oneOf"]):
        alone = {k: v for k, v in schema.items() if k != "oneOf"}
        alone["allOf"] = [{"$ref": f"#/$defs/{kind}"}]
        by_kind[kind] = reference_class(alone)
    kinds = collections.Counter()
    bad = 0
    referenced = 0
    for records_path in records_paths:
        info_seen = collections.Counter()
        with open(records_path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                kind = record.get("kind")
                valid = fast_valid(record)
                if kind == "info":
                    info_seen[record.get("type")] += 1
                if reference_per_file is not None and (
                        kind != "info" or info_seen[record.get("type")] <= reference_per_file):
                    referenced += 1
                    if reference.is_valid(record) != valid:
                        bad += 1
                        print(f"{records_path}:{number}: the draft-7 rewrite of the schema "
                              f"judges this record {'valid' if valid else 'invalid'}, the "
                              "schema itself the opposite: fix draft7() in this tool")
                        continue
                if valid:
                    kinds[kind + ("." + record["type"] if kind == "info" else "")] += 1
                    continue
                bad += 1
                if kind not in by_kind:
                    print(f"{records_path}:{number}: kind: must be one of {sorted(by_kind)}, got {kind!r}")
                    continue
                for e in by_kind[kind].iter_errors(record):
                    where = "/".join(str(p) for p in e.absolute_path) or "(record)"
                    print(f"{records_path}:{number}: {where}: {e.message}")
    print(" ".join(f"{k}={n}" for k, n in sorted(kinds.items()))
          + (f" (of them {referenced} checked by both validators)" if referenced else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    limit = None
    if args[:1] == ["--reference-per-file"] and len(args) > 1:
        limit = int(args[1])
        args = args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    sys.exit(main(args[0], args[1:], limit))
