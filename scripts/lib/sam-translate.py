"""Translates infra/template.yaml with samtranslator (the library behind `sam deploy`'s
transform) and writes the resulting CloudFormation JSON, so cfn-lint can check what
`sam validate --lint` does not (properties inside AWS::Serverless::* resources).

usage: python sam-translate.py TEMPLATE OUT.json   (needs AWS_DEFAULT_REGION; no network)
"""

import json
import sys

import boto3
from samtranslator.public.translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicies(ManagedPolicyLoader):
    """Managed policy names resolve to their well-known ARNs without calling IAM."""

    def __init__(self):
        super().__init__(iam_client=None)

    def load(self):
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        }


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # Local code paths are what `sam package` replaces with S3 locations; use a placeholder.
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            if not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = "s3://placeholder-bucket/placeholder-key.zip"
    parameters = {"AWS::Region": boto3.session.Session().region_name or "eu-west-1"}
    translated = transform(template, parameters, OfflinePolicies())
    with open(out, "w", encoding="utf-8") as f:
        json.dump(translated, f, indent=1)


if __name__ == "__main__":
    main()
