"""The campaign's stages: one module each deciding candidates' fates, and the table that orders them.

A stage module gives ``query(ctx)`` (the store criteria of the documents it reads, or None) and
``decide(ctx, docs)`` (yields :class:`hts.stages.base.Verdicts`); it never writes to the store.
:mod:`hts.stages.table` is the single place that names the stages, their order, their input statuses
and switches; ``hts run``, the jobflow Flow, ``hts report`` and ``hts resume`` are derived from it.
"""
