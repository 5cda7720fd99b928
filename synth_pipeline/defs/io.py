"""An IO manager that keeps the private drop out of Dagster's storage.

``raw_dataset`` is stored as a reference (the drop's file name and an HMAC of its bytes
under the instance secret, never the rows): downstream steps re-read the drop from the
incoming folder and refuse it if it changed since the run read it. Every other asset goes
to Dagster's default filesystem storage (its records hold DP output, public facts or
internal aggregates; see chain.results).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from synth_pipeline.defs.resources import ProjectFiles


class DropReferenceIOManager(dg.ConfigurableIOManager):
    """Stores a reference to the drop, not the drop."""

    files: ProjectFiles

    def _reference_path(self, context) -> Path:
        partition = context.partition_key if context.has_partition_key else "unpartitioned"
        digest = hashlib.sha256(partition.encode("utf-8")).hexdigest()[:16]  # file names may hold anything
        return self.files.path(self.files.references_dir) / context.asset_key.path[-1] / digest

    def _fingerprint(self, path: Path) -> str:
        from synth_pipeline.reporting.documents import file_digest

        return file_digest(path, key=self.files.instance_secret())

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        reference = {"name": obj.name, "fingerprint": self._fingerprint(obj.path)}
        target = self._reference_path(context)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(reference), encoding="utf-8")

    def load_input(self, context: dg.InputContext):
        from synth_pipeline.chain.results import Drop
        from synth_pipeline.data_io import read_drop

        target = self._reference_path(context)  # an input's asset key and partition are its upstream's
        if not target.is_file():
            raise dg.Failure(description="raw_dataset has not been read for this drop in this instance: "
                                         "materialize it first")
        reference = json.loads(target.read_text(encoding="utf-8"))
        path = self.files.drop_path(reference["name"])
        if not path.is_file() or self._fingerprint(path) != reference["fingerprint"]:
            raise dg.Failure(description=f"the drop {reference['name']!r} changed or disappeared since raw_dataset "
                                         "read it: re-run the chain from raw_dataset")
        return Drop(name=reference["name"], path=path, frame=read_drop(path, self.files.schema()))
