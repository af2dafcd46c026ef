"""A digest of every result the course pins, prints or grades against that numerics could move.

``python -m support.digest`` (from ``tests/``, or with ``tests`` on the path) prints one JSON
object: for each experiment, a short SHA-256 of its exact output bytes.  The experiments are the
ones whose numbers a lesson prints, a test pins or a hidden test grades against, at the lesson's
own seeds but on smaller samples where the lesson's size adds nothing numerically new:

* the synthetic platform (every column of every table, the ground truth, the features, the
  rules' flags) — where SIMD sorting of ties once moved messages between accounts;
* the two learned classifiers' scores and flags (BLAS and OpenMP inside scikit-learn);
* the generated pictures and their three perceptual hashes (float32 trigonometry, BLAS DCT);
* the evasion and forced-collision searches, server- and client-side detection counts;
* the seeded reporting simulation and the technique-by-harm table.

``tests/test_reproducibility.py`` runs this in subprocesses at each CPU feature level numpy can
be told to use (``NPY_DISABLE_CPU_FEATURES``) and with each OpenBLAS kernel family
(``OPENBLAS_CORETYPE``), and asserts every digest is the same.  Floats are digested by their
exact bytes: a last-bit difference counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np
import pandas as pd


def _bytes_of(value: object) -> bytes:
    if isinstance(value, pd.DataFrame):
        return b"".join(name.encode() + _bytes_of(value[name]) for name in value.columns) + _bytes_of(
            value.index.to_series()
        )
    if isinstance(value, pd.Series):
        if isinstance(value.dtype, pd.CategoricalDtype):
            return value.cat.codes.to_numpy().tobytes()
        array = value.to_numpy()
        return array.tobytes() if array.dtype != object else repr(array.tolist()).encode()
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value).tobytes()
    if isinstance(value, dict):
        return b"".join(str(k).encode() + _bytes_of(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return b"".join(_bytes_of(v) for v in value)
    if isinstance(value, float):
        return np.float64(value).tobytes()
    return repr(value).encode()


def digest(value: object) -> str:
    """A short SHA-256 of ``value``'s exact bytes (floats bit for bit)."""
    return hashlib.sha256(_bytes_of(value)).hexdigest()[:16]


def _platform() -> dict[str, object]:
    from toychat import metadata as md

    out: dict[str, object] = {}
    platform = md.simulate(accounts=20_000, seed=33)  # ex04's hidden platform
    for name in ("accounts", "follows", "events", "roles", "event_harm"):
        out[f"platform.{name}"] = getattr(platform, name)
    features = md.account_features(platform)
    out["platform.features"] = features
    out["platform.rules"] = {name: rule(features) for name, rule in md.RULES.items()}
    out["platform.ages_with_new"] = md.account_ages_with_new_accounts(platform, 0.02)
    unseen = md.simulate(accounts=50_000, seed=23)  # ex04 Part E's hidden platform
    out["platform.seed23.features"] = md.account_features(unseen)
    out["platform.seed23.truth"] = unseen.contact_abusive
    train, test = md.simulate(accounts=20_000, seed=0), md.simulate(accounts=20_000, seed=1)
    test_features = md.account_features(test)
    for kind in ("logistic", "boosting"):
        scores = md.classifier_scores(md.train_classifier(train, kind=kind), test_features)
        out[f"classifier.{kind}.scores"] = scores
        out[f"classifier.{kind}.flags"] = scores >= 0.5
        out[f"classifier.{kind}.pr_curve"] = md.pr_curve(scores, test.contact_abusive)
    flags = md.rule_minors_not_following(test_features)
    out["technique_table"] = md.technique_table(test, flags, scan_recall=0.9, report_rate=0.05, seed=0)
    return out


def _pictures() -> dict[str, object]:
    from toychat import hashing
    from toychat import scanning as sc
    from toychat.images import EDITS, apply_edit

    out: dict[str, object] = {}
    listed = sc.stand_in_set(12, 0)
    innocent = sc.lookalikes(200, 1)
    out["images.listed"] = listed
    out["images.lookalikes"] = innocent
    out["images.ex03"] = hashing.difference_hash(
        np.concatenate([sc.stand_in_set(30, seed=5), sc.lookalikes(30, seed=5)])
    )
    for name, hasher in hashing.HASHERS.items():
        out[f"hash.{name}"] = hasher(np.concatenate([listed, innocent]))
    for index, edit in enumerate(EDITS):
        out[f"edit.{edit}"] = hashing.dct_hash(apply_edit(listed[:4], edit, seed=index))
    evasions = [sc.evade(image, seed=i) for i, image in enumerate(listed[:4])]
    out["evade"] = [(r.success, r.final_distance, r.steps, r.mean_abs_change, r.image) for r in evasions]
    targets = hashing.dct_hash(listed)
    collisions = [sc.force_collision(image, targets[i]) for i, image in enumerate(innocent[:4])]
    out["force_collision"] = [(r.success, r.final_distance, r.steps, r.mean_abs_change, r.image) for r in collisions]
    out["server_side_detection"] = sc.server_side_detection(4, seed=0)
    out["client_side_detection"] = sc.client_side_detection(4, seed=0)
    out["meme_set"] = sc.meme_set(5, 0)
    out["false_positive_table"] = sc.false_positive_table(50, 300)
    return out


def _reporting() -> dict[str, object]:
    from toychat.reporting import reports_reaching_platform

    return {
        "reports_reaching_platform": reports_reaching_platform(10_000, [0.01, 0.05, 0.2], seed=0),
        "reports_with_willing": reports_reaching_platform(10_000, [0.05], seed=0, willing_share=0.5),
    }


EXPERIMENTS: dict[str, Callable[[], dict[str, object]]] = {
    "platform": _platform,
    "pictures": _pictures,
    "reporting": _reporting,
}


def enabled_cpu_features() -> list[str]:
    """The CPU features numpy's dispatched code uses in this process."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]


def main() -> None:
    results: dict[str, str] = {}
    for build in EXPERIMENTS.values():
        results.update({name: digest(value) for name, value in build().items()})
    print(json.dumps({"cpu_features": enabled_cpu_features(), "digests": results}, sort_keys=True))


if __name__ == "__main__":
    main()
