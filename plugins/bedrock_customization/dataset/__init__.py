"""Dataset work for Bedrock customization: pure functions, no Airflow or AWS imports."""
