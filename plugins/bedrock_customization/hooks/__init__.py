"""Hooks for Amazon Bedrock model customization."""
