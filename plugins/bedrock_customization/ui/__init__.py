"""Results inside Airflow: an Airflow 3 UI plugin showing a run's charts, report, decision and registry.

* :mod:`.artifacts` (pure): which S3 keys belong to a run, and what each of them is;
* :mod:`.render` (pure): Markdown to safe HTML, and the page from its template;
* :mod:`.app`: the FastAPI app the API server mounts at ``/bedrock-customization`` (reads S3 through the
  ``aws_default`` connection, requires an authenticated Airflow user who may read the DAG's runs);
* :mod:`.plugin`: the ``AirflowPlugin`` (registered by the ``airflow.plugins`` entry point) with the app and
  the "Bedrock results" tabs of a DAG run and of a task instance.
"""
