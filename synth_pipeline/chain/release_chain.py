"""The one owner of the release path: read → raw-data gate → profile → PII scan → resolve
config (config and budget gates) → split → train → sample → evaluate (audit gates) →
dp_guarantee → internal documents → release.

``ReleaseChain`` holds what every stage needs (schema, ledger, release policy, folders,
the instance secret) and exposes each stage as a method returning a typed record
(``chain.results``). The Dagster assets call one method each; ``run`` calls them all in
order and stops at the first failed gate (``GateFailed``), as the Dagster job does. What
each stage reads, whether it is DP and what it charges: docs/architecture.md.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from synth_pipeline.chain import gates
from synth_pipeline.chain.configuring import resolve_config
from synth_pipeline.chain.results import (
    Documents, Drop, Evaluation, PiiReport, Profile, Release, ResolvedConfig, Split, SyntheticTable, TrainedModel,
    Verdict)
from synth_pipeline.chain.training import sample_synthetic, train_model
from synth_pipeline.evaluation.gates import AuditPolicy
from synth_pipeline.evaluation.release import INTERNAL_DIR, RELEASE_DIR, STAGED_DIR, record_decision, stage_release
from synth_pipeline.governance.policy import GovernancePolicy
from synth_pipeline.privacy.config import TrainingPlan
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.schema import TableSchema
from synth_pipeline.synthesizers.registry import generator_info
from synth_pipeline.threads import thread_budget

log = logging.getLogger("synth_pipeline.chain")


def safe_name(key: str) -> str:
    """A folder name for a partition key (file names may hold spaces or unicode)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")
    return cleaned or "partition"


@dataclass(frozen=True, kw_only=True)
class ChainRun:
    """Every stage's record of one completed run (``release`` is None only when the caller
    asked to stop before releasing)."""

    drop: Drop
    profile: Profile
    pii: PiiReport
    resolved: ResolvedConfig
    model: TrainedModel
    synthetic: SyntheticTable
    evaluation: Evaluation
    documents: Documents
    release: Release | None
    verdicts: tuple[Verdict, ...]


def _within_thread_budget(stage):
    """Run a heavy stage with the chain's thread budget (``threads.thread_budget``)."""
    @functools.wraps(stage)
    def wrapped(self, *args, **kwargs):
        with thread_budget(self.threads):
            return stage(self, *args, **kwargs)
    return wrapped


class ReleaseChain:
    """The stages of one dataset's release path. Dagster-free.

    ``outputs_dir`` holds one folder per run (``<dataset>/<partition>/<run id[:8]>``) with
    ``model/``, ``internal/`` and, once every gate passed, ``release/``. ``secret`` keys the
    HMAC of the drop's identity in the internal model card (never released).
    """

    def __init__(self, *, schema: TableSchema, ledger: PrivacyLedger, outputs_dir: str | Path,
                 policy: AuditPolicy | Callable[[], AuditPolicy] | None = None, secret: bytes = b"",
                 schema_path: str | Path | None = None, threads: int | None = None,
                 governance: GovernancePolicy | None = None):
        self.schema = schema
        self.governance = governance or GovernancePolicy()  # approvals, terms, retention (defaults: none required)
        self.threads = threads  # the numeric libraries' threads in the heavy stages (None: theirs)
        self.ledger = ledger
        self.outputs_dir = Path(outputs_dir)
        self._policy = policy or AuditPolicy()  # a callable is read when the evaluation needs it
        self.secret = secret
        self.schema_path = schema_path

    @functools.cached_property
    def records(self):
        """Release events and deletions, in the ledger's own store (``governance.records``)."""
        from synth_pipeline.governance.records import GovernanceRecords

        return GovernanceRecords(self.ledger.store)

    @property
    def policy(self) -> AuditPolicy:
        return self._policy() if callable(self._policy) else self._policy

    def say(self, message: str) -> None:
        """One progress line (stage names, counts, DP facts: never a raw value), by logging:
        the CLI's stderr and, through Dagster's managed python loggers, the run log."""
        log.info("%s", message)

    def release_id(self, model: TrainedModel) -> str:
        """The release's name: the model's run folder under the outputs folder."""
        return model.run_folder.relative_to(self.outputs_dir).as_posix()

    def run_folder(self, partition_key: str, run_id: str) -> Path:
        return self.outputs_dir / safe_name(self.schema.dataset) / safe_name(partition_key) / run_id[:8]

    # -- stages ---------------------------------------------------------------------------
    def read(self, path: str | Path, *, name: str | None = None) -> Drop:
        """Reads private values (input): the drop typed by the public schema."""
        from synth_pipeline.data_io import read_drop

        path = Path(path)
        drop = Drop(name=name or path.name, path=path, frame=read_drop(path, self.schema))
        self.say(f"read {drop.name}: {len(drop.frame.columns)} columns")
        return drop

    def check_raw(self, drop: Drop) -> Verdict:
        return gates.raw_data_expectations(drop, self.schema)

    def profile(self, drop: Drop) -> Profile:
        """Public schema facts plus n (private, internal: input checks only)."""
        from synth_pipeline.profiling import profile_dataset

        return Profile.from_dict(profile_dataset(drop.frame, self.schema))

    def scan_pii(self, drop: Drop) -> PiiReport:
        """Reads a sample of values, not DP; the gate only."""
        from synth_pipeline.pii import scan

        return PiiReport.from_dict(scan(drop.frame, self.schema))

    def check_pii(self, pii: PiiReport) -> Verdict:
        return gates.no_direct_identifiers_in_training(pii)

    def resolve(self, profile: Profile, *, preset: str = "balanced", **fields) -> ResolvedConfig:
        """Public facts only: the user's fields (None: not given) over the recommendation."""
        config, validation = resolve_config(profile.as_dict(), self.schema, preset=preset, **fields)
        plan = TrainingPlan(**validation.plan) if validation.plan else None
        self.say(f"config: {config.generator} at ε={config.epsilon:g} ({'valid' if validation.is_valid else 'invalid'})")
        return ResolvedConfig(config=config, validation=validation, plan=plan)

    def check_config(self, resolved: ResolvedConfig) -> Verdict:
        return gates.config_valid(resolved)

    def check_budget(self, resolved: ResolvedConfig) -> Verdict:
        return gates.budget_available(resolved, dataset=self.schema.dataset, ledger=self.ledger)

    def split(self, drop: Drop, resolved: ResolvedConfig) -> Split:
        """Reads no values but the privacy unit's column: each row, or each person with all
        its rows, held out on its own secret coin."""
        from synth_pipeline.privacy.contribution import draw_unit_holdout, privacy_unit_of

        unit = privacy_unit_of(self.schema, resolved.config.rows_per_unit)
        return Split(holdout_mask=draw_unit_holdout(drop.frame, unit,
                                                    holdout_fraction=resolved.config.holdout_fraction))

    @_within_thread_budget
    def train(self, drop: Drop, split: Split, resolved: ResolvedConfig, *, run_key: str, partition_key: str,
              run_id: str, on_epoch: Callable | None = None) -> TrainedModel:
        """DP: fits the generator on the training split, charged to the ledger before training."""
        train, _ = split.apply(drop)
        self.say(f"training {resolved.config.generator} " +
                 (f"(DP, ε={resolved.config.epsilon:g} reserved first)" if generator_info(resolved.config.generator).is_dp
                  else "(NOT DP: charges nothing, never released)"))
        result = train_model(train=train, schema=self.schema, config=resolved.config, ledger=self.ledger,
                             run_key=run_key, partition_key=partition_key,
                             model_dir=self.run_folder(partition_key, run_id) / "model",
                             drop_rows=len(drop.frame), plan=resolved.plan, on_epoch=on_epoch)
        model = TrainedModel.from_dict(result)
        spent = model.privacy.get("epsilon_spent")
        self.say(f"trained {model.generator}: " + (f"ε={spent:.4g} spent" if spent is not None else "NOT DP"))
        return model

    @_within_thread_budget
    def sample(self, model: TrainedModel, resolved: ResolvedConfig) -> SyntheticTable:
        """Post-processing of the DP model: reads no private data. Written as an internal
        candidate (``internal/candidate/``) until the gates pass."""
        frame = sample_synthetic(model.model_dir, rows=model.synthetic_rows, seed=resolved.config.seed)
        frame, watermark = self._watermark(frame, model)
        candidate = model.run_folder / INTERNAL_DIR / "candidate"
        candidate.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(candidate / "synthetic.parquet", index=False)
        frame.to_csv(candidate / "synthetic.csv", index=False)
        self.say(f"sampled {len(frame)} synthetic rows")
        return SyntheticTable(frame=frame, candidate_dir=candidate, watermark=watermark)

    def _watermark(self, frame, model: TrainedModel):
        """The keyed watermark (``synth_pipeline.watermark``), before the gates judge the table:
        post-processing of DP output under a key derived from the instance secret and the run
        folder, independent of the data, so it costs no ε. Returns the marked rows and what the
        model card says of the mark (never the key). No secret (a scratch chain): no mark."""
        from synth_pipeline.privacy.preprocessing import schema_with_statistics
        from synth_pipeline.watermark import SCHEME, embed, release_key, watermarkable_columns

        schema = schema_with_statistics(self.schema, model.dp_statistics)
        columns = watermarkable_columns(schema)
        if not self.secret or not columns:
            return frame, {"watermarked": False, "reason": "no column can carry a mark without a visible change"
                           if self.secret else "no instance secret"}
        marked = embed(frame, schema, key=release_key(self.secret, self.release_id(model)))
        return marked, {"watermarked": True, "columns": columns, "scheme": SCHEME,
                        "check": "synth-pipeline watermark check --input FILE (with this instance's secret)",
                        "privacy": "post-processing of the DP model under a key independent of the data: no ε"}

    @_within_thread_budget
    def evaluate(self, drop: Drop, split: Split, synthetic: SyntheticTable, model: TrainedModel,
                 resolved: ResolvedConfig, *, policy: AuditPolicy | None = None, run_id: str = "",
                 partition_key: str = "") -> Evaluation:
        """Reads private values, NOT DP: utility and attack metrics against the holdout, and
        the audit gates. The model's release decision is this first evaluation's; a refusal is
        recorded with the run (``run_id``) so that nobody can approve it later."""
        from synth_pipeline.evaluation.suite import evaluate_synthetic
        from synth_pipeline.privacy.preprocessing import schema_with_statistics

        train, holdout = split.apply(drop)
        self.say("evaluating utility and attacks against the holdout (internal, not DP)")
        metrics = evaluate_synthetic(real_train=train, holdout=holdout, synthetic=synthetic.frame,
                            schema=schema_with_statistics(self.schema, model.dp_statistics),
                            policy=policy or self.policy, seed=resolved.config.seed)
        decision = record_decision(metrics, generator=model.generator, is_dp=model.is_dp, folder=model.run_folder)
        if run_id and not decision["released"] and not decision["recorded_earlier"]:
            from synth_pipeline.governance.releases import record_blocked

            record_blocked(self.records, run_id=run_id, release_id=self.release_id(model), dataset=self.schema.dataset,
                           partition_key=partition_key,
                           failed_gates=[g["gate"] for g in decision["gates"] if not g["passed"]]
                           + ([] if model.is_dp else ["dp_guarantee"]))
        evaluation = Evaluation(metrics=metrics, verdicts=gates.audit_verdicts(metrics))
        self.say(f"evaluation: {sum(v.passed for v in evaluation.verdicts)} of {len(evaluation.verdicts)} gates passed")
        return evaluation

    def check_dp(self, model: TrainedModel) -> Verdict:
        return gates.dp_guarantee(model)

    @_within_thread_budget
    def document(self, *, drop: Drop, split: Split, profile: Profile, pii: PiiReport, resolved: ResolvedConfig,
                 model: TrainedModel, synthetic: SyntheticTable, evaluation: Evaluation, partition_key: str,
                 run_id: str, run_events: list[dict] | None = None, verdicts: list[Verdict] | None = None,
                 privacy_audit: dict | None = None) -> Documents:
        """The internal review (privacy report, compliance mapping, model card, narrative,
        plots) under ``internal/``. Reads private values only for the plots' real side (the
        holdout over public bins): not DP, internal, labelled so."""
        from synth_pipeline.privacy.preprocessing import schema_with_statistics
        from synth_pipeline.reporting.documents import build_documents, source_facts, write_documents

        _, holdout = split.apply(drop)
        dataset = self.schema.dataset
        docs = build_documents(
            schema=schema_with_statistics(self.schema, model.dp_statistics), profile=profile.as_dict(),
            pii=pii.as_dict(), config=resolved.config.as_dict(), model=model.as_dict(), audit=evaluation.metrics,
            ledger_after=self.ledger.spend(dataset).as_dict(), ledger_history=self.ledger.history(dataset),
            real_holdout=holdout, synthetic=synthetic.frame, partition_key=partition_key, run_id=run_id,
            run_events=run_events or [], extra_gates=[{"gate": v.gate, "passed": v.passed} for v in verdicts or []],
            privacy_audit=privacy_audit, governance=self.governance.as_dict(),
            source=source_facts(drop_path=drop.path, schema_path=self.schema_path, secret=self.secret))
        paths = write_documents(docs, model.run_folder)
        self.say(f"internal review written to {model.run_folder / INTERNAL_DIR}")
        return Documents(paths={k: Path(v) for k, v in paths.items()},
                         privacy_score=docs["privacy_report"]["privacy_score"]["score"],
                         risk_level=docs["privacy_report"]["safety"]["risk_level"],
                         compliance={k: v["status"] for k, v in docs["compliance"]["frameworks"].items()})

    def release(self, *, synthetic: SyntheticTable, evaluation: Evaluation, model: TrainedModel,
                resolved: ResolvedConfig, partition_key: str, run_id: str) -> Release:
        """Stage the synthetic table and the public documents (DP and declared-public facts
        only) under ``internal/staged_release/`` when the model's recorded decision allows it
        (raises ``evaluation.release.ReleaseRefused`` otherwise, staging nothing), then publish
        it to ``release/`` with its terms once the approvals the governance policy requires are
        recorded: at once when it requires none, else by ``governance.releases.approve``."""
        from synth_pipeline.evaluation.release import ReleaseRefused
        from synth_pipeline.governance.releases import earlier_refusal, publish_if_approved, record_staged
        from synth_pipeline.privacy.preprocessing import schema_with_statistics
        from synth_pipeline.reporting.public_release import build_public_documents

        release_id = self.release_id(model)
        earlier = self.records.by_release(release_id)
        if earlier is not None:
            # Staged already (a retried step, or a later run re-materializing `released`):
            # nothing new is staged; its approvals and status are the first staging's.
            return self._release_state(earlier, rows=len(synthetic.frame))
        refused = earlier_refusal(self.records, release_id)
        if refused:  # recorded for good: holds even after retention removed the decision file
            raise ReleaseRefused(refused)
        public = build_public_documents(schema=schema_with_statistics(self.schema, model.dp_statistics),
                                        config=resolved.config.as_dict(), model=model.as_dict(),
                                        ledger_after=self.ledger.spend(self.schema.dataset).as_dict(),
                                        partition_key=partition_key, run_id=run_id)
        if synthetic.watermark is not None:
            public["model_card"]["watermark"] = synthetic.watermark
        stage_release(synthetic.frame, evaluation.metrics, generator=model.generator, is_dp=model.is_dp,
                      folder=model.run_folder, public_documents=public)
        privacy = model.privacy
        record_staged(self.records, run_id=run_id, release_id=release_id, dataset=self.schema.dataset,
                      partition_key=partition_key, facts={
            "epsilon": privacy.get("epsilon_spent"), "delta": privacy.get("delta"), "generator": model.generator,
            "privacy_unit": public["model_card"]["guarantee"]["privacy_unit"], "rows": len(synthetic.frame),
            "gates": [{"gate": v.gate, "passed": v.passed} for v in evaluation.verdicts],
            "folder": str(model.run_folder), "internal_review": str(model.run_folder / INTERNAL_DIR)})
        publish_if_approved(self.records, self.governance, run_id=run_id)
        release = self._release_state(self.records.state(run_id), rows=len(synthetic.frame))
        if release.published:
            self.say(f"released {release.rows} rows to {release.csv.parent}")
        else:
            self.say(f"staged {release.release_id}: waiting for {release.approvals_required} approval(s) "
                     f"(synth-pipeline approve {release.release_id.rsplit('/', 1)[-1]} --by NAME)")
        return release

    def _release_state(self, state, *, rows: int) -> Release:
        """The Release record of a staged or published run."""
        folder = Path(state.staged["detail"]["folder"])
        required = self.governance.approval.required
        common = {"rows": rows, "run_id": state.run_id, "release_id": state.release_id,
                  "approvals_required": required}
        if state.status != "published":
            staged = folder / INTERNAL_DIR / STAGED_DIR
            return Release(paths={"csv": staged / "synthetic.csv", "folder": staged}, status=state.status, **common)
        published = folder / RELEASE_DIR
        paths = {p.name: p for p in published.iterdir()} if published.is_dir() else {}  # gone: retention or by hand
        paths.update({"csv": published / "synthetic.csv", "parquet": published / "synthetic.parquet",
                      "manifest": published / "release.json"})
        return Release(paths=paths, **common)

    # -- the whole path -----------------------------------------------------------------
    def run(self, path: str | Path, *, run_id: str, partition_key: str | None = None, preset: str = "balanced",
            **fields) -> ChainRun:
        """Every stage in order, each gate blocking: the first failed gate raises
        ``GateFailed`` (nothing public is written; what was charged stays charged)."""
        verdicts: list[Verdict] = []

        def gate(verdict: Verdict) -> None:
            verdicts.append(verdict)
            self.say(gates.describe(verdict))
            if not verdict.passed:
                raise gates.GateFailed(verdict)

        drop = self.read(path)
        partition_key = partition_key or drop.name
        gate(self.check_raw(drop))
        profile = self.profile(drop)
        pii = self.scan_pii(drop)
        gate(self.check_pii(pii))
        resolved = self.resolve(profile, preset=preset, **fields)
        gate(self.check_config(resolved))
        gate(self.check_budget(resolved))
        split = self.split(drop, resolved)
        model = self.train(drop, split, resolved, run_key=f"{run_id}:{partition_key}", partition_key=partition_key,
                           run_id=run_id)
        synthetic = self.sample(model, resolved)
        evaluation = self.evaluate(drop, split, synthetic, model, resolved, run_id=run_id,
                                   partition_key=partition_key)
        for verdict in evaluation.verdicts:
            gate(verdict)
        documents = self.document(drop=drop, split=split, profile=profile, pii=pii, resolved=resolved, model=model,
                                  synthetic=synthetic, evaluation=evaluation, partition_key=partition_key,
                                  run_id=run_id, verdicts=verdicts)
        gate(self.check_dp(model))  # after the internal review, as in the Dagster job: a twin is documented
        release = self.release(synthetic=synthetic, evaluation=evaluation, model=model, resolved=resolved,
                               partition_key=partition_key, run_id=run_id)
        return ChainRun(drop=drop, profile=profile, pii=pii, resolved=resolved, model=model, synthetic=synthetic,
                        evaluation=evaluation, documents=documents, release=release, verdicts=tuple(verdicts))
