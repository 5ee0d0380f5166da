#!/usr/bin/python3
"""Validate raqib records (one JSON object per line) against docs/event.schema.json.

Usage: validate_records.py SCHEMA RECORDS...
Lines that are not JSON objects (log text) are skipped. Prints one line per
invalid record, LINE: the error and where in the record, and exits 1 if any;
else prints how many records of each kind were valid.
"""
import collections
import json
import sys

import jsonschema  # Debian: python3-jsonschema


def main(schema_path, records_paths):
    with open(schema_path) as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    # The whole schema decides validity; for the reasons, the record's own
    # kind is checked alone, so the message names the field, not "not valid
    # under any of the given schemas".
    by_kind = {}
    for kind in (branch["$ref"].rsplit("/", 1)[1] for branch in schema["oneOf"]):
        alone = {k: v for k, v in schema.items() if k != "oneOf"}
        alone["allOf"] = [{"$ref": f"#/$defs/{kind}"}]
        by_kind[kind] = validator_class(alone)
    kinds = collections.Counter()
    bad = 0
    for records_path in records_paths:
        with open(records_path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                if validator.is_valid(record):
                    kind = record.get("kind", "?")
                    kinds[kind + ("." + record["type"] if kind == "info" else "")] += 1
                    continue
                bad += 1
                kind = record.get("kind")
                if kind not in by_kind:
                    print(f"{records_path}:{number}: kind: must be one of {sorted(by_kind)}, got {kind!r}")
                    continue
                for e in by_kind[kind].iter_errors(record):
                    where = "/".join(str(p) for p in e.absolute_path) or "(record)"
                    print(f"{records_path}:{number}: {where}: {e.message}")
    print(" ".join(f"{k}={n}" for k, n in sorted(kinds.items())))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
