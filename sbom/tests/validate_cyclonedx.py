"""Validates a CycloneDX 1.6 JSON file with cyclonedx-python-lib's strict JSON validator.
Usage: python3 validate_cyclonedx.py FILE. Exit 0 valid, 1 invalid, 2 tool missing."""
import sys

try:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
except ImportError as e:  # the test turns this into a failure with instructions
    print(f"cyclonedx-python-lib[json-validation] missing: {e}", file=sys.stderr)
    sys.exit(2)

with open(sys.argv[1], encoding="utf-8") as f:
    data = f.read()
error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data)
if error is not None:
    print(f"invalid: {error}", file=sys.stderr)
    sys.exit(1)
print("valid CycloneDX 1.6")
