"""Preflight passes on the deployed landing zone and fails, naming the problem and the fix, on each mistake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from bedrock_customization import iam
from bedrock_customization.cli import main
from bedrock_customization.preflight import (
    Clients,
    PreflightFailed,
    PreflightReport,
    PreflightSpec,
    run_preflight,
    split_list,
)
from tests.infra.helpers import REGION, LandingZone, emulated_landing_zone
from tests.records import conversation

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

MODEL = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"  # FINE_TUNING only
DATA = "runs/retraining/run-1/data"
RECORD = (json.dumps(conversation("What is 2+2?", "4")) + "\n").encode()


@contextmanager
def deployed(monkeypatch) -> Iterator[LandingZone]:
    """The landing zone in moto with a run's training and validation data uploaded."""
    with emulated_landing_zone(monkeypatch) as landing_zone:
        s3 = landing_zone.client("s3")
        for name in ("train", "validation"):
            s3.put_object(Bucket=landing_zone.bucket, Key=f"{DATA}/{name}.jsonl", Body=RECORD)
        yield landing_zone


@pytest.fixture
def zone(monkeypatch) -> Iterator[LandingZone]:
    """A fresh landing zone, for tests that break it."""
    with deployed(monkeypatch) as landing_zone:
        yield landing_zone


@pytest.fixture(scope="class")
def shared_zone() -> Iterator[LandingZone]:
    """One landing zone for the tests of a class that only read it or add unrelated resources."""
    with pytest.MonkeyPatch.context() as monkeypatch, deployed(monkeypatch) as landing_zone:
        yield landing_zone


def spec(zone: LandingZone, **overrides) -> PreflightSpec:
    values = {
        "region": REGION,
        "base_model": MODEL,
        "role_arn": zone.outputs["RoleArn"],
        "training_uri": f"s3://{zone.bucket}/{DATA}/train.jsonl",
        "validation_uris": (f"s3://{zone.bucket}/{DATA}/validation.jsonl",),
        "output_uri": f"s3://{zone.bucket}/runs/retraining/run-1/output/",
        "hyperparameters": {"epochCount": "2", "learningRateWarmupSteps": "10", "learningRate": "0.00001"},
        "kms_key": zone.outputs["KmsKeyArn"],
        "subnet_ids": tuple(zone.subnet_ids),
        "security_group_ids": (zone.group_id,),
    }
    return PreflightSpec(**{**values, **overrides})


def preflight(zone: LandingZone, **overrides) -> PreflightReport:
    return run_preflight(spec(zone, **overrides), Clients.from_session(zone.session, REGION))


def only_failure(report: PreflightReport, name: str):
    """The report failed exactly ``name``; returns that check."""
    assert [check.name for check in report.failed] == [name], report.render()
    (check,) = report.failed
    assert check.fix, f"{name} has no fix"
    return check


def cli_args(zone: LandingZone, *extra: str) -> list[str]:
    return [
        "preflight",
        *("--region", REGION, "--base-model", MODEL, "--role-arn", zone.outputs["RoleArn"]),
        *("--training-uri", f"s3://{zone.bucket}/{DATA}/train.jsonl"),
        *("--validation-uri", f"s3://{zone.bucket}/{DATA}/validation.jsonl"),
        *("--output-uri", f"s3://{zone.bucket}/runs/retraining/run-1/output/"),
        *("--kms-key", zone.outputs["KmsKeyArn"]),
        *("--subnet-ids", *zone.subnet_ids[:3], ",".join(zone.subnet_ids[3:])),
        *("--security-group-ids", zone.group_id),
        *extra,
    ]


# ------------------------------------------------------------------------ passing, and reading one zone


class TestOnOneLandingZone:
    """Scenarios that leave the landing zone as it is (or only add other resources) share one deployment."""

    def test_passes_on_the_landing_zone(self, shared_zone):
        report = preflight(shared_zone)
        assert report.ok, report.render()
        names = [check.name for check in report.checks]
        assert names == [
            "base-model",
            "customization-type",
            "model-availability",
            "hyperparameters",
            "training-data",
            "output-bucket",
            "kms-key",
            "role-trust",
            "role-permissions",
            "subnets",
            "availability-zones",
            "security-groups",
            "s3-route",
            "kms-endpoint",
        ]
        assert "cover all 6 AZs" in report.render()

    def test_vpc_and_kms_checks_run_only_when_configured(self, shared_zone):
        report = preflight(shared_zone, subnet_ids=(), security_group_ids=(), kms_key=None)
        assert report.ok, report.render()
        assert [c.name for c in report.checks][-3:] == ["output-bucket", "role-trust", "role-permissions"]

    def test_missing_availability_zone(self, shared_zone):
        ec2 = shared_zone.client("ec2")
        last = ec2.describe_subnets(SubnetIds=shared_zone.subnet_ids[-1:])["Subnets"][0]
        check = only_failure(
            preflight(shared_zone, subnet_ids=tuple(shared_zone.subnet_ids[:-1])), "availability-zones"
        )
        assert "5 of 6 AZs" in check.detail
        assert f"missing {last['AvailabilityZone']} ({last['AvailabilityZoneId']})" in check.detail
        assert f"create a private subnet in {last['AvailabilityZone']}" in check.fix
        assert preflight(shared_zone, subnet_ids=tuple(shared_zone.subnet_ids[:-1]), require_all_azs=False).ok

    def test_subnet_from_another_vpc(self, shared_zone):
        ec2 = shared_zone.client("ec2")
        other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
        stray = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.99.0.0/24", AvailabilityZone="us-east-1a")[
            "Subnet"
        ]
        report = preflight(shared_zone, subnet_ids=(*shared_zone.subnet_ids, stray["SubnetId"]))
        failed = {check.name: check for check in report.failed}
        assert "subnets" in failed
        assert f"{stray['SubnetId']} in {other_vpc}" in failed["subnets"].detail
        assert (
            f"replace {stray['SubnetId']} with subnets of {shared_zone.outputs['VpcId']}"
            in failed["subnets"].fix
        )
        # The role does not cover the stray subnet either (its ARN is not in CreateEniInJobSubnets).
        assert "CreateEniInJobSubnets" in failed["role-permissions"].detail

    def test_security_group_of_another_vpc(self, shared_zone):
        ec2 = shared_zone.client("ec2")
        other_vpc = ec2.create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
        group = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other_vpc)["GroupId"]
        report = preflight(shared_zone, security_group_ids=(shared_zone.group_id, group))
        failed = {check.name: check for check in report.failed}
        assert f"{group} is in {other_vpc}" in failed["security-groups"].detail

    def test_missing_training_data(self, shared_zone):
        check = only_failure(
            preflight(shared_zone, training_uri=f"s3://{shared_zone.bucket}/{DATA}/nope.jsonl"),
            "training-data",
        )
        assert f"s3://{shared_zone.bucket}/{DATA}/nope.jsonl (not found)" in check.detail
        assert "upload" in check.fix

    def test_invalid_hyperparameter(self, shared_zone):
        check = only_failure(preflight(shared_zone, hyperparameters={"epochCount": "99"}), "hyperparameters")
        assert f"epochCount=99 is outside 1..5 for {MODEL}" in check.detail
        assert "bedrock-customize catalog" in check.fix

    def test_unsupported_customization_type(self, shared_zone):
        report = preflight(
            shared_zone, base_model=NOVA_2_LITE, customization_type="DISTILLATION", hyperparameters={}
        )
        # The catalog says no, and so does the account (GetFoundationModel's customizationsSupported).
        failed = {check.name: check for check in report.failed}
        assert set(failed) == {"customization-type", "model-availability"}, report.render()
        assert f"{NOVA_2_LITE} does not support DISTILLATION" in failed["customization-type"].detail
        assert "amazon.nova-lite-v1:0:300k" in failed["customization-type"].fix
        assert "customizations FINE_TUNING, not DISTILLATION" in failed["model-availability"].detail

    def test_model_not_customizable_in_the_region(self, shared_zone):
        report = preflight(shared_zone, base_model="meta.llama3-1-8b-instruct-v1:0:128k", hyperparameters={})
        failed = {check.name: check for check in report.failed}
        assert set(failed) == {"base-model", "model-availability"}
        assert "customizable in us-west-2, not in us-east-1" in failed["base-model"].detail
        assert "not offered in this region" in failed["model-availability"].detail


# ---------------------------------------------------------------------------------------------- network


def revoke_self_rule(zone: LandingZone, egress: bool) -> None:
    ec2 = zone.client("ec2")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [zone.group_id]}])
    ids = [
        r["SecurityGroupRuleId"]
        for r in rules["SecurityGroupRules"]
        if r["IsEgress"] == egress and r.get("ReferencedGroupInfo", {}).get("GroupId") == zone.group_id
    ]
    revoke = ec2.revoke_security_group_egress if egress else ec2.revoke_security_group_ingress
    revoke(GroupId=zone.group_id, SecurityGroupRuleIds=ids)


@pytest.mark.parametrize(
    ("direction", "missing", "present"),
    [("ingress", "inbound", "outbound"), ("egress", "outbound", "inbound")],
)
def test_security_group_without_self_rule(zone, direction, missing, present):
    revoke_self_rule(zone, egress=direction == "egress")
    check = only_failure(preflight(zone), "security-groups")
    assert f"no {missing} rule allows all traffic" in check.detail
    assert present not in check.detail
    assert f"aws ec2 authorize-security-group-{direction} --group-id {zone.group_id}" in check.fix


def test_no_route_to_s3(zone):
    ec2 = zone.client("ec2")
    endpoint = zone.outputs["S3EndpointId"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    check = only_failure(preflight(zone), "s3-route")
    assert "no route to S3" in check.detail
    assert zone.subnet_ids[0] in check.detail
    assert (
        f"aws ec2 create-vpc-endpoint --vpc-id {zone.outputs['VpcId']} --vpc-endpoint-type Gateway"
        in check.fix
    )
    assert f"--service-name com.amazonaws.{REGION}.s3" in check.fix


def test_subnet_on_a_route_table_without_the_endpoint(zone):
    ec2 = zone.client("ec2")
    table = ec2.create_route_table(VpcId=zone.outputs["VpcId"])["RouteTable"]["RouteTableId"]
    (old,) = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": zone.subnet_ids[:1]}]
    )["RouteTables"]
    association = next(a for a in old["Associations"] if a.get("SubnetId") == zone.subnet_ids[0])
    ec2.replace_route_table_association(
        AssociationId=association["RouteTableAssociationId"], RouteTableId=table
    )
    check = only_failure(preflight(zone), "s3-route")
    assert f"{table} ({zone.subnet_ids[0]})" in check.detail
    assert f"--vpc-endpoint-id {zone.outputs['S3EndpointId']} --add-route-table-ids {table}" in check.fix


def test_missing_kms_endpoint_with_a_key(zone):
    ec2 = zone.client("ec2")
    ec2.delete_vpc_endpoints(VpcEndpointIds=[zone.outputs["KmsEndpointId"]])
    check = only_failure(preflight(zone), "kms-endpoint")
    assert (
        f"no KMS interface endpoint (com.amazonaws.{REGION}.kms) in {zone.outputs['VpcId']}" in check.detail
    )
    assert "aws ec2 create-vpc-endpoint" in check.fix and "--private-dns-enabled" in check.fix
    assert preflight(zone, kms_key=None).ok  # no key, no KMS endpoint needed


# ---------------------------------------------------------------------------------------------- storage


def test_unencrypted_bucket(zone):
    zone.client("s3").delete_bucket_encryption(Bucket=zone.bucket)
    check = only_failure(preflight(zone), "output-bucket")
    assert f"bucket {zone.bucket} does not encrypt with SSE-KMS by default" in check.detail
    assert f"aws s3api put-bucket-encryption --bucket {zone.bucket}" in check.fix
    assert zone.outputs["KmsKeyArn"] in check.fix


def test_bucket_encrypted_with_another_key(zone):
    kms, s3 = zone.client("kms"), zone.client("s3")
    other = kms.create_key()["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(
        Bucket=zone.bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": other}}
            ]
        },
    )
    check = only_failure(preflight(zone), "output-bucket")
    assert f"encrypts with {other}, not {zone.outputs['KmsKeyArn']}" in check.detail


# -------------------------------------------------------------------------------------------------- IAM


def test_role_without_bedrock_trust(zone):
    role = zone.outputs["RoleArn"].split("/")[-1]
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    zone.client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(ec2_trust))
    check = only_failure(preflight(zone), "role-trust")
    assert "does not trust bedrock.amazonaws.com (it trusts ec2.amazonaws.com)" in check.detail
    assert f"aws iam update-assume-role-policy --role-name {role}" in check.fix
    assert "model-customization-job/*" in check.fix


def test_role_trusting_bedrock_for_another_account(zone):
    role = zone.outputs["RoleArn"].split("/")[-1]
    trust = iam.trust_policy(region=REGION, account="999999999999")
    zone.client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
    check = only_failure(preflight(zone), "role-trust")
    assert "only for source account 999999999999" in check.detail


def test_role_missing_the_eni_statements(zone):
    role = zone.outputs["RoleArn"].split("/")[-1]
    account = zone.outputs["RoleArn"].split(":")[4]
    without_vpc = iam.service_role_policy(
        region=REGION,
        account=account,
        bucket=zone.bucket,
        data_prefixes=["runs/*/data/"],
        output_prefix="runs/*/output/",
        kms_key_arn=zone.outputs["KmsKeyArn"],
    )
    zone.client("iam").put_role_policy(
        RoleName=role, PolicyName="bedrock-customization", PolicyDocument=json.dumps(without_vpc)
    )
    check = only_failure(preflight(zone), "role-permissions")
    assert f"lacks statements {', '.join(iam.VPC_SIDS)}" in check.detail
    assert (
        "ManageBedrockEni: ec2:CreateNetworkInterfacePermission, ec2:DeleteNetworkInterface," in check.detail
    )
    assert "bedrock-customize iam-policy --region us-east-1" in check.fix
    assert f"--subnet-ids {' '.join(zone.subnet_ids)}" in check.fix


def test_role_permissions_honour_wildcards_managed_policies_and_denies(zone):
    iam_client = zone.client("iam")
    role = zone.outputs["RoleArn"].split("/")[-1]
    iam_client.delete_role_policy(RoleName=role, PolicyName="bedrock-customization")
    broad = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:Get*", "s3:PutObject", "s3:List*"],
                "Resource": f"arn:aws:s3:::{zone.bucket}*",
            },
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        ],
    }
    arn = iam_client.create_policy(PolicyName="broad", PolicyDocument=json.dumps(broad))["Policy"]["Arn"]
    iam_client.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert preflight(zone).ok
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "ec2:CreateTags", "Resource": "*"}],
    }
    iam_client.put_role_policy(RoleName=role, PolicyName="deny-tags", PolicyDocument=json.dumps(deny))
    check = only_failure(preflight(zone), "role-permissions")
    assert "lacks statements TagBedrockEniOnCreate" in check.detail


# -------------------------------------------------------------------------------------------- CLI, operator


def break_three_things(zone: LandingZone) -> None:
    ec2 = zone.client("ec2")
    ec2.delete_vpc_endpoints(VpcEndpointIds=[zone.outputs["KmsEndpointId"]])
    revoke_self_rule(zone, egress=True)
    zone.client("s3").delete_bucket_encryption(Bucket=zone.bucket)


def test_cli_passes_then_prints_every_failed_check(zone, capsys):
    assert main(cli_args(zone, "--hyperparameters", "epochCount=2", "learningRateWarmupSteps=10,learningRate=0.00001")) == 0
    out = capsys.readouterr().out
    assert out.count("PASS  ") == 14 and "Preflight passed" in out

    break_three_things(zone)
    assert main(cli_args(zone, "--hyperparameters", "epochCount=0")) == 1
    out = capsys.readouterr().out
    for name in ("output-bucket", "security-groups", "kms-endpoint", "hyperparameters"):
        assert f"FAIL  {name}" in out
    assert out.count("fix: ") == 4 and out.count("PASS  ") == 10
    assert "4 of 14 checks failed (hyperparameters, output-bucket, security-groups, kms-endpoint)" in out


def test_cli_json_report(zone, capsys):
    break_three_things(zone)
    assert main([*cli_args(zone), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["failed"] == ["output-bucket", "security-groups", "kms-endpoint"]
    assert {"name", "ok", "detail", "fix"} == set(report["checks"][0])


def test_cli_usage_errors(zone, capsys):
    args = cli_args(zone)
    without_groups = args[: args.index("--security-group-ids")]
    assert main(without_groups) == 2
    assert "add --security-group-ids" in capsys.readouterr().err
    assert main([*args, "--hyperparameters", "epochCount"]) == 2
    assert main(["preflight", "--region", REGION, "--base-model", MODEL]) == 2
    bad_uri = [a if not a.endswith("train.jsonl") else "train.jsonl" for a in args]
    assert main(bad_uri) == 2
    assert "not an S3 URI" in capsys.readouterr().err


def test_operator_fails_listing_the_failed_checks(zone, monkeypatch):
    from bedrock_customization.operators.preflight import BedrockCustomizationPreflightOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        '{"conn_type":"aws","login":"testing","password":"testing","extra":{"region_name":"us-east-1"}}',
    )
    values = spec(zone)
    operator = BedrockCustomizationPreflightOperator(
        task_id="preflight",
        base_model_id=values.base_model,
        role_arn=values.role_arn,
        training_data_uri=values.training_uri,
        output_data_uri=values.output_uri,
        validation_data_uris=",".join(values.validation_uris),
        hyperparameters=dict(values.hyperparameters),
        kms_key_id=values.kms_key,
        subnet_ids=",".join(values.subnet_ids),
        security_group_ids=list(values.security_group_ids),
    )
    result = operator.execute(context={})
    assert result["ok"] is True and len(result["checks"]) == 14

    break_three_things(zone)
    with pytest.raises(PreflightFailed) as failure:
        operator.execute(context={})
    message = str(failure.value)
    assert "3 of 14 checks failed (output-bucket, security-groups, kms-endpoint)" in message
    for name in ("output-bucket", "security-groups", "kms-endpoint"):
        assert f"FAIL  {name}" in message
    assert [c.name for c in failure.value.report.failed] == [
        "output-bucket",
        "security-groups",
        "kms-endpoint",
    ]
    assert "subnet_ids" in operator.template_fields and "hyperparameters" in operator.template_fields


def test_no_credentials_fail_checks_instead_of_crashing(zone, monkeypatch):
    from botocore.exceptions import ClientError, NoCredentialsError

    class Refusing:
        exceptions = SimpleNamespace(
            ClientError=ClientError, NoSuchEntityException=ClientError, NotFoundException=ClientError
        )

        def __getattr__(self, name):
            def call(*args, **kwargs):
                raise NoCredentialsError()

            return call

    report = run_preflight(spec(zone), Clients(ec2=Refusing(), s3=Refusing(), iam=Refusing(), kms=Refusing(), bedrock=Refusing()))
    assert not report.ok
    assert "could not check: Unable to locate credentials" in report.render()
    assert {c.name for c in report.checks if c.ok} == {"base-model", "customization-type", "hyperparameters"}


def test_split_list():
    assert split_list(["a,b", "c", " d , e "]) == ["a", "b", "c", "d", "e"]
    assert split_list("a b,c") == ["a", "b", "c"]
    assert split_list(None) == []


class TestEvaluationModels:
    """The judge and the semantic metric's embedding model answer a probe before any job is paid for."""

    def test_a_judge_and_the_embedding_model_that_answer_pass(self, shared_zone):
        report = preflight(
            shared_zone, evaluation_metrics="chrf,semantic", judge_model_id="amazon.nova-pro-v1:0"
        )
        assert report.ok, report.render()
        (check,) = [check for check in report.checks if check.name == "evaluation-models"]
        assert "amazon.nova-pro-v1:0" in check.detail and "amazon.titan-embed-text-v2:0" in check.detail

    def test_lexical_metrics_call_no_other_model(self, shared_zone):
        report = preflight(shared_zone, evaluation_metrics=("chrf", "rouge_l"))
        assert report.ok and "evaluation-models" not in [check.name for check in report.checks]

    def test_an_unknown_judge_fails_naming_it(self, shared_zone):
        check = only_failure(
            preflight(shared_zone, evaluation_metrics=("chrf",), judge_model_id="acme.judge-v1:0"),
            "evaluation-models",
        )
        assert "acme.judge-v1:0" in check.detail and "bedrock:InvokeModel" in check.fix


# ------------------------------------------------------------------------------ reinforcement fine-tuning


def _rft(zone: LandingZone, grader: str, invoke_on: str | None) -> PreflightReport:
    """Preflight of an RFT job of Nova 2 Lite graded by ``grader``; the role may invoke ``invoke_on``."""
    if invoke_on:
        zone.client("iam").put_role_policy(
            RoleName=zone.outputs["RoleArn"].split("/")[-1],
            PolicyName="rft-grader",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": invoke_on}]}
            ),
        )  # fmt: skip
    return preflight(
        zone,
        base_model=NOVA_2_LITE,
        customization_type="REINFORCEMENT_FINE_TUNING",
        hyperparameters={"epochCount": "2", "batchSize": "16"},
        grader_lambda_arn=grader,
    )


def test_rft_passes_with_a_grader_the_role_may_invoke(zone):
    from tests.grader import create_grader

    grader = create_grader(zone.client("lambda"), zone.client("iam"))
    report = _rft(zone, grader, invoke_on=grader)
    assert report.ok, report.render()
    (check,) = [c for c in report.checks if c.name == "grader-lambda"]
    assert f"grader {grader} exists in {REGION}" in check.detail


def test_rft_with_a_grader_that_does_not_exist_fails_naming_it(zone):
    missing = f"arn:aws:lambda:{REGION}:{zone.outputs['RoleArn'].split(':')[4]}:function:no-such-grader"
    check = only_failure(_rft(zone, missing, invoke_on="*"), "grader-lambda")
    assert check.detail == f"grader Lambda function {missing} does not exist in {REGION}"
    assert "create the reward function no-such-grader in us-east-1" in check.fix


def test_rft_with_a_role_that_may_not_invoke_the_grader_fails_with_the_fix(zone):
    from tests.grader import create_grader

    grader = create_grader(zone.client("lambda"), zone.client("iam"))
    check = only_failure(_rft(zone, grader, invoke_on=None), "role-permissions")
    missing = f"{iam.SID_INVOKE_GRADER}: lambda:InvokeFunction on {grader}"
    assert f"lacks statements {iam.SID_INVOKE_GRADER} ({missing})" in check.detail
    assert f"--grader-lambda-arn {grader}" in check.fix


def test_rft_without_a_grader_and_a_grader_for_another_type_fail(zone):
    check = only_failure(_rft(zone, None, invoke_on=None), "grader-lambda")
    assert "needs a Lambda grader" in check.detail and "set grader_lambda_arn" in check.fix
    grader = f"arn:aws:lambda:{REGION}:123456789012:function:reward"
    report = preflight(zone, grader_lambda_arn=grader)
    check = next(c for c in report.failed if c.name == "grader-lambda")
    assert "only used by REINFORCEMENT_FINE_TUNING, not FINE_TUNING" in check.detail


# ------------------------------------------------------------------------------- invocation logs as data


LOGS = "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/"


def _distil_from_logs(zone: LandingZone, logs_uri: str) -> PreflightReport:
    return preflight(
        zone, customization_type="DISTILLATION", hyperparameters={}, invocation_logs_uri=logs_uri
    )


def test_invocation_logs_under_a_prefix_the_role_reads_pass(zone):
    from tests.records import invocation_log, invocation_log_object

    body = invocation_log_object([invocation_log("What is plan 1?", "10 GB", {"app": "bot"})])
    zone.client("s3").put_object(Bucket=zone.bucket, Key=f"{LOGS}2026/11/20/10/a.json.gz", Body=body)
    # The user's part (rft-access-security, "Invocation log access"): the role may read the logs.
    zone.client("iam").put_role_policy(
        RoleName=zone.outputs["RoleArn"].split("/")[-1],
        PolicyName="invocation-logs",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{zone.bucket}/{LOGS}*"}]}
        ),
    )  # fmt: skip

    report = _distil_from_logs(zone, f"s3://{zone.bucket}/{LOGS}")

    assert report.ok, report.render()
    (check,) = [c for c in report.checks if c.name == "invocation-logs"]
    assert check.detail == f"1 objects under s3://{zone.bucket}/{LOGS}"


def test_invocation_logs_the_role_may_not_read_or_an_empty_prefix_fail_with_the_fix(zone):
    from tests.records import invocation_log, invocation_log_object

    s3 = zone.client("s3")
    s3.create_bucket(Bucket="central-invocation-logs")
    body = invocation_log_object([invocation_log("What is plan 1?", "10 GB")])
    s3.put_object(Bucket="central-invocation-logs", Key=f"{LOGS}a.json.gz", Body=body)

    check = only_failure(_distil_from_logs(zone, f"s3://central-invocation-logs/{LOGS}"), "role-permissions")
    assert f"s3:GetObject on arn:aws:s3:::central-invocation-logs/{LOGS}*" in check.detail
    assert f"--prefix {LOGS}" in check.fix

    empty = f"s3://{zone.bucket}/{DATA}/no-logs-here/"  # a prefix the role reads
    check = only_failure(_distil_from_logs(zone, empty), "invocation-logs")
    assert check.detail == f"no objects under {empty}"
    assert "model invocation logging delivers to" in check.fix
