"""Which changes of a saved plan apply may carry out: those a fresh offline plan allows.

A saved plan is JSON anyone can edit between ``plan -out`` and ``apply PLAN``; the stale check
binds it to the state and manifests it was made from, and this binds each change to them too.
The rule: make the offline plan (same manifests, state and targets, no refresh, and neither
``spec.notBefore`` nor ``--batch`` applied, which only ever defer), then every change of the
saved plan must

1. be for a key the offline plan has (no customer or family added by hand),
2. not start an upgrade for a key whose ``notBefore`` is still ahead, and
3. have an action the offline plan's action for that key permits once a refresh has looked:

   ==============  ==========================================================================
   offline action  saved actions allowed (besides the offline action itself)
   ==============  ==========================================================================
   create          adopt (eligibility named an upgrade made elsewhere)
   resume          update (eligibility showed the earlier create went through)
   retry           adopt (a new upgrade exists)
   wait            update, retry (the status moved on, or the upgrade failed); an update keeps
                   the recorded upgrade id
   noop            update, only for a completed record not yet verified (the refresh verified
                   it); it keeps the recorded upgrade id
   forget          nothing else
   ==============  ==========================================================================

Every row is something ``plan.make`` can produce for that record when a refresh saw more, so a
plan saved after a refresh always passes; a create for a key recorded completed (offline noop),
a change for a customer in no manifest, or a forget of a wanted key does not. Saved entries that
are not changes (blocked, wait, noop) make apply do nothing and are not checked; an offline
change the saved plan leaves out only means apply does less.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model import Desired
from reconciler.observed import Observed
from reconciler.plan import ACTIONS, Action, Change, Plan, make
from reconciler.state import Record, RecordStatus, State

_ALSO_ALLOWED: Mapping[Action, frozenset[Action]] = {
    Action.CREATE: frozenset({Action.ADOPT}),
    Action.RESUME: frozenset({Action.UPDATE}),
    Action.RETRY: frozenset({Action.ADOPT}),
    Action.WAIT: frozenset({Action.UPDATE, Action.RETRY}),
    Action.NOOP: frozenset({Action.UPDATE}),
}

#: Offline actions whose allowed update must keep the recorded upgrade id.
_SAME_UPGRADE = frozenset({Action.WAIT, Action.NOOP})


#: A "now" after every notBefore: the offline plan shows each key's action before deferral.
_AFTER_EVERY_SCHEDULE = "9999-12-31T23:59:59Z"


def first_unbound(saved: Plan, desired: Desired, state: State | None, now: str
                  ) -> tuple[Change, str] | None:
    """The first change of ``saved`` the offline plan does not allow, and why; else None.

    ``now`` is an ISO-8601 UTC stamp (``...Z``), compared with each key's ``notBefore``.
    """
    offline = make(desired, state, Observed.none(), created_at=_AFTER_EVERY_SCHEDULE,
                   targets=saved.targets)
    offline_by_key = {c.key: c for c in offline.changes}
    wanted = desired.by_key()
    records = state.records if state is not None else {}
    for change in saved.changes:
        if not change.action.is_change:
            continue
        upgrade = wanted.get(change.key)
        if change.action.starts_upgrade and upgrade is not None and \
                upgrade.not_before is not None and upgrade.not_before > now:
            return change, f"it is scheduled not before {upgrade.not_before}"
        why = _why_not(change, offline_by_key.get(change.key), records.get(change.key))
        if why is not None:
            return change, why
    return None


def _why_not(change: Change, offline: Change | None, record: Record | None) -> str | None:
    if offline is None:
        return "no manifest (within the plan's targets) asks for it"
    if change.action is offline.action:
        return None
    if change.action not in _ALSO_ALLOWED.get(offline.action, frozenset()):
        return (f'a plan of the same state and manifests lists it as '
                f'"{ACTIONS[offline.action].title}"')
    if offline.action is Action.NOOP and (record is None or record.status is not
                                          RecordStatus.COMPLETED or record.verified):
        return "it is recorded as upgraded and verified"
    if offline.action in _SAME_UPGRADE and record is not None and \
            change.upgrade_id != record.upgrade_id:
        return f"its upgrade id is not the recorded upgrade {record.upgrade_id}"
    return None
