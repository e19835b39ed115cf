"""The ``vpcConfig`` of Bedrock jobs (customization and import): subnets and security groups, checked before
any AWS call. Pure standard library."""

from __future__ import annotations

from collections.abc import Sequence

from bedrock_customization.exceptions import BedrockCustomizationError

#: Bedrock's limits on ``vpcConfig``.
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5


def as_list(value: Sequence[str] | str | None) -> list[str]:
    """A list of non-empty strings from a list or a comma-separated string."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def vpc_config(
    subnet_ids: Sequence[str] | str | None, security_group_ids: Sequence[str] | str | None
) -> dict[str, list[str]]:
    """``{"subnetIds", "securityGroupIds"}``, or ``{}`` for a job outside a VPC (neither given)."""
    subnets, groups = as_list(subnet_ids), as_list(security_group_ids)
    if not subnets and not groups:
        return {}
    if not subnets or not groups:
        missing = "subnet_ids" if not subnets else "security_group_ids"
        raise BedrockCustomizationError(
            f"vpcConfig needs both subnet_ids and security_group_ids; {missing} is empty. Give both, or neither "
            "for a job outside a VPC."
        )
    if len(subnets) > MAX_SUBNETS:
        raise BedrockCustomizationError(
            f"subnet_ids: {len(subnets)} subnets given; Bedrock accepts 1 to {MAX_SUBNETS}"
        )
    if len(groups) > MAX_SECURITY_GROUPS:
        raise BedrockCustomizationError(
            f"security_group_ids: {len(groups)} groups given; Bedrock accepts 1 to {MAX_SECURITY_GROUPS}"
        )
    return {"subnetIds": subnets, "securityGroupIds": groups}
