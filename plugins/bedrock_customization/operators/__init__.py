"""Operators for Amazon Bedrock model customization."""
