#!/usr/bin/python3
"""Validate raqib records (one JSON object per line) against docs/event.schema.json.

Usage: validate_records.py [--info-per-file N] SCHEMA RECORDS...
Lines that are not JSON objects (log text) are skipped. Prints one line per
invalid record, LINE: the error and where in the record, and exits 1 if any;
else prints how many records of each kind were valid.
"""
import collections
import json
import sys

import jsonschema  # Debian: python3-jsonschema


def main(schema_path, records_paths, info_per_file=None):
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
    skipped = 0
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
                # Each kind's branch has "kind" as a const: checking the
                # record's own branch is the whole schema's oneOf, faster.
                kind = record.get("kind")
                if kind == "info" and info_per_file is not None:
                    info_seen[record.get("type")] += 1
                    if info_seen[record.get("type")] > info_per_file:
                        skipped += 1
                        continue
                if kind in by_kind and by_kind[kind].is_valid(record):
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
          + (f" (info records past {info_per_file} of a type in a file not checked: {skipped})"
             if skipped else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    limit = None
    if args[:1] == ["--info-per-file"] and len(args) > 1:
        limit = int(args[1])
        args = args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    sys.exit(main(args[0], args[1:], limit))
