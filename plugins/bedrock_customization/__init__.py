"""Apache Airflow provider for Amazon Bedrock model customization."""

__version__ = "0.1.0"
