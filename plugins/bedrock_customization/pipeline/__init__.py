"""The training pipeline both training DAGs compose: plan, data, training, serving, evaluation, release, teardown.

See ``docs/architecture.md``. :mod:`.plan` is the pure planner, :mod:`.params` the shared trigger-form params,
:mod:`.tasks` the TaskFlow glue and :mod:`.stages` the task-group factories.
"""
