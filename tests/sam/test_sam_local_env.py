"""`sam-local.env.json` replaces every function variable that names one of the stack's resources.

`sam local` runs the functions without the stack, so a variable that refers to one of its
resources (the fallback bucket, the cluster, the proxy) reaches the function as a name that points
nowhere. FALLBACK_BUCKET did: every `sam local invoke` of the migrate function and of the admin
inbox routes failed on an S3 lookup of a bucket that does not exist. The checked-in env file
(samconfig.toml's local sections pass it) must give each such variable a local value.
"""

from __future__ import annotations

import json

import pytest

from tests.sam.test_translated_template import MODE_IDS, MODES
from tests.sam.translated import ROOT, translate


@pytest.mark.parametrize("given", MODES, ids=MODE_IDS)
def test_every_variable_naming_a_resource_has_a_local_value(given: dict[str, str]) -> None:
    stack = translate(given)
    local = json.loads((ROOT / "sam-local.env.json").read_text())
    functions = [n for n, r in stack.resources.items() if r["Type"] == "AWS::Lambda::Function"]
    assert {"ApiFunction", "MigrateFunction"} <= set(functions)
    missing = []
    for name in functions:
        variables = stack.resources[name]["Properties"].get("Environment", {}).get("Variables", {})
        for variable, value in variables.items():
            named = set(stack.references(value)) & set(stack.resources)
            if named and variable not in local.get(name, {}):
                missing.append((name, variable, sorted(named)))
    assert missing == []
