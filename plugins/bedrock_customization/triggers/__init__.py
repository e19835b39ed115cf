"""Triggers for Amazon Bedrock model customization."""
