"""The conductors: each command calls one or two of these and renders what they return.

* :mod:`.inputs`   — the input step (manifests, state, refresh) and the plan;
* :mod:`.applying` — carrying out a plan under the state lock;
* :mod:`.editing`  — import and the ``state`` commands;
* :mod:`.starting` — ``init``'s starter files;
* :mod:`.reporting` — ``report``'s fold of manifests, state and history.
"""

from reconciler.workflow.applying import ApplyHooks, ApplyOptions, Prepared, apply_plan, prepare
from reconciler.workflow.editing import (
    Pushed,
    Recorded,
    import_upgrade,
    lock_to_release,
    push_state,
    read_history,
    recorded,
    release_lock,
    remove_customers,
)
from reconciler.workflow.inputs import (
    Inputs,
    PlanOptions,
    ReadsFor,
    StateSource,
    brief_read,
    bulk_building,
    load_desired,
    load_inputs,
    make_plan,
    observe,
    targets_in_no_manifest,
    utc_stamp,
)
from reconciler.workflow.reporting import make_report

__all__ = [
    "ApplyHooks", "ApplyOptions", "Inputs", "PlanOptions", "Prepared", "Pushed", "ReadsFor",
    "Recorded", "StateSource", "apply_plan", "brief_read", "bulk_building", "import_upgrade",
    "load_desired", "load_inputs", "lock_to_release", "make_plan", "make_report", "observe",
    "prepare", "push_state", "read_history", "recorded", "release_lock", "remove_customers",
    "targets_in_no_manifest", "utc_stamp",
]
