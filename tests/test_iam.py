"""The IAM generator: documented statements (compared by structure), narrowing, trust policy, CLI JSON."""

from __future__ import annotations

import json

import pytest

from bedrock_customization import iam
from bedrock_customization.cli import main
from bedrock_customization.exceptions import BedrockCustomizationError

REGION, ACCOUNT, BUCKET = "us-east-1", "123456789012", "training-bucket"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SUBNETS = ["subnet-0a1", "subnet-0b2"]
GROUPS = ["sg-0c3"]
EC2 = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
JOBS = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/*"


def statements(policy: dict) -> dict[str, dict]:
    """Statements by Sid, in the canonical form of ``normalize_policy``."""
    return {s["Sid"]: s for s in iam.normalize_policy(policy)["Statement"]}


def vpc_policy(**kwargs) -> dict:
    return iam.service_role_policy(
        region=REGION,
        account=ACCOUNT,
        bucket=BUCKET,
        data_prefixes=["data/"],
        output_prefix="output/",
        kms_key_arn=KEY,
        subnet_ids=SUBNETS,
        security_group_ids=GROUPS,
        **kwargs,
    )


def test_vpc_statements_are_the_documented_ones():
    """Facts §5, written out independently of the generator and compared after normalisation."""
    documented = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DescribeNetwork",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeNetworkInterfaces",
                ],
                "Resource": "*",
            },
            {
                "Sid": "CreateBedrockEni",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": f"{EC2}:network-interface/*",
                "Condition": {
                    "StringEquals": {"aws:RequestTag/BedrockManaged": "true"},
                    "ArnEquals": {"aws:RequestTag/BedrockModelCustomizationJobArn": JOBS},
                },
            },
            {
                "Sid": "CreateEniInJobSubnets",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": [
                    f"{EC2}:security-group/sg-0c3",
                    f"{EC2}:subnet/subnet-0b2",
                    f"{EC2}:subnet/subnet-0a1",
                ],
            },
            {
                "Sid": "ManageBedrockEni",
                "Effect": "Allow",
                "Action": [
                    "ec2:DeleteNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                "Resource": f"{EC2}:network-interface/*",
                "Condition": {
                    "StringEquals": {"ec2:ResourceTag/BedrockManaged": "true"},
                    "ArnEquals": {
                        "ec2:Subnet": [f"{EC2}:subnet/subnet-0a1", f"{EC2}:subnet/subnet-0b2"],
                        "ec2:ResourceTag/BedrockModelCustomizationJobArn": JOBS,
                    },
                },
            },
            {
                "Sid": "TagBedrockEniOnCreate",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": f"{EC2}:network-interface/*",
                "Condition": {
                    "StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["BedrockModelCustomizationJobArn", "BedrockManaged"]
                    },
                },
            },
        ],
    }
    generated = statements(vpc_policy())
    for sid, statement in statements(documented).items():
        assert generated[sid] == statement, sid
    assert set(iam.VPC_SIDS) == set(statements(documented))


def test_s3_and_kms_statements_are_narrowed_to_bucket_prefixes_and_key():
    generated = statements(vpc_policy())
    assert generated["ReadTrainingData"]["Action"] == ["s3:GetObject"]
    assert generated["ReadTrainingData"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/data/*"]
    assert generated["ListDataBucket"]["Resource"] == [f"arn:aws:s3:::{BUCKET}"]
    assert generated["WriteOutput"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert generated["WriteOutput"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/output/*"]
    assert generated["UseDataKey"] == {
        "Action": sorted(iam.KMS_KEY_ACTIONS),
        "Condition": {
            "StringEquals": {
                "kms:ViaService": ["bedrock.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"]
            }
        },
        "Effect": "Allow",
        "Resource": [KEY],
        "Sid": "UseDataKey",
    }
    # Nothing anywhere is broader than the bucket, key, subnets, groups and Bedrock's own ENIs.
    resources = {r for s in generated.values() for r in s["Resource"]}
    assert all(
        r == "*" or BUCKET in r or r in (KEY, f"{EC2}:network-interface/*") or r.startswith(EC2)
        for r in resources
    )
    assert [s["Sid"] for s in generated.values() if s["Resource"] == ["*"]] == ["DescribeNetwork"]


def test_prefix_defaults_and_normalisation():
    whole = statements(iam.service_role_policy(region=REGION, account=ACCOUNT, bucket=BUCKET))
    assert whole["ReadTrainingData"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/*"]
    assert whole["WriteOutput"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/*"]
    assert "UseDataKey" not in whole and not set(iam.VPC_SIDS) & set(whole)
    several = statements(
        iam.service_role_policy(
            region=REGION,
            account=ACCOUNT,
            bucket=BUCKET,
            data_prefixes=["/train/", "runs/*/data/", "train/"],
            output_prefix="runs/out",
            data_objects=["exact/train.jsonl"],
        )
    )
    assert several["ReadTrainingData"]["Resource"] == sorted(
        [
            f"arn:aws:s3:::{BUCKET}/train/*",
            f"arn:aws:s3:::{BUCKET}/runs/*/data/*",
            f"arn:aws:s3:::{BUCKET}/exact/train.jsonl",
        ]
    )
    assert several["WriteOutput"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/runs/out/*"]


def test_sids_are_stable_and_ordered():
    sids = [s["Sid"] for s in vpc_policy()["Statement"]]
    assert sids == list(iam.SIDS)
    assert all(sid.isalnum() for sid in sids)


def test_trust_policy_conditions():
    trust = iam.trust_policy(region=REGION, account=ACCOUNT)
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": [JOBS]},
    }
    with_import = iam.trust_policy(region=REGION, account=ACCOUNT, model_import=True)
    assert with_import["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        JOBS,
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-import-job/*",
    ]


def test_partition_follows_the_region():
    policy = iam.service_role_policy(region="cn-north-1", account=ACCOUNT, bucket=BUCKET)
    assert policy["Statement"][0]["Resource"] == [f"arn:aws-cn:s3:::{BUCKET}/*"]


def test_key_policy_statement():
    role = f"arn:aws:iam::{ACCOUNT}:role/BedrockRole"
    statement = iam.key_policy_statement(role_arn=role, region=REGION)
    assert statement["Principal"] == {"AWS": role}
    assert sorted(statement["Action"]) == sorted(
        ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"]
    )
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": "bedrock.us-east-1.amazonaws.com"}}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account": "12345"}, "12-digit"),
        ({"bucket": "s3://bucket"}, "not an S3 bucket name"),
        ({"kms_key_arn": "alias/my-key"}, "not a key ARN"),
        ({"subnet_ids": ["subnet-0a1"]}, "add --security-group-ids"),
        ({"security_group_ids": ["sg-1"]}, "add --subnet-ids"),
        ({"subnet_ids": ["vpc-1"], "security_group_ids": ["sg-1"]}, "vpc-1"),
    ],
)
def test_invalid_inputs_are_named(kwargs, message):
    args = {"region": REGION, "account": ACCOUNT, "bucket": BUCKET, **kwargs}
    with pytest.raises(BedrockCustomizationError, match=message):
        iam.service_role_policy(**args)


def test_cli_prints_policy_and_trust_policy(capsys):
    code = main(
        [
            "iam-policy",
            *("--region", REGION, "--account", ACCOUNT, "--bucket", f"s3://{BUCKET}"),
            *("--prefix", "data/", f"s3://{BUCKET}/more/", "--output-prefix", "output/"),
            *("--kms-key", KEY, "--subnet-ids", "subnet-0a1,subnet-0b2", "--security-group-ids", "sg-0c3"),
            "--import",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"policy", "trust_policy"}
    expected = iam.service_role_policy(
        region=REGION,
        account=ACCOUNT,
        bucket=BUCKET,
        data_prefixes=["data/", "more/"],
        output_prefix="output/",
        kms_key_arn=KEY,
        subnet_ids=SUBNETS,
        security_group_ids=GROUPS,
    )
    assert iam.normalize_policy(printed["policy"]) == iam.normalize_policy(expected)
    assert printed["trust_policy"] == iam.trust_policy(region=REGION, account=ACCOUNT, model_import=True)


def test_cli_errors(capsys):
    base = ["iam-policy", "--region", REGION, "--account", ACCOUNT]
    assert main(base) == 2  # --bucket missing
    assert main([*base, "--bucket", BUCKET, "--subnet-ids", "subnet-0a1"]) == 1
    assert "add --security-group-ids" in capsys.readouterr().err
    assert main([*base, "--bucket", BUCKET, "--prefix", "s3://other-bucket/data/"]) == 1
    assert "not in bucket training-bucket" in capsys.readouterr().err


def test_cli_defaults_to_the_landing_zones_prefixes_never_the_registry(capsys):
    base = ["iam-policy", "--region", REGION, "--account", ACCOUNT, "--bucket", BUCKET]
    assert main(base) == 0
    granted = statements(json.loads(capsys.readouterr().out)["policy"])
    assert granted["ReadTrainingData"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/runs/*/data/*"]
    assert granted["WriteOutput"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/runs/*/output/*"]
    objects = [r for s in granted.values() for r in s["Resource"] if r.startswith(f"arn:aws:s3:::{BUCKET}/")]
    assert not [
        r for r in objects if r.startswith(f"arn:aws:s3:::{BUCKET}/registry") or r.endswith(f"{BUCKET}/*")
    ]

    assert main([*base, "--import"]) == 0
    reads = statements(json.loads(capsys.readouterr().out)["policy"])["ReadTrainingData"]["Resource"]
    assert sorted(reads) == [f"arn:aws:s3:::{BUCKET}/models/import/*", f"arn:aws:s3:::{BUCKET}/runs/*/data/*"]

    assert main([*base, "--prefix", "", "--output-prefix", ""]) == 0  # asked for explicitly: the whole bucket
    whole = statements(json.loads(capsys.readouterr().out)["policy"])
    assert (
        whole["ReadTrainingData"]["Resource"]
        == whole["WriteOutput"]["Resource"]
        == [f"arn:aws:s3:::{BUCKET}/*"]
    )


def test_cli_output_dir_writes_one_policy_document_per_file(tmp_path, capsys):
    folder = tmp_path / "iam"
    args = [
        "iam-policy",
        "--region",
        REGION,
        "--account",
        ACCOUNT,
        "--bucket",
        BUCKET,
        "--output-dir",
        str(folder),
    ]
    assert main(args) == 0
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["role-policy.json", "trust-policy.json"]
    assert capsys.readouterr().out.split() == [str(folder / name) for name in written]
    for name in written:
        document = json.loads((folder / name).read_text())
        # What put-role-policy / create-role take: a policy document, not an object wrapping two of them.
        assert set(document) == {"Version", "Statement"} and document["Statement"]
    trust = json.loads((folder / "trust-policy.json").read_text())
    assert trust == iam.trust_policy(region=REGION, account=ACCOUNT)


def test_an_rft_grader_is_granted_lambda_invoke_and_a_bad_arn_fails(capsys):
    grader = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:reward-function"
    policy = iam.service_role_policy(region=REGION, account=ACCOUNT, bucket=BUCKET, grader_lambda_arn=grader)
    statement = {s["Sid"]: s for s in policy["Statement"]}[iam.SID_INVOKE_GRADER]
    assert statement["Action"] == ["lambda:InvokeFunction"] and statement["Resource"] == [grader]
    plain = iam.service_role_policy(region=REGION, account=ACCOUNT, bucket=BUCKET)
    assert iam.SID_INVOKE_GRADER not in [s["Sid"] for s in plain["Statement"]]
    with pytest.raises(BedrockCustomizationError, match="grader 'reward' is not a Lambda function ARN"):
        iam.service_role_policy(region=REGION, account=ACCOUNT, bucket=BUCKET, grader_lambda_arn="reward")
    args = ["iam-policy", "--region", REGION, "--account", ACCOUNT, "--bucket", BUCKET]
    assert main([*args, "--grader-lambda-arn", grader]) == 0
    printed = json.loads(capsys.readouterr().out)["policy"]["Statement"]
    assert {"Sid": iam.SID_INVOKE_GRADER, "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
            "Resource": [grader]} in printed  # fmt: skip
