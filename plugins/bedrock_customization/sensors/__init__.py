"""Sensors for Amazon Bedrock model customization."""
