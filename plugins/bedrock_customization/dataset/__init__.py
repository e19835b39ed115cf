"""Dataset work for Bedrock customization: pure functions, no Airflow or AWS imports.

Preparing training data is ``bedrock_customization.dataset.prepare.prepare``: it streams a QA, chat or text
dataset (``readers``), maps its fields to a neutral conversation (``mapping``), checks each record and file
against the model catalog (``validation``), writes the model's record format (``formats``), splits
train/validation deterministically (``split``) and reports what it did (``report``).
"""
