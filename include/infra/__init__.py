"""Infrastructure as code for VPC-bound Bedrock model customization: the landing-zone template and its deployer."""
