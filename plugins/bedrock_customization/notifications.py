"""SNS notifications of a retraining run's outcome, built on the Amazon provider's ``SnsNotifier``.

``sns_notifiers(topic_arn)`` returns ``{"on_success_callback": ..., "on_failure_callback": ...}`` for a DAG
(``@dag(..., **sns_notifiers(TOPIC_FROM_VARIABLE))``: the topic is read when the callback runs, and a topic
that renders empty means "no notification"). Each notifier's message,
subject, attributes and topic are Jinja templates rendered with the callback context plus ``bedrock``: a
summary of the run gathered from XCom (missing values are None, never an error)::

    {"dag_id", "run_id", "state": "success" | "failure", "reason", "decision", "metric", "figures",
     "significance", "estimated_cost_usd", "promotion", "evaluation", "params", "headline", "subject"}

``decision`` (``promote``, ``reject`` or ``inconclusive``) comes from the promotion task's XCom (else the
evaluation's), ``figures`` is the evaluation's XCom (baseline/candidate scores), ``significance`` its
statistics (interval of the mean per-sample difference, p-value, n, the decision rule), which the headline
states too, with the run's estimated cost (``figures["estimated_cost"]``, see
:mod:`bedrock_customization.cost`) when the evaluation computed one. The default message is the headline followed by the summary as JSON, and the SNS message
attributes ``state`` and ``decision`` allow subscription filter policies.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

log = logging.getLogger(__name__)

#: The ``topic_arn`` of the Airflow Variable ``bedrock_customization``, or empty (no notification) without one.
TOPIC_FROM_VARIABLE = "{{ var.json.get('bedrock_customization', {}).get('topic_arn', '') }}"
DEFAULT_XCOM_TASK_IDS = {"evaluation": "evaluate", "promotion": "promote_model"}
DEFAULT_MESSAGE = "{{ bedrock.headline }}\n\n{{ bedrock | tojson(indent=2) }}\n"
DEFAULT_SUBJECT = "{{ bedrock.subject }}"
DEFAULT_ATTRIBUTES = {"state": "{{ bedrock.state }}", "decision": "{{ bedrock.decision or 'none' }}"}
_SUBJECT_MAX = 100


def _pull(context: Mapping[str, Any], dag_id: str | None, run_id: str | None, task_id: str) -> Any:
    """The ``return_value`` XCom of ``task_id`` in this run, or None; never raises."""
    ti = context.get("ti") or context.get("task_instance")
    if ti is not None:
        try:
            return ti.xcom_pull(task_ids=task_id)
        except ImportError:
            pass  # no task supervisor to ask: dag.test() runs DAG callbacks in its own process
        except Exception as error:  # a notification must not fail because one XCom is missing
            log.warning("Could not read the XCom of task %s for the notification: %s", task_id, error)
            return None
    return _pull_from_metadata_db(dag_id, run_id, task_id)


def _pull_from_metadata_db(dag_id: str | None, run_id: str | None, task_id: str) -> Any:
    """Fallback for ``dag.test()``, whose DAG callbacks run next to the metadata database."""
    if not (dag_id and run_id):
        return None
    try:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.scalars(
                XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=task_id, key="return_value")
            ).all()
            return XComModel.deserialize_value(rows[0]) if rows else None
    except Exception as error:
        log.warning("Could not read the XCom of task %s for the notification: %s", task_id, error)
        return None


def run_summary(context: Mapping[str, Any], state: str, xcom_task_ids: Mapping[str, str]) -> dict[str, Any]:
    """The ``bedrock`` template variable: what the run decided and measured, from the callback context."""
    dag_run, dag = context.get("dag_run"), context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None)
    run_id = context.get("run_id") or getattr(dag_run, "run_id", None)
    pulled = {name: _pull(context, dag_id, run_id, task_id) for name, task_id in xcom_task_ids.items()}
    promotion, evaluation = pulled.get("promotion"), pulled.get("evaluation")
    decision = None
    for source in (promotion, evaluation):
        if isinstance(source, Mapping) and source.get("decision"):
            decision = source["decision"]
            break
    figures = (
        {k: v for k, v in evaluation.items() if k != "decision"} if isinstance(evaluation, Mapping) else None
    )
    metric = figures.get("metric") if figures else None
    scores = ""
    if figures and metric:
        parts = [
            f"{role} {figures[role].get(metric)}"
            for role in ("candidate", "baseline")
            if isinstance(figures.get(role), Mapping)
        ]
        scores = f"; {metric}: " + " vs ".join(parts) if parts else ""
    significance = figures.get("significance") if figures else None
    if not isinstance(significance, Mapping):
        significance = None
    else:
        from bedrock_customization.evaluation.significance import describe

        try:
            scores += f"; {describe(significance)}"
        except (KeyError, TypeError, ValueError):  # not this package's figures: the JSON still carries them
            pass
    estimate = figures.get("estimated_cost") if figures else None
    if isinstance(estimate, Mapping) and estimate.get("estimated_cost_usd") is not None:
        scores += f"; estimated cost ${estimate['estimated_cost_usd']:,.2f}"
    headline = (
        f"Bedrock {dag_id} run {run_id}: {state}" + (f", decision {decision}" if decision else "") + scores
    )
    subject = f"Bedrock {dag_id}: {state}" + (f" ({decision})" if decision else "")
    subject = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject)[:_SUBJECT_MAX]
    params = context.get("params")
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "state": state,
        "reason": context.get("reason"),
        "decision": decision,
        "metric": metric,
        "figures": figures,
        "significance": significance,
        "estimated_cost_usd": estimate.get("estimated_cost_usd") if isinstance(estimate, Mapping) else None,
        "headline": headline,
        "subject": subject,
        "params": dict(params) if isinstance(params, Mapping) else None,
        **pulled,
    }


class BedrockRunNotifier(SnsNotifier):
    """
    An ``SnsNotifier`` for a DAG run's end whose templates can use ``bedrock`` (see the module docstring).

    :param state: ``success`` or ``failure``: what the callback reports.
    :param target_arn: SNS topic (or endpoint) ARN; empty once rendered: do not notify. (templated)
    :param xcom_task_ids: ``{name: task_id}`` of the XComs to gather into ``bedrock``; ``evaluation`` and
        ``promotion`` feed ``decision`` and ``figures``. (default: ``evaluate``, ``promote_model``)
    :param message: Message template. (default: headline + the summary as JSON)
    :param subject: Subject template (at most 100 ASCII characters once rendered). (default: the summary's)
    :param message_attributes: SNS message attributes, templated values. (default: ``state``, ``decision``)
    :param aws_conn_id: AWS connection. (default: ``aws_default``)
    :param region_name: AWS region. (default: the connection's)
    """

    def __init__(
        self,
        *,
        state: str,
        target_arn: str,
        xcom_task_ids: Mapping[str, str] | None = None,
        message: str = DEFAULT_MESSAGE,
        subject: str | None = DEFAULT_SUBJECT,
        message_attributes: dict | None = None,
        **kwargs: Any,
    ) -> None:
        if state not in ("success", "failure"):
            raise ValueError(f"state must be 'success' or 'failure', not {state!r}")
        super().__init__(
            target_arn=target_arn,
            message=message,
            subject=subject,
            message_attributes=dict(DEFAULT_ATTRIBUTES if message_attributes is None else message_attributes),
            **kwargs,
        )
        self.state = state
        self.xcom_task_ids = dict(DEFAULT_XCOM_TASK_IDS if xcom_task_ids is None else xcom_task_ids)

    def __call__(self, *args: Any) -> None:
        # Rendering replaces the template fields in place; render a copy so the notifier stays reusable.
        super(BedrockRunNotifier, copy.copy(self)).__call__(*args)

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        dag = context.get("dag")
        if jinja_env is None and dag is not None and not hasattr(dag, "get_template_env"):
            # dag.test() hands DAG callbacks the serialized DAG, which has no template environment.
            jinja_env = self.get_template_env(dag=None)
        super().render_template_fields(context, jinja_env)

    def notify(self, context: Any) -> None:
        if not self.target_arn:
            self.log.info("No SNS topic configured (target_arn rendered empty); not notifying.")
            return
        super().notify(context)

    def _update_context(self, context: Any) -> Any:
        context = super()._update_context(context)
        context["bedrock"] = run_summary(context, self.state, self.xcom_task_ids)
        return context


def success_notifier(topic_arn: str, **kwargs: Any) -> BedrockRunNotifier:
    """A DAG ``on_success_callback`` publishing the run's decision and figures to ``topic_arn`` (templated)."""
    return BedrockRunNotifier(state="success", target_arn=topic_arn, **kwargs)


def failure_notifier(topic_arn: str, **kwargs: Any) -> BedrockRunNotifier:
    """A DAG ``on_failure_callback`` publishing the failure (and what was decided before it) to ``topic_arn``."""
    return BedrockRunNotifier(state="failure", target_arn=topic_arn, **kwargs)


def sns_notifiers(topic_arn: str, **kwargs: Any) -> dict[str, BedrockRunNotifier]:
    """``{"on_success_callback": ..., "on_failure_callback": ...}`` for ``@dag(**sns_notifiers(topic))``."""
    return {
        "on_success_callback": success_notifier(topic_arn, **kwargs),
        "on_failure_callback": failure_notifier(topic_arn, **kwargs),
    }
