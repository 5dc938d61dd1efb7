"""The screening campaign as a jobflow Flow, for users' own jobflow scripts.

``hts submit`` sends this same Flow to FireWorks; it is built in :mod:`hts.workflow` from the stage table
(flows depends on hts, never the reverse). Run it locally::

    from jobflow import run_locally
    from flows.campaign import campaign_flow
    from hts.config import load_config

    run_locally(campaign_flow(load_config("configs/demo.yaml")))

or hand it to any jobflow manager (``jobflow.managers.fireworks.flow_to_workflow``, jobflow-remote).
"""

from hts.workflow import campaign_flow, expand_job, generate_job, stage_job

__all__ = ["campaign_flow", "expand_job", "generate_job", "stage_job"]
