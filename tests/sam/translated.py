"""template.yaml as CloudFormation receives it, for one set of parameter values.

The SAM translator that ships with SAM CLI turns the template into plain CloudFormation offline
(AWS_DEFAULT_REGION set, ImageUri filled in as `sam build` does, a managed-policy loader that
knows no policies: the template uses none). `Stack` then does what CloudFormation does before it
orders anything: evaluates the conditions, drops the resources they leave out, resolves `Fn::If`
and `AWS::NoValue`, and reads the dependency graph from `DependsOn` and every `Ref`, `Fn::GetAtt`
and `Fn::Sub` left. CloudFormation creates a resource after everything it depends on and deletes
it before them ("Resource A is deleted before resource B"):
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
IMAGE_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/portfolio-backend:1"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "portfolio-backend",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/portfolio-backend/0a1b",
}
# What a user must give (no default on purpose); everything else keeps its default.
REQUIRED = {
    "AdminTokenDigestName": "/portfolio/admin-token-sha256",
    # Not required by the parameter (sam local needs none) but by the AdminDigestNeedsAVersion
    # rule, which a deploy evaluates: 1 is the first put-parameter's version.
    "AdminTokenDigestVersion": "1",
}
EXISTING_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:portfolio/db-AbCdEf"
NO_VALUE = object()


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template decoded with cfn-lint's loader (short-form intrinsics become dicts)."""
    template, problems = decode(str(path))
    assert not problems, problems
    assert template is not None
    return json.loads(json.dumps(template))  # plain dicts and strings, no line-number types


@functools.lru_cache(maxsize=32)
def _translate(text: str, params: str) -> str:
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    template = json.loads(text)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":  # sam build fills these in
            resource["Properties"]["ImageUri"] = IMAGE_URI

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return json.dumps(transform(template, json.loads(params), NoManagedPolicies()))


def parameter_values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Defaults overlaid with what is given, as CloudFormation passes them."""
    values = {
        name: str(spec["Default"])
        for name, spec in template["Parameters"].items()
        if "Default" in spec
    }
    unknown = set(given) - set(template["Parameters"])
    assert not unknown, f"not parameters of the template: {unknown}"
    return {**values, **REQUIRED, **given}


def translate(given: Mapping[str, str] | None = None, path: Path = TEMPLATE) -> Stack:
    """Translate the template with these parameter values and evaluate it like CloudFormation."""
    source = load(path)
    values = parameter_values(source, given or {})
    translated = json.loads(_translate(json.dumps(source), json.dumps(values, sort_keys=True)))
    return Stack(translated, values)


class Stack:
    """A translated template with its conditions evaluated for one set of parameter values."""

    def __init__(self, template: dict[str, Any], values: Mapping[str, str]) -> None:
        self.template = template
        self.values = dict(values)
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)
        self.resources: dict[str, dict[str, Any]] = {}
        for name, resource in template["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            self.resources[name] = self.resolve_conditions(copy.deepcopy(resource))

    # -- conditions and intrinsic functions -------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def parameter(self, name: str) -> Any:
        spec = self.template["Parameters"].get(name)
        if spec is None:
            return PSEUDO[name]
        value = self.values.get(name, "")
        if spec["Type"] == "CommaDelimitedList":
            return value.split(",")  # "" is [""], as CloudFormation has it
        return value

    def resolve_conditions(self, node: Any) -> Any:
        """Fn::If picked, AWS::NoValue removed; everything else left as written."""
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, yes, no = node["Fn::If"]
                return self.resolve_conditions(yes if self.condition(name) else no)
            if node == {"Ref": "AWS::NoValue"}:
                return NO_VALUE
            resolved = {k: self.resolve_conditions(v) for k, v in node.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(node, list):
            items = [self.resolve_conditions(v) for v in node]
            return [v for v in items if v is not NO_VALUE]
        return node

    def value(self, node: Any) -> Any:
        """Evaluate what depends on parameters only; resource attributes stay symbolic."""
        if isinstance(node, list):
            return [self.value(v) for v in node]
        if not isinstance(node, dict) or len(node) != 1:
            return node
        ((fn, arg),) = node.items()
        if fn == "Ref":
            if arg in self.template["Parameters"] or arg in PSEUDO:
                return self.parameter(arg)
            return node
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            left, right = self.value(arg)
            return left == right
        if fn == "Fn::And":
            return all(self.value(arg))
        if fn == "Fn::Or":
            return any(self.value(arg))
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::If":
            name, yes, no = arg
            return self.value(yes if self.condition(name) else no)
        if fn == "Fn::Join":
            separator, items = self.value(arg)
            if isinstance(items, list) and all(isinstance(i, str) for i in items):
                return separator.join(items)
        if fn == "Fn::Split":
            separator, text = self.value(arg)
            if isinstance(text, str):
                return text.split(separator)
        if fn == "Fn::Select":
            index, items = self.value(arg)
            if isinstance(items, list):
                return items[int(index)]
        if fn == "Fn::FindInMap":
            mapping, top, second = self.value(arg)
            return self.template["Mappings"][mapping][top][second]
        if fn == "Fn::Cidr":
            block, count, bits = self.value(arg)
            return cidr(block, int(count), int(bits))
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            variables = {k: self.value(v) for k, v in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return symbol(variables[name])
                if name in self.template["Parameters"] or name in PSEUDO:
                    return str(self.parameter(name))
                return match.group(0)  # a resource attribute: left for CloudFormation

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        return {fn: self.value(arg)}

    # -- the dependency graph -----------------------------------------------------------------

    def references(self, node: Any) -> Iterator[str]:
        """Resource names referenced below `node` by Ref, Fn::GetAtt or Fn::Sub."""
        if isinstance(node, list):
            for item in node:
                yield from self.references(item)
        elif isinstance(node, dict):
            for key, arg in node.items():
                if key == "Ref" and isinstance(arg, str):
                    yield arg
                elif key == "Fn::GetAtt":
                    yield arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
                elif key == "Fn::Sub":
                    text, variables = (arg, {}) if isinstance(arg, str) else arg
                    for name in re.findall(r"\$\{([^}!]+)\}", text):
                        if name.split(".")[0] not in variables:
                            yield name.split(".")[0]
                    yield from self.references(variables)
                else:
                    yield from self.references(arg)

    def dependencies(self, name: str) -> set[str]:
        """What `name` directly depends on: DependsOn plus the resources its body references."""
        resource = self.resources[name]
        depends_on = resource.get("DependsOn", [])
        named = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        body = {k: v for k, v in resource.items() if k != "DependsOn"}
        found = named | set(self.references(body))
        missing = named - set(self.resources)
        assert not missing, f"{name} DependsOn resources this stack does not create: {missing}"
        return found & set(self.resources)

    def ancestors(self, name: str) -> set[str]:
        """Everything created before `name` and deleted after it."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            for dependency in self.dependencies(todo.pop()):
                if dependency not in seen:
                    seen.add(dependency)
                    todo.append(dependency)
        return seen

    def failed_rules(self) -> list[str]:
        """The rules (Rules section) whose condition holds and an assertion fails: what
        CloudFormation refuses the stack operation for, before it touches any resource.
        https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html
        """

        def value(node: Any) -> Any:
            if isinstance(node, dict) and len(node) == 1:
                ((fn, arg),) = node.items()
                if fn == "Fn::EachMemberEquals":
                    items, expected = value(arg[0]), value(arg[1])
                    return all(item == expected for item in items)
                if fn == "Fn::Contains":
                    return value(arg[1]) in [value(item) for item in arg[0]]
                if fn in ("Fn::Not", "Fn::And", "Fn::Or", "Fn::Equals"):
                    return self.value({fn: [value(a) for a in arg]})
            return self.value(node)

        failed = []
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not value(rule["RuleCondition"]):
                continue
            if not all(value(a["Assert"]) for a in rule["Assertions"]):
                failed.append(name)
        return failed

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {n: r for n, r in self.resources.items() if r["Type"] == kind}

    def properties(self, name: str) -> dict[str, Any]:
        """A resource's properties with everything that depends only on parameters evaluated."""
        return dict(self.value_deep(self.resources[name].get("Properties", {})))

    def value_deep(self, node: Any) -> Any:
        evaluated = self.value(node)
        if isinstance(evaluated, dict):
            return {k: self.value_deep(v) for k, v in evaluated.items()}
        if isinstance(evaluated, list):
            return [self.value_deep(v) for v in evaluated]
        return evaluated


def symbol(value: Any) -> str:
    """A value as text, with what only CloudFormation knows written as ${Resource.Attribute}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return "${%s}" % (".".join(target) if isinstance(target, list) else target)
    if isinstance(value, dict) and "Ref" in value:
        return "${{{}}}".format(value["Ref"])
    if isinstance(value, dict) and "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return f"${{{symbol(items)}[{index}]}}"
    if isinstance(value, dict) and "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return f"{symbol(text)}.split({separator!r})"
    return json.dumps(value, sort_keys=True)


def cidr(block: str, count: int, bits: int) -> list[str]:
    """Fn::Cidr: the first `count` subnets of `block` with `bits` host bits each.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-cidr.html
    """
    network = ipaddress.ip_network(block, strict=False)
    subnets = network.subnets(new_prefix=network.max_prefixlen - bits)
    return [str(next(subnets)) for _ in range(count)]
