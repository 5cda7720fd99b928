"""A release's way from its gates to a recipient: staged → approved by the people the policy
names → published with its terms → exported to named recipients → revoked or expired.

Reads no private values: it moves synthetic rows (post-processing of the DP model) and public
documents, and records who decided what (``records``). A release whose gates passed is
staged under ``internal/staged_release/`` (internal, never handed out); publishing writes
``release/`` in one rename, so a reader never sees half a release. A blocked or rejected
run is never published: a new release needs a new, charged fit.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from synth_pipeline.evaluation.release import INTERNAL_DIR, NON_DP_DECISION, RELEASE_DIR, STAGED_DIR
from synth_pipeline.governance.policy import GovernancePolicy
from synth_pipeline.governance.records import GovernanceError, GovernanceRecords, ReleaseState, utc_now
from synth_pipeline.governance.terms import render_terms, revoked_notice, terms_of_release

PUBLIC_DOCUMENTS = "public_documents.json"  # the staged public documents, before terms and approvals


def _account() -> str:
    """The operating-system account and host that recorded a decision: names given with --by
    are not authenticated, so the records keep who typed them (internal, never published)."""
    import getpass
    import socket

    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return "unknown"


def record_blocked(records: GovernanceRecords, *, run_id: str, release_id: str, dataset: str, partition_key: str,
                   failed_gates: list[str]) -> None:
    """A model whose first audit refused release: recorded (never deleted) so that nobody can
    approve it and no later run can stage it, even after retention removed its decision file."""
    records.append_if(run_id=run_id, event="blocked", detail={"failed_gates": failed_gates}, release_id=release_id,
                      dataset=dataset, partition_key=partition_key, check=None)


def earlier_refusal(records: GovernanceRecords, release_id: str) -> str | None:
    """Why the model of this run folder may never be released (its first audit blocked it, or a
    person rejected it), or None."""
    for state in records.states_of_release(release_id):
        blocked = state.last("blocked")
        if blocked:
            return ("not released: this model's first audit failed its gates ("
                    f"{', '.join(blocked['detail'].get('failed_gates') or [])}); a re-audit never releases it; a new "
                    "release needs a new, charged fit")
        rejected = state.last("rejected")
        if rejected:
            return (f"not released: {rejected['actor']} rejected this model's release at {rejected['at']}; a new "
                    "release needs a new, charged fit")
    return None


def record_staged(records: GovernanceRecords, *, run_id: str, release_id: str, dataset: str, partition_key: str,
                  facts: dict) -> None:
    """A release whose gates passed, waiting under ``internal/staged_release/``. ``facts`` are
    what an approver is shown and what the approval records: the run, ε, δ, generator, the
    gates' names and verdicts, the run folder and the internal review's paths. Recorded once
    per run: a retried step records nothing new."""
    state = records.state(run_id)
    if state is not None and state.staged is not None:
        return
    records.append_if(run_id=run_id, event="staged", detail=facts, check=None, release_id=release_id,
                      dataset=dataset, partition_key=partition_key)


def _decidable(state: ReleaseState | None, run_id: str, action: str) -> None:
    """Refuse approving or rejecting anything but a release that is waiting for it."""
    if state is None:
        raise GovernanceError(f"no release is recorded for run {run_id}")
    status = state.status
    if status == "blocked":
        failed = state.events[0]["detail"].get("failed_gates") or []
        raise GovernanceError(f"cannot {action} run {run_id}: its release gates failed ({', '.join(failed)}); a "
                              "blocked model is never released. A new release needs a new, charged fit")
    if status == "rejected":
        who = next(e for e in state.events if e["event"] == "rejected")
        raise GovernanceError(f"cannot {action} run {run_id}: {who['actor']} rejected it at {who['at']}; a rejected "
                              "release is never published. A new release needs a new, charged fit")
    if status != "awaiting approval":
        raise GovernanceError(f"cannot {action} run {run_id}: it is {status} already; nothing was changed")


def approve(records: GovernanceRecords, policy: GovernancePolicy, *, run: str, by: str, note: str = "") -> dict:
    """Record ``by``'s approval of a staged release (append-only, with what they were shown)
    and publish it once the policy's number of distinct approvers is reached."""
    by = (by or "").strip()
    run_id = records.find(run)

    def allowed(state: ReleaseState | None) -> None:
        _decidable(state, run_id, "approve")
        if not policy.approval.may_approve(by):
            names = ", ".join(policy.approval.approvers) or "nobody"
            raise GovernanceError(f"{by or 'an empty name'} may not approve releases: the governance policy "
                                  f"({policy.source}) names {names}; nothing was recorded")
        if any(a["actor"] == by for a in state.approvals):
            raise GovernanceError(f"{by} approved run {run_id} already; the next approval must come from another "
                                  "approver. Nothing was recorded")

    state = records.state(run_id)
    seen = {k: (state.staged or {}).get("detail", {}).get(k) for k in (
        "epsilon", "delta", "generator", "gates", "privacy_unit", "internal_review", "folder")} if state else {}
    state = records.append_if(run_id=run_id, event="approved", actor=by, note=note, check=allowed,
                              detail={"seen": seen, "required": policy.approval.required, "account": _account()})
    published = publish_if_approved(records, policy, run_id=run_id)
    return {"run_id": run_id, "release_id": state.release_id, "approved_by": by,
            "approvals": len(state.approvals), "required": policy.approval.required,
            "status": records.state(run_id).status, "published": published}


def reject(records: GovernanceRecords, policy: GovernancePolicy, *, run: str, by: str, note: str) -> dict:
    """Record a rejection: the staged release is never published (its staged copy is removed)."""
    by, note = (by or "").strip(), (note or "").strip()
    if not note:
        raise GovernanceError("say why the release is rejected (--note); nothing was recorded")
    run_id = records.find(run)

    def allowed(state: ReleaseState | None) -> None:
        _decidable(state, run_id, "reject")
        if not policy.approval.may_approve(by):
            raise GovernanceError(f"{by or 'an empty name'} may not decide on releases: the governance policy "
                                  f"({policy.source}) names {', '.join(policy.approval.approvers) or 'nobody'}")

    state = records.append_if(run_id=run_id, event="rejected", actor=by, note=note, check=allowed,
                              detail={"account": _account()})
    shutil.rmtree(_folder(state) / INTERNAL_DIR / STAGED_DIR, ignore_errors=True)
    return {"run_id": run_id, "release_id": state.release_id, "status": state.status, "rejected_by": by}


def _folder(state: ReleaseState) -> Path:
    return Path((state.staged or {}).get("detail", {}).get("folder", ""))


NOTES_STAY_INTERNAL = "approvers' notes stay in the internal records: they may quote the internal review"


def publish_if_approved(records: GovernanceRecords, policy: GovernancePolicy, *, run_id: str) -> dict | None:
    """Publish a staged release whose approvals meet the policy: the paths written, or None
    while it still waits (or is not waiting at all). Publishing is claimed first (the
    ``published`` event, recorded only while the release still waits: a rejection recorded
    before it wins, and none can follow it), then written; a publication whose writing was
    interrupted is finished by the next call."""
    state = records.state(run_id)
    if state is None:
        return None
    if state.status == "published" and not (_folder(state) / RELEASE_DIR).is_dir():
        return _write(state, state.last("published")["detail"])  # interrupted: finish it
    if state.status != "awaiting approval" or len(state.approvals) < policy.approval.required:
        return None
    now = datetime.now(timezone.utc)
    approvals = [{"by": a["actor"], "at": a["at"]} for a in state.approvals]
    expires = (now + timedelta(days=policy.terms.expiry_days)).isoformat(timespec="seconds")
    detail = {"expires_at": expires, "recipients": list(policy.terms.recipients),
              "terms": terms_of_release(policy.terms, published_at=now.isoformat(timespec="seconds"),
                                        expires_at=expires),
              "approval": {"required": policy.approval.required, "approvals": approvals,
                           "note": ("approved by the people named, after reading the internal review: like the "
                                    "gates' decision, theirs is a non-DP function of the data; " + NOTES_STAY_INTERNAL)
                           if approvals else "the governance policy requires no approval: published when every "
                                             "gate passed"},
              "retention_days": policy.retention.as_dict()}

    def still_waiting(current: ReleaseState | None) -> None:
        if current is None or current.status != "awaiting approval":
            raise _NotWaiting()
    try:
        claimed = records.append_if(run_id=run_id, event="published", detail=detail, check=still_waiting)
    except _NotWaiting:
        return None  # another approver's call claimed it, or a rejection came first
    return _write(claimed, detail)


class _NotWaiting(GovernanceError):
    """The release stopped waiting between reading and claiming it."""


def _write(state: ReleaseState, detail: dict) -> dict:
    """Write ``release/`` from the staged copy in one rename, then drop the staged copy."""
    folder = _folder(state)
    staged, release = folder / INTERNAL_DIR / STAGED_DIR, folder / RELEASE_DIR
    result = {"folder": str(release), "csv": str(release / "synthetic.csv"), "expires_at": detail["expires_at"]}
    if release.is_dir():
        return result
    if not staged.is_dir():
        raise GovernanceError(f"the staged copy of {state.release_id} is gone ({staged}); it cannot be published. "
                              "A new release needs a new, charged fit")
    terms = detail["terms"]
    docs = json.loads((staged / PUBLIC_DOCUMENTS).read_text(encoding="utf-8"))
    docs["model_card"].update({"release_id": state.release_id, "approval": detail["approval"], "terms_of_use": terms})
    docs["privacy_report"]["retention_days"] = detail["retention_days"]
    from synth_pipeline.reporting.public_release import render_public_documents

    tmp = folder / f".release-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name in ("synthetic.csv", "synthetic.parquet"):
            shutil.copyfile(staged / name, tmp / name)
        files = {**render_public_documents(docs), "TERMS.md": render_terms(terms, card=docs["model_card"])}
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        manifest = {"release_id": state.release_id, "run_id": state.run_id, "published_at": terms["published_at"],
                    "expires_at": terms["expires_at"], "rows": docs["model_card"]["synthetic_rows"]["rows"],
                    "generator": docs["model_card"]["generator"],
                    "differentially_private": docs["model_card"]["guarantee"]["differentially_private"],
                    "gates_passed": [g["gate"] for g in (state.staged["detail"].get("gates") or []) if g["passed"]],
                    "decision": NON_DP_DECISION, "approval": detail["approval"], "read_first": "TERMS.md",
                    "files": sorted([*files, "synthetic.csv", "synthetic.parquet", "release.json"])}
        (tmp / "release.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        os.rename(tmp, release)  # one step: a reader sees no release, or all of it
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not release.is_dir():
            raise
    shutil.rmtree(staged, ignore_errors=True)
    return result


def revoke(records: GovernanceRecords, *, run: str, by: str, reason: str) -> dict:
    """Mark a published release revoked, in the records and in its documents (``REVOKED.md``,
    ``release.json``, the model card). ε stays spent; recipients are the ``exported`` events."""
    by, reason = (by or "").strip(), (reason or "").strip()
    if not by or not reason:
        raise GovernanceError("say who revokes (--by) and why (--reason); nothing was recorded")
    run_id = records.find(run)

    def allowed(state: ReleaseState | None) -> None:
        # A release retention deleted can still be revoked: copies handed out live on.
        if state is None or state.status not in ("published", "deleted"):
            raise GovernanceError(f"cannot revoke run {run_id}: it is {state.status if state else 'unknown'}, not "
                                  "published (reject a release that waits for approval)")

    state = records.append_if(run_id=run_id, event="revoked", actor=by, note=reason, check=allowed,
                              detail={"account": _account()})
    release = _folder(state) / RELEASE_DIR
    recipients = sorted({e["detail"].get("recipient") for e in state.events if e["event"] == "exported"})
    if not release.is_dir():
        return {"run_id": run_id, "release_id": state.release_id, "status": state.status, "recipients": recipients,
                "note": f"the release folder {release} is gone (retention or by hand); the revocation is recorded"}
    revoked = {"revoked_at": state.events[-1]["at"], "by": by, "reason": reason}
    for name in ("release.json", "model_card.json"):
        path = release / name
        if path.is_file():
            doc = json.loads(path.read_text(encoding="utf-8"))
            path.write_text(json.dumps({"REVOKED": revoked, **doc}, indent=2, ensure_ascii=False), encoding="utf-8")
    notice = revoked_notice(revoked, release_id=state.release_id)
    (release / "REVOKED.md").write_text(notice, encoding="utf-8")
    for name in ("TERMS.md", "model_card.md"):
        path = release / name
        if path.is_file():
            path.write_text(notice + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return {"run_id": run_id, "release_id": state.release_id, "status": state.status, "recipients": recipients}


def export(records: GovernanceRecords, *, run: str, to: str | Path, recipient: str) -> dict:
    """Copy a published release to ``to`` for a recipient the terms name (recorded). Refused
    for a release not published, revoked, deleted or past its expiry."""
    recipient = (recipient or "").strip()
    run_id = records.find(run)
    now = utc_now()

    def allowed(state: ReleaseState | None) -> None:
        if state is None or state.status != "published":
            raise GovernanceError(f"cannot hand out run {run_id}: it is {state.status if state else 'unknown'}, "
                                  "not a published release")
        if state.expires_at and now >= state.expires_at:
            raise GovernanceError(f"cannot hand out run {run_id}: its terms expired at {state.expires_at}; an "
                                  "expired release is not given out again. Publish a new release")
        allowed_to = state.last("published")["detail"].get("recipients") or []
        if not allowed_to:
            raise GovernanceError(f"the terms of run {run_id} name no recipient; name them in the governance "
                                  "policy's terms.recipients before a release is handed out. Nothing was copied")
        if recipient not in allowed_to:
            raise GovernanceError(f"{recipient or 'an empty name'} is not a recipient named in the release's terms "
                                  f"({', '.join(allowed_to)}); nothing was copied")
        if not (_folder(state) / RELEASE_DIR).is_dir():
            raise GovernanceError(f"the release folder of run {run_id} is gone; nothing was copied")

    state = records.state(run_id)
    allowed(state)
    target = Path(to) / state.release_id.replace("/", "__")
    if target.exists():
        raise GovernanceError(f"{target} exists already; choose an empty folder. Nothing was copied")
    # Recorded first (with the checks, in one transaction): a copy is never made without its record.
    records.append_if(run_id=run_id, event="exported", actor=recipient, detail={"recipient": recipient,
                                                                                "to": str(target)}, check=allowed)
    shutil.copytree(_folder(state) / RELEASE_DIR, target)
    return {"run_id": run_id, "release_id": state.release_id, "recipient": recipient, "copied_to": str(target)}
