"""The landing-zone template deploys into moto, its role policy is the generator's, and the gaps are filled."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from bedrock_customization import iam
from include.infra import deploy
from include.infra.deploy import Resolver, deploy_landing_zone, fill_emulator_gaps, load_template

from .helpers import REGION, STACK, emulated_landing_zone

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

OUTPUTS = {"BucketName", "KmsKeyArn", "RoleArn", "SubnetIds", "SecurityGroupId", "VpcId"}


def expected_policy(zone, template_params: dict) -> dict:
    """What ``iam.service_role_policy`` generates for the stack's own resources."""
    account = zone.outputs["RoleArn"].split(":")[4]
    return iam.service_role_policy(
        region=REGION,
        account=account,
        bucket=zone.bucket,
        data_prefixes=[template_params["DataPrefix"]],
        output_prefix=template_params["OutputPrefix"],
        kms_key_arn=zone.outputs["KmsKeyArn"],
        subnet_ids=zone.subnet_ids,
        security_group_ids=[zone.group_id],
    )


@pytest.mark.parametrize("az_count", [1, 3, 6])
def test_role_policy_is_the_generated_one(monkeypatch, az_count):
    params = {
        "AvailabilityZoneCount": az_count,
        "KmsEndpointAzCount": 2,
        "DataPrefix": "datasets/",
        "OutputPrefix": "results/",
    }
    with emulated_landing_zone(monkeypatch, **params) as zone:
        assert OUTPUTS <= set(zone.outputs)
        assert len(zone.subnet_ids) == az_count
        iam_client = zone.client("iam")
        role = zone.outputs["RoleArn"].split("/")[-1]
        (name,) = iam_client.list_role_policies(RoleName=role)["PolicyNames"]
        deployed = iam_client.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        assert iam.normalize_policy(deployed) == iam.normalize_policy(expected_policy(zone, params))
        trust = iam_client.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        account = zone.outputs["RoleArn"].split(":")[4]
        assert iam.normalize_policy(trust) == iam.normalize_policy(
            iam.trust_policy(region=REGION, account=account)
        )
        endpoints = zone.client("ec2").describe_vpc_endpoints(VpcEndpointIds=[zone.outputs["KmsEndpointId"]])
        assert endpoints["VpcEndpoints"][0]["SubnetIds"] == zone.subnet_ids[: min(2, az_count)]


class TestDefaultLandingZone:
    """The landing zone with default parameters, deployed once for these read-only tests."""

    @pytest.fixture(scope="class")
    def zone(self):
        with pytest.MonkeyPatch.context() as monkeypatch, emulated_landing_zone(monkeypatch) as zone:
            yield zone

    def test_default_parameters_fit_the_retraining_dag_and_every_az(self, zone):
        defaults = {name: spec.get("Default") for name, spec in load_template()["Parameters"].items()}
        assert iam.normalize_policy(
            zone.client("iam").get_role_policy(
                RoleName=zone.outputs["RoleArn"].split("/")[-1], PolicyName="bedrock-customization"
            )["PolicyDocument"]
        ) == iam.normalize_policy(expected_policy(zone, defaults))
        ec2 = zone.client("ec2")
        zones = {z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
        subnets = ec2.describe_subnets(SubnetIds=zone.subnet_ids)["Subnets"]
        assert {s["AvailabilityZone"] for s in subnets} == zones
        assert {s["VpcId"] for s in subnets} == {zone.outputs["VpcId"]}
        assert not any(s.get("MapPublicIpOnLaunch") for s in subnets)

    def test_key_policy_lets_the_role_use_the_key_through_bedrock(self, zone):
        kms = zone.client("kms")
        policy = json.loads(
            kms.get_key_policy(KeyId=zone.outputs["KmsKeyArn"], PolicyName="default")["Policy"]
        )
        statement = iam.key_policy_statement(role_arn=zone.outputs["RoleArn"], region=REGION)
        assert (
            iam.normalize_policy({"Statement": [statement]})["Statement"][0]
            in iam.normalize_policy(policy)["Statement"]
        )
        s3 = zone.client("s3")
        (rule,) = s3.get_bucket_encryption(Bucket=zone.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": zone.outputs["KmsKeyArn"],
        }
        assert rule["BucketKeyEnabled"] is True

    def test_network_resources_are_what_preflight_needs(self, zone):
        ec2 = zone.client("ec2")
        vpc = zone.outputs["VpcId"]
        endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
        services = {e["ServiceName"]: e for e in endpoints}
        s3_endpoint, kms_endpoint = (
            services[f"com.amazonaws.{REGION}.s3"],
            services[f"com.amazonaws.{REGION}.kms"],
        )
        assert s3_endpoint["VpcEndpointType"] == "Gateway"
        assert kms_endpoint["VpcEndpointType"] == "Interface" and kms_endpoint["PrivateDnsEnabled"]
        assert kms_endpoint["SubnetIds"] == zone.subnet_ids
        for subnet in zone.subnet_ids:
            (table,) = ec2.describe_route_tables(
                Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
            )["RouteTables"]
            assert table["RouteTableId"] in s3_endpoint["RouteTableIds"]
            assert any(r.get("GatewayId") == s3_endpoint["VpcEndpointId"] for r in table["Routes"])
        (kms_group,) = kms_endpoint["Groups"]
        (rule,) = ec2.describe_security_groups(GroupIds=[kms_group["GroupId"]])["SecurityGroups"][0][
            "IpPermissions"
        ]
        assert (rule["FromPort"], rule["ToPort"]) == (443, 443)
        assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [zone.group_id]


def test_emulator_gaps_are_filled(monkeypatch):
    """Without the gap filling moto's stack lacks the self egress rule, public access block and associations."""
    with emulated_landing_zone(monkeypatch) as zone:
        document = load_template()
        parameters = {
            "AvailabilityZones": "us-east-1a,us-east-1b",
            "AvailabilityZoneCount": "2",
            "RoleName": "raw-role",
        }
        parameters["SubnetCidrs"] = document["Parameters"]["SubnetCidrs"]["Default"]
        raw = deploy_landing_zone("raw-stack", REGION, session=zone.session, fill_gaps=False, **parameters)
        ec2, s3 = zone.client("ec2"), zone.client("s3")
        group = ec2.describe_security_groups(GroupIds=[raw["SecurityGroupId"]])["SecurityGroups"][0]
        assert [p["IpProtocol"] for p in group["IpPermissionsEgress"]] == ["-1"]  # moto's default allow-all
        assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchPublicAccessBlockConfiguration"):
            s3.get_public_access_block(Bucket=raw["BucketName"])
        subnet = raw["SubnetIds"].split(",")[0]
        assert not ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])[
            "RouteTables"
        ]

        done = fill_emulator_gaps(zone.session, REGION, "raw-stack", document, parameters)
        assert any(
            line.startswith("JobSecurityGroupSelfEgress: authorize_security_group_egress") for line in done
        )
        assert any(line.startswith("DataBucketPolicy: not applied") for line in done)
        group = ec2.describe_security_groups(GroupIds=[raw["SecurityGroupId"]])["SecurityGroups"][0]
        egress = {
            (p["IpProtocol"], p.get("FromPort"), tuple(r["CidrIp"] for r in p["IpRanges"]))
            + tuple(g["GroupId"] for g in p["UserIdGroupPairs"])
            for p in group["IpPermissionsEgress"]
        }
        assert egress == {("tcp", 443, ("0.0.0.0/0",)), ("-1", None, (), raw["SecurityGroupId"])}
        assert all(
            s3.get_public_access_block(Bucket=raw["BucketName"])["PublicAccessBlockConfiguration"].values()
        )
        assert ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])[
            "RouteTables"
        ]
        key_policy = zone.client("kms").get_key_policy(KeyId=raw["KmsKeyArn"], PolicyName="default")["Policy"]
        assert isinstance(key_policy, str) and json.loads(key_policy)["Statement"]
        # Idempotent: a second pass authorizes nothing twice.
        again = fill_emulator_gaps(zone.session, REGION, "raw-stack", document, parameters)
        assert not any("authorize_security_group_egress" in line for line in again)


def test_redeploy_is_idempotent_and_the_cli_prints_outputs(monkeypatch, capsys):
    with emulated_landing_zone(monkeypatch) as zone:
        assert deploy_landing_zone(STACK, REGION, session=zone.session) == zone.outputs
        assert deploy.main(["--stack-name", STACK, "--region", REGION]) == 0
        assert json.loads(capsys.readouterr().out) == zone.outputs
        assert deploy.main(["--parameter", "NoSuchParameter=1"]) == 1
        assert "Unknown template parameters: NoSuchParameter" in capsys.readouterr().err


def test_azs_offering_the_kms_endpoint_come_first():
    """The KMS endpoint goes into the first KmsEndpointAzCount subnets: never into an AZ without the service."""
    zones = [f"us-east-1{letter}" for letter in "abcdef"]

    class Ec2:
        meta = SimpleNamespace(region_name=REGION)

        def describe_availability_zones(self, Filters):
            return {"AvailabilityZones": [{"ZoneName": zone} for zone in reversed(zones)]}

        def describe_vpc_endpoint_services(self, ServiceNames):
            assert ServiceNames == ["com.amazonaws.us-east-1.kms"]
            return {"ServiceDetails": [{"AvailabilityZones": [z for z in zones if z != "us-east-1c"]}]}

    values = deploy._parameters(load_template(), {}, Ec2())
    assert values["AvailabilityZones"].split(",") == [z for z in zones if z != "us-east-1c"] + ["us-east-1c"]
    assert (values["AvailabilityZoneCount"], values["KmsEndpointAzCount"]) == ("6", "5")
    assert values["SubnetCidrs"].count(",") == 5  # list defaults passed explicitly for the emulator
    three = deploy._parameters(load_template(), {"AvailabilityZoneCount": 3}, Ec2())
    assert (three["AvailabilityZoneCount"], three["KmsEndpointAzCount"]) == ("3", "3")
    with pytest.raises(deploy.DeployError, match="AvailabilityZoneCount=7"):
        deploy._parameters(load_template(), {"AvailabilityZoneCount": 7}, Ec2())


def test_resolver():
    values = {"AWS::Region": "us-east-1", "Bucket": "b", "Ids": ["x", "y"]}
    resolve = Resolver(values, lambda logical_id, name: f"{logical_id}.{name}")
    assert resolve({"Fn::Sub": "arn:${AWS::Region}:${Bucket}/${Key.Arn}/${!Literal}"}) == (
        "arn:us-east-1:b/Key.Arn/${Literal}"
    )
    assert resolve({"Fn::Sub": ["${A}-${Bucket}", {"A": {"Ref": "Bucket"}}]}) == "b-b"
    assert resolve({"Fn::Join": [",", {"Ref": "Ids"}]}) == "x,y"
    assert resolve({"Fn::Select": [1, {"Ref": "Ids"}]}) == "y"
    assert resolve([{"Fn::GetAtt": ["Role", "Arn"]}]) == ["Role.Arn"]
    with pytest.raises(deploy.DeployError, match="Fn::Cidr"):
        resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})


def test_template_conditions_chain_and_outputs():
    document = load_template()
    conditions = document["Conditions"]
    for n in range(3, 7):
        assert conditions[f"Az{n}"]["Fn::And"][0] == {"Condition": f"Az{n - 1}"}
    for n in range(2, 7):
        assert document["Resources"][f"Subnet{n}"]["Condition"] == f"Az{n}"
        assert document["Resources"][f"Subnet{n}RouteTable"]["Condition"] == f"Az{n}"
    assert OUTPUTS <= set(document["Outputs"])
    assert document["Parameters"]["AvailabilityZoneCount"]["Default"] == "6"
