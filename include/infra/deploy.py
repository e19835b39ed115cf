"""Deploy the landing zone (``landing_zone.yaml``) with CloudFormation and print its outputs as JSON.

Creates the stack, or updates it when it exists, waits, and returns the outputs the DAGs need
(``BucketName``, ``KmsKeyArn``, ``RoleArn``, ``SubnetIds``, ``SecurityGroupId``, ``VpcId``, ...). Uses the
standard AWS credential chain and honours ``AWS_ENDPOINT_URL``::

    python -m include.infra.deploy --stack-name bedrock-landing-zone --region us-east-1 \\
        [--parameter BucketName=my-bucket --parameter AvailabilityZoneCount=6 ...]

Unless given, ``AvailabilityZones`` and ``AvailabilityZoneCount`` are filled from DescribeAvailabilityZones
(every available AZ of the region), because ``!GetAZs`` leaves out AZs in which the default VPC has no
subnet. The AZs offering the KMS endpoint service (DescribeVpcEndpointServices) come first and
``KmsEndpointAzCount`` is their number, so the endpoint is never placed in an AZ that lacks the service.
Every list parameter is passed explicitly (see below). Otherwise this is what
``aws cloudformation deploy --capabilities CAPABILITY_NAMED_IAM`` does.

The local emulator (moto 5.2.5) cannot do everything the template asks. After the stack,
:func:`fill_emulator_gaps` creates the rest with boto3, so preflight sees the same landing zone as on AWS.
It runs only when the stack lacks a resource whose type the emulator cannot create (real CloudFormation
never does), or when asked (``fill_gaps=True``):

* resource types moto's CloudFormation skips: ``AWS::EC2::SecurityGroupEgress``
  (authorize_security_group_egress) and ``AWS::S3::BucketPolicy`` (put_bucket_policy; but the landing
  zone's TLS-only policy is left out: moto ignores bucket-policy conditions, so its conditional Deny would
  deny every request to the bucket; the emulated bucket therefore accepts plain HTTP);
* resources it records without effect: ``AWS::EC2::SubnetRouteTableAssociation`` (the subnet stays on the
  VPC's main route table: associate_route_table);
* properties it ignores: ``PublicAccessBlockConfiguration`` and ``BucketKeyEnabled`` of
  ``AWS::S3::Bucket`` (put_public_access_block, put_bucket_encryption); ``SecurityGroupEgress`` of
  ``AWS::EC2::SecurityGroup`` (moto keeps the default allow-all egress rule: it is revoked and the declared
  rules authorized); ``KeyPolicy`` of ``AWS::KMS::Key`` (stored as an object, not JSON text: put_key_policy).

Template features moto lacks, avoided in the template or here: ``CommaDelimitedList`` defaults are not
split (every list parameter is passed explicitly), ``!GetAZs`` returns four AZs (``AvailabilityZones`` is
passed), the short form ``!Condition`` is not understood (the template writes ``{Condition: Az2}``) and an
``AWS::NoValue`` in a list stays a null element (the template writes lists of subnets as nested ``!If``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).with_name("landing_zone.yaml")
DEFAULT_STACK_NAME = "bedrock-customization-landing-zone"
#: The most subnet slots the template declares.
MAX_AZS = 6
#: Resource types moto's CloudFormation skips (:func:`fill_emulator_gaps` creates them with boto3).
EMULATOR_GAP_TYPES = ("AWS::S3::BucketPolicy", "AWS::EC2::SecurityGroupEgress")


log = logging.getLogger(__name__)


class DeployError(RuntimeError):
    """The stack could not be created or updated; the message carries CloudFormation's reasons."""


# --------------------------------------------------------------------------------------------- template


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when available: much faster
    """YAML loader turning CloudFormation short forms (``!Sub x``) into long forms (``{"Fn::Sub": x}``)."""


def _short_form(loader: Any, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as a dict, intrinsic functions in their long form."""
    return copy.deepcopy(_parse_template(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parse_template(path: Path, mtime_ns: int) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)


class Resolver:
    """Resolves ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select`` against a deployed stack.

    :param values: parameters, pseudo parameters (``AWS::Region``, ...) and logical id -> physical id.
    :param attribute: returns ``Fn::GetAtt`` values: ``attribute(logical_id, name)``.
    """

    def __init__(self, values: Mapping[str, Any], attribute: Callable[[str, str], str]) -> None:
        self.values = values
        self.attribute = attribute

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self.attribute(*arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                return arg[0].join(str(item) for item in self(arg[1]))
            if key == "Fn::Select":
                return self(arg[1])[int(self(arg[0]))]
            if key.startswith("Fn::"):
                raise DeployError(f"The resolver does not support {key}")
        return {key: self(value) for key, value in node.items()}

    def _ref(self, name: str) -> Any:
        if name not in self.values:
            raise DeployError(f"Cannot resolve Ref {name}: not a parameter or a created resource")
        return self.values[name]

    def _sub(self, arg: str | list) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.attribute(*name.split(".", 1)))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


# ----------------------------------------------------------------------------------------------- deploy


def deploy_landing_zone(
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = "us-east-1",
    *,
    template: Path = TEMPLATE,
    session: Any = None,
    fill_gaps: bool | None = None,
    **params: Any,
) -> dict[str, str]:
    """Create or update the landing-zone stack, wait for it, and return its outputs.

    :param params: template parameters by name (``BucketName="my-bucket"``, ``AvailabilityZoneCount=3``);
        lists may be given as Python lists.
    :param fill_gaps: create what the emulator could not (see the module docstring); ``None`` decides from
        the stack: only when a resource of a type in :data:`EMULATOR_GAP_TYPES` is missing.
    """
    import boto3

    session = session or boto3.session.Session(region_name=region)
    cfn = session.client("cloudformation", region_name=region)
    document = load_template(template)
    parameters = _parameters(document, params, session.client("ec2", region_name=region))
    request = {
        "StackName": stack_name,
        "TemplateBody": template.read_text(encoding="utf-8"),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Tags": [{"Key": "bedrock-customization:managed-by", "Value": "landing-zone"}],
    }
    status = _stack_status(cfn, stack_name)
    if status is None:
        cfn.create_stack(**request)
        _wait(cfn, "stack_create_complete", stack_name)
    elif status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
        raise DeployError(
            f"Stack {stack_name} is in {status} and cannot be updated; delete it "
            f"(aws cloudformation delete-stack --stack-name {stack_name}) and deploy again."
        )
    else:
        try:
            cfn.update_stack(**request)
        except cfn.exceptions.ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
        else:
            _wait(cfn, "stack_update_complete", stack_name)
    resources = _physical_ids(cfn, stack_name)
    missing = [
        logical_id
        for logical_id, resource in document["Resources"].items()
        if resource["Type"] in EMULATOR_GAP_TYPES and logical_id not in resources
    ]
    if fill_gaps or (fill_gaps is None and missing):
        log.info(
            "The stack lacks %s: filling the emulator's gaps with boto3.", ", ".join(missing) or "nothing"
        )
        for line in fill_emulator_gaps(session, region, stack_name, document, parameters):
            log.info("  %s", line)
    return stack_outputs(cfn, stack_name)


def _physical_ids(cfn: Any, stack_name: str) -> dict[str, str]:
    """Logical id -> physical id of the stack's resources (moto lists skipped ones without a logical id)."""
    return {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for r in page["StackResourceSummaries"]
        if r.get("LogicalResourceId")
    }


def stack_outputs(cfn: Any, stack_name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _parameters(document: dict[str, Any], params: Mapping[str, Any], ec2: Any) -> dict[str, str]:
    declared = document["Parameters"]
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise DeployError(f"Unknown template parameters: {', '.join(unknown)}; known: {', '.join(declared)}")
    values = {
        name: ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        for name, value in params.items()
    }
    if "AvailabilityZones" not in values:
        zones = ec2.describe_availability_zones(
            Filters=[
                {"Name": "zone-type", "Values": ["availability-zone"]},
                {"Name": "state", "Values": ["available"]},
            ]
        )["AvailabilityZones"]
        names = sorted(zone["ZoneName"] for zone in zones)
        count = int(values.get("AvailabilityZoneCount", min(len(names), MAX_AZS)))
        if len(names) > MAX_AZS and "AvailabilityZoneCount" not in values:
            raise DeployError(
                f"The region has {len(names)} Availability Zones but the template has {MAX_AZS} subnet slots; "
                "add slots to landing_zone.yaml or choose AZs with AvailabilityZones/AvailabilityZoneCount."
            )
        if count > len(names):
            raise DeployError(f"AvailabilityZoneCount={count} but the region has {len(names)} AZs")
        # AZs offering the KMS endpoint service first: the endpoint goes into the first subnets.
        kms_zones = _service_zones(ec2, f"com.amazonaws.{ec2.meta.region_name}.kms") or set(names)
        names.sort(key=lambda name: name not in kms_zones)
        values["AvailabilityZones"] = ",".join(names)
        values.setdefault("AvailabilityZoneCount", str(count))
        values.setdefault(
            "KmsEndpointAzCount", str(max(1, len([n for n in names[:count] if n in kms_zones])))
        )
    # The emulator does not split CommaDelimitedList defaults: pass them explicitly.
    for name, spec in declared.items():
        if spec.get("Type") == "CommaDelimitedList" and name not in values and spec.get("Default"):
            values[name] = str(spec["Default"])
    return values


def _service_zones(ec2: Any, service: str) -> set[str]:
    """The AZs in which a VPC endpoint service is offered (empty when that cannot be read)."""
    from botocore.exceptions import ClientError

    try:
        details = ec2.describe_vpc_endpoint_services(ServiceNames=[service])["ServiceDetails"]
    except ClientError:
        return set()
    return {zone for detail in details for zone in detail.get("AvailabilityZones", [])}


def _stack_status(cfn: Any, stack_name: str) -> str | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    status = stacks[0]["StackStatus"] if stacks else None
    return None if status == "DELETE_COMPLETE" else status


def _wait(cfn: Any, waiter: str, stack_name: str) -> None:
    from botocore.exceptions import WaiterError

    try:
        cfn.get_waiter(waiter).wait(StackName=stack_name, WaiterConfig={"Delay": 10, "MaxAttempts": 180})
    except WaiterError as exc:
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [
            f"{e['LogicalResourceId']} ({e['ResourceType']}): {e.get('ResourceStatusReason', '')}"
            for e in events
            if e["ResourceStatus"].endswith("_FAILED")
        ]
        raise DeployError(
            f"Stack {stack_name} did not complete: {exc}\n" + "\n".join(f"  - {r}" for r in reasons[:10])
        ) from exc


# ------------------------------------------------------------------------------------- emulator gaps


def fill_emulator_gaps(
    session: Any, region: str, stack_name: str, document: dict[str, Any], parameters: Mapping[str, str]
) -> list[str]:
    """Create with boto3 what the emulator's CloudFormation skipped or ignored; returns what was done."""
    cfn = session.client("cloudformation", region_name=region)
    s3 = session.client("s3", region_name=region)
    ec2 = session.client("ec2", region_name=region)
    kms = session.client("kms", region_name=region)
    iam = session.client("iam", region_name=region)
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    physical = _physical_ids(cfn, stack_name)
    account = stack["StackId"].split(":")[4]
    partition = stack["StackId"].split(":")[1]
    types = {logical_id: resource["Type"] for logical_id, resource in document["Resources"].items()}

    def attribute(logical_id: str, name: str) -> str:
        kind, value = types[logical_id], physical[logical_id]
        if (kind, name) == ("AWS::S3::Bucket", "Arn"):
            return f"arn:{partition}:s3:::{value}"
        if (kind, name) == ("AWS::EC2::SecurityGroup", "GroupId"):
            return value
        if (kind, name) == ("AWS::KMS::Key", "Arn"):
            return kms.describe_key(KeyId=value)["KeyMetadata"]["Arn"]
        if (kind, name) == ("AWS::IAM::Role", "Arn"):
            return iam.get_role(RoleName=value)["Role"]["Arn"]
        raise DeployError(f"The resolver does not know {logical_id}.{name} ({kind})")

    values = {
        **{name: spec.get("Default", "") for name, spec in document["Parameters"].items()},
        **parameters,
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
        **physical,
    }
    resolve = Resolver(values, attribute)
    done: list[str] = []
    for logical_id, resource in document["Resources"].items():
        if logical_id not in physical and resource["Type"] not in EMULATOR_GAP_TYPES:
            continue  # a resource whose condition is false
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind in EMULATOR_GAP_TYPES and "Condition" in resource:
            raise DeployError(f"{logical_id}: filling a conditional resource is not supported")
        if kind == "AWS::S3::BucketPolicy" and logical_id not in physical:
            bucket = resolve(props["Bucket"])
            policy = resolve(props["PolicyDocument"])
            if any(s.get("Effect") == "Deny" and "Condition" in s for s in _listed(policy["Statement"])):
                # moto ignores bucket-policy conditions: a conditional Deny would deny every request.
                done.append(
                    f"{logical_id}: not applied (the emulator would treat its conditional Deny as deny-all)"
                )
            else:
                s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
                done.append(f"{logical_id}: put_bucket_policy on {bucket}")
        elif kind == "AWS::EC2::SecurityGroupEgress" and logical_id not in physical:
            group = resolve(props["GroupId"])
            if _authorize_egress(ec2, group, [resolve(props)]):
                done.append(f"{logical_id}: authorize_security_group_egress on {group}")
        elif kind == "AWS::S3::Bucket":
            bucket = physical[logical_id]
            if "PublicAccessBlockConfiguration" in props:
                s3.put_public_access_block(
                    Bucket=bucket,
                    PublicAccessBlockConfiguration=resolve(props["PublicAccessBlockConfiguration"]),
                )
                done.append(f"{logical_id}: put_public_access_block")
            if "BucketEncryption" in props:
                config = resolve(props["BucketEncryption"])["ServerSideEncryptionConfiguration"]
                rules = [
                    {
                        "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                        **(
                            {"BucketKeyEnabled": rule["BucketKeyEnabled"]}
                            if "BucketKeyEnabled" in rule
                            else {}
                        ),
                    }
                    for rule in config
                ]
                s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
                done.append(f"{logical_id}: put_bucket_encryption")
        elif kind == "AWS::EC2::SecurityGroup" and "SecurityGroupEgress" in props:
            group = physical[logical_id]
            rules = resolve(props["SecurityGroupEgress"])
            _revoke_default_egress(ec2, group)
            _authorize_egress(ec2, group, rules)
            done.append(f"{logical_id}: egress rules replaced by the declared ones")
        elif kind == "AWS::EC2::SubnetRouteTableAssociation":
            subnet, table = resolve(props["SubnetId"]), resolve(props["RouteTableId"])
            tables = ec2.describe_route_tables(
                Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
            )
            if not tables["RouteTables"]:
                ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
                done.append(f"{logical_id}: associate_route_table {table} with {subnet}")
        elif kind == "AWS::KMS::Key":
            policy = json.dumps(resolve(props["KeyPolicy"]))
            kms.put_key_policy(KeyId=physical[logical_id], PolicyName="default", Policy=policy)
            done.append(f"{logical_id}: put_key_policy")
    return done


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _permission(rule: Mapping[str, Any]) -> dict[str, Any]:
    """An EC2 IpPermission from a CloudFormation egress rule."""
    permission: dict[str, Any] = {"IpProtocol": str(rule["IpProtocol"])}
    if "FromPort" in rule:
        permission["FromPort"] = int(rule["FromPort"])
        permission["ToPort"] = int(rule["ToPort"])
    description = {"Description": rule["Description"]} if "Description" in rule else {}
    if "CidrIp" in rule:
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"], **description}]
    if "DestinationSecurityGroupId" in rule:
        permission["UserIdGroupPairs"] = [{"GroupId": rule["DestinationSecurityGroupId"], **description}]
    if "DestinationPrefixListId" in rule:
        permission["PrefixListIds"] = [{"PrefixListId": rule["DestinationPrefixListId"], **description}]
    return permission


def _authorize_egress(ec2: Any, group_id: str, rules: list[Mapping[str, Any]]) -> bool:
    from botocore.exceptions import ClientError

    try:
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[_permission(r) for r in rules])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "InvalidPermission.Duplicate":
            raise
        return False
    return True


def _revoke_default_egress(ec2: Any, group_id: str) -> None:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    for permission in group["IpPermissionsEgress"]:
        if permission["IpProtocol"] == "-1" and any(
            r["CidrIp"] == "0.0.0.0/0" for r in permission.get("IpRanges", [])
        ):
            ec2.revoke_security_group_egress(
                GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
            )


# -------------------------------------------------------------------------------------------------- CLI


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.infra.deploy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--parameter",
        "-p",
        action="append",
        type=_parameter,
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter, e.g. BucketName=my-bucket (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(message)s")  # to stderr; stdout carries only the JSON
    log.setLevel(logging.INFO)
    try:
        outputs = deploy_landing_zone(args.stack_name, args.region, **dict(args.parameter))
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(outputs, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
