"""Links for Amazon Bedrock model customization."""
