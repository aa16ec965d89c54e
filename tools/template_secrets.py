"""Fails when template.yaml could put a secret where it can be read (scripts/test.sh runs it).

Usage: python tools/template_secrets.py template.yaml
       python tools/template_secrets.py --self-test

Secrets live in AWS Secrets Manager (AWS::SecretsManager::Secret); a function's environment
names the ones it reads by ARN, in a variable ending in _ARN, and its role may read those and
no others. The check fails on:
  - a NoEcho parameter (its value would end up in some resource's configuration);
  - a function variable named like a secret (…SECRET, …SECRET_PREVIOUS, …TOKEN, …PASSWORD,
    …_KEY) that does not end in _ARN;
  - a dynamic reference to a secret's value ({{resolve:secretsmanager:…}}) anywhere;
  - a variable naming a secret's ARN without the function's role allowed to read it, or a
    role allowed to read a secret its function is not given;
  - a secretsmanager action on a wildcard resource, a wildcard action ("*", "secretsmanager:*")
    on a secret, or a secretsmanager action other than GetSecretValue (a function changing
    secrets);
  - a secret no function reads.
"""

import re
import sys

import yaml

SECRET_NAME = re.compile(r"(SECRET|SECRET_PREVIOUS|SECRET_NEXT|TOKEN|PASSWORD|_KEY)$")


class Loader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


Loader.add_multi_constructor("!", _tag)


def _refs(value):
    """Every logical id `value` references (Ref, GetAtt, Sub's ${...})."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("Ref",) and isinstance(inner, str):
                found.add(inner)
            elif key in ("GetAtt", "Fn::GetAtt"):
                target = inner if isinstance(inner, str) else inner[0]
                found.add(target.split(".")[0])
            elif key in ("Sub", "Fn::Sub"):
                text = inner if isinstance(inner, str) else inner[0]
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                found |= _refs(inner)
            else:
                found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    return found


def _walk_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _walk_strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk_strings(inner)


def problems(template):
    found = []
    resources = template.get("Resources", {})
    secrets = {name for name, r in resources.items() if r.get("Type") == "AWS::SecretsManager::Secret"}
    for name, parameter in (template.get("Parameters") or {}).items():
        if parameter.get("NoEcho"):
            found.append(f"parameter {name} is NoEcho: keep the secret in Secrets Manager instead")
    for text in _walk_strings(template):
        if "{{resolve:secretsmanager" in text:
            found.append(f"a dynamic reference puts a secret's value in the template: {text[:60]}")
    globals_env = ((template.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables") or {}
    read_anywhere = set()
    for name, resource in resources.items():
        if resource.get("Type") not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        props = resource.get("Properties") or {}
        env = dict(globals_env)
        env.update((props.get("Environment") or {}).get("Variables") or {})
        named = set()
        for var, value in env.items():
            if var.endswith("_ARN"):
                named |= _refs(value) & secrets
            elif SECRET_NAME.search(var):
                found.append(f"{name}: {var} holds a secret's value; name its secret by ARN ({var}_ARN)")
            elif _refs(value) & secrets:
                found.append(f"{name}: {var} names a secret but does not end in _ARN")
        readable = set()
        statements = []
        for policy in props.get("Policies") or []:
            if isinstance(policy, dict):
                statements += policy.get("Statement") or []
                if "AWSSecretsManagerGetSecretValuePolicy" in policy:
                    readable |= _refs(policy["AWSSecretsManagerGetSecretValuePolicy"])
        for statement in statements:
            actions = statement.get("Action")
            actions = [actions] if isinstance(actions, str) else actions or []
            actions = [str(a).lower() for a in actions]
            targets = statement.get("Resource")
            targets = targets if isinstance(targets, list) else [targets]
            if statement.get("Effect", "Allow") != "Allow":
                continue
            if "*" in actions and (_refs(targets) & secrets or "*" in targets):
                found.append(f"{name}: may do anything (Action \"*\") to secrets")
            ours = [a for a in actions if a.startswith("secretsmanager:")]
            if not ours:
                continue
            for action in ours:
                if action != "secretsmanager:getsecretvalue":
                    found.append(f"{name}: may {action} (a function only reads its secrets)")
            if any(t == "*" or (isinstance(t, str) and t.endswith("*")) for t in targets):
                found.append(f"{name}: may read secrets on a wildcard resource")
            readable |= _refs(targets) & secrets
        for secret in sorted(named - readable):
            found.append(f"{name}: is given {secret}'s ARN but its role may not read it")
        for secret in sorted(readable - named):
            found.append(f"{name}: its role may read {secret}, which it is not given")
        read_anywhere |= named
    for secret in sorted(secrets - read_anywhere):
        found.append(f"secret {secret} is read by no function")
    return found


BAD = """
Parameters:
  OldToken: {Type: String, NoEcho: true}
Globals:
  Function:
    Environment:
      Variables:
        NHIP_TABLE: t
Resources:
  Key: {Type: AWS::SecretsManager::Secret, Properties: {GenerateSecretString: {}}}
  Spare: {Type: AWS::SecretsManager::Secret, Properties: {GenerateSecretString: {}}}
  Other: {Type: AWS::SecretsManager::Secret, Properties: {GenerateSecretString: {}}}
  Third: {Type: AWS::SecretsManager::Secret, Properties: {GenerateSecretString: {}}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          NHIP_ZNS_ACCESS_TOKEN: !Ref OldToken
          NHIP_LINK_SECRET: "{{resolve:secretsmanager:link}}"
          NHIP_CREDENTIALS_KEY_ARN: !Ref Key
          NHIP_OTHER: !Ref Other
          NHIP_THIRD_KEY_ARN: !Ref Third
      Policies:
        - Statement:
            - Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: "*"
            - Effect: Allow
              Action: [secretsmanager:PutSecretValue, "*"]
              Resource: !Ref Third
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - AWSSecretsManagerGetSecretValuePolicy: {SecretArn: !Ref Other}
"""

EXPECTED = [
    "parameter OldToken is NoEcho",
    "dynamic reference",
    "NHIP_ZNS_ACCESS_TOKEN holds a secret's value",
    "NHIP_LINK_SECRET holds a secret's value",
    "NHIP_OTHER names a secret but does not end in _ARN",
    "may read secrets on a wildcard resource",
    "Fn: may secretsmanager:putsecretvalue",
    "Fn: may do anything",
    "is given Key's ARN but its role may not read it",
    "Reader: its role may read Other, which it is not given",
    "secret Spare is read by no function",
]


def self_test():
    found = problems(yaml.load(BAD, Loader=Loader))
    missing = [e for e in EXPECTED if not any(e in f for f in found)]
    if missing:
        print("template secrets self-test: not caught:\n  " + "\n  ".join(missing))
        print("found:\n  " + "\n  ".join(found))
        sys.exit(1)
    print(f"template secrets self-test: the bad template's {len(EXPECTED)} faults are caught")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    with open(path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=Loader)
    found = problems(template)
    if found:
        print(f"template secrets: {path} could expose a secret:\n  " + "\n  ".join(found))
        sys.exit(1)
    secrets = sum(1 for r in template["Resources"].values() if r.get("Type") == "AWS::SecretsManager::Secret")
    print(f"template secrets: {secrets} secrets in Secrets Manager, none in an environment variable or parameter")


if __name__ == "__main__":
    main()
