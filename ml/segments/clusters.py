"""Customer clusters: K-means on standardized RFM and behaviour features, k by silhouette.

Why these choices: spend and counts are heavy-tailed, so they are log-transformed before
standardizing (otherwise a few big spenders become their own clusters); the silhouette is
computed on a fixed-seed sample (it is quadratic in the rows) and the k with the highest
score in the range wins; every cluster then gets a readable label built from its profile
(activity from recency, value from spend, and the trait that sets it apart most), so a
marketer reads "Lapsed low-value store shoppers", not "cluster 3".
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import pairwise_distances, silhouette_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from contracts.ml_outputs import CUSTOMER_CLUSTERS
from ml.shared import model_store
from ml.shared.features import build_features, scoring_date
from ml.shared.settings import MlSettings
from ml.shared.threads import with_bounded_threads

CLUSTER_FEATURES: tuple[str, ...] = (
    "recency_days", "frequency_total", "monetary_avg_order", "spend_12m", "tenure_days",
    "sessions_12m", "session_conversion_12m", "return_rate_12m", "tickets_12m",
    "web_order_share_12m",
)
LOG_FEATURES = ("recency_days", "frequency_total", "monetary_avg_order", "spend_12m",
                "tenure_days", "sessions_12m", "tickets_12m")
K_RANGE = range(2, 9)
SILHOUETTE_SAMPLE = 5_000
FIT_SAMPLE = 50_000  # rows the k candidates are fitted on
N_INIT = 4
STRONG_TRAIT_Z = 0.9

# Distinguishing traits: (feature, sign) -> phrase, used to tell similar clusters apart.
TRAITS = {
    ("frequency_total", 1): "frequent", ("frequency_total", -1): "one-off",
    ("tenure_days", -1): "new", ("tenure_days", 1): "long-standing",
    ("sessions_12m", 1): "browsing", ("session_conversion_12m", -1): "window-shopping",
    ("return_rate_12m", 1): "returning", ("tickets_12m", 1): "complaining",
    ("monetary_avg_order", 1): "big-basket", ("monetary_avg_order", -1): "small-basket",
}


@dataclass
class ClusterResult:
    assignments: pd.DataFrame
    profile: pd.DataFrame  # one row per cluster: label, size, mean of each feature
    silhouette_by_k: dict[int, float]
    k: int
    runs: list[model_store.ModelRun]
    model_version: str
    scoring_as_of: dt.date


def log_columns(x: np.ndarray, idx: list[int]) -> np.ndarray:
    """log(1 + x) on the heavy-tailed columns ``idx`` (module level so joblib can store it)."""
    x = np.array(x, dtype=float, copy=True)
    x[:, idx] = np.log1p(np.clip(x[:, idx], 0, None))
    return x


def preprocessor(columns: list[str]):
    log_idx = [i for i, c in enumerate(columns) if c in LOG_FEATURES]
    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                         FunctionTransformer(log_columns, kw_args={"idx": log_idx}),
                         StandardScaler())


def choose_k(x: np.ndarray, k_range=K_RANGE, seed: int = 0) -> tuple[dict[int, float],
                                                                    dict[int, KMeans]]:
    """Silhouette of each k in ``k_range``; returns (scores, fitted models) by k.

    Cost is kept flat in the number of customers: the silhouette uses a fixed-seed sample of
    ``SILHOUETTE_SAMPLE`` rows whose pairwise distances are computed once for every k, and
    above ``FIT_SAMPLE`` rows the candidate models are fitted on a fixed-seed sample (the
    chosen one is refitted on all rows by :func:`fit_final`). Up to ``FIT_SAMPLE`` rows every
    model sees every row, as before.
    """
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(x), size=min(len(x), SILHOUETTE_SAMPLE), replace=False)
    if len(x) > FIT_SAMPLE:
        fit_rows = np.random.default_rng(seed + 1).choice(len(x), size=FIT_SAMPLE,
                                                          replace=False)
        x_fit = x[fit_rows]
    else:
        x_fit = x
    distances = pairwise_distances(x[sample])  # shared by every k: computed once
    scores, models = {}, {}
    for k in k_range:
        if k >= len(x):
            break
        model = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(x_fit)
        labels = model.labels_[sample] if x_fit is x else model.predict(x[sample])
        if len(np.unique(labels)) < 2:
            continue
        scores[k] = float(silhouette_score(distances, labels, metric="precomputed"))
        models[k] = model
    if not scores:
        raise ValueError(f"cannot cluster {len(x)} customers: need at least 3 distinct ones")
    return scores, models


def fit_final(x: np.ndarray, model: KMeans, seed: int = 0) -> KMeans:
    """The chosen model on every row: itself if it already saw them all, else one K-means
    run over all rows started from the sample's centres (converges in a few passes)."""
    if len(model.labels_) == len(x):
        return model
    return KMeans(n_clusters=model.n_clusters, init=model.cluster_centers_, n_init=1,
                  random_state=seed).fit(x)


def label_clusters(profile: pd.DataFrame, z: pd.DataFrame) -> list[str]:
    """Readable, unique labels from the per-cluster means (``profile``) and their z-scores.

    Activity comes from the mean recency, value from ``value_index`` (the cluster's mean
    lifetime spend over everyone's), the noun from the online share of orders, and a trait
    is added when one stands out (|z| above ``STRONG_TRAIT_Z``) or two labels would collide.
    """
    labels = []
    for cid in profile.index:
        recency = profile.loc[cid, "recency_days"]
        activity = "Active" if recency <= 90 else "Cooling" if recency <= 270 else "Lapsed"
        index = profile.loc[cid, "value_index"]
        value = "high-value" if index >= 1.3 else "low-value" if index <= 0.7 else "mid-value"
        web = profile.loc[cid, "web_order_share_12m"]
        who = ("online shoppers" if web >= 0.65 else "store shoppers" if web <= 0.35
               else "customers")
        parts = [activity, value, who]
        strongest = max(TRAITS, key=lambda t: t[1] * z.loc[cid, t[0]])
        if strongest[1] * z.loc[cid, strongest[0]] > STRONG_TRAIT_Z:
            parts.insert(2, TRAITS[strongest])
        labels.append(parts)
    names = [" ".join(parts) for parts in labels]
    for _ in range(3):  # add the most distinctive trait until every label is unique
        duplicated = {n for n in names if names.count(n) > 1}
        if not duplicated:
            break
        for i, cid in enumerate(profile.index):
            if names[i] not in duplicated:
                continue
            used = set(" ".join(labels[i]).split())
            ranked = sorted(TRAITS, key=lambda t: -t[1] * z.loc[cid, t[0]])
            trait = next((TRAITS[t] for t in ranked if TRAITS[t] not in used), None)
            if trait:
                labels[i].insert(2, trait)
        names = [" ".join(parts) for parts in labels]
    seen: dict[str, int] = {}
    out = []
    for name in names:  # last resort: number the remaining twins
        seen[name] = seen.get(name, 0) + 1
        out.append(name if names.count(name) == 1 else f"{name} {chr(64 + seen[name])}")
    return out


@with_bounded_threads
def cluster_customers(con: duckdb.DuckDBPyConnection, *, artifacts_root: Path,
                      settings: MlSettings, k_range=K_RANGE, seed: int = 0,
                      run_id: str | None = None) -> ClusterResult:
    """Cluster every customer with a purchase before the scoring date; writes nothing."""
    scoring = scoring_date(con, settings.as_of)
    run_id = run_id or f"clusters-{uuid.uuid4().hex[:12]}"
    trained_at = model_store.utc_now()
    frame = build_features(con, scoring, settings.churn_windows, eligible_only=False)
    columns = list(CLUSTER_FEATURES)
    prep = preprocessor(columns)
    x = prep.fit_transform(frame[columns].to_numpy(float))
    silhouettes, models = choose_k(x, k_range, seed)
    k = max(silhouettes, key=silhouettes.get)
    model = fit_final(x, models[k], seed)
    cluster = model.labels_
    profile = frame[columns].assign(cluster_id=cluster).groupby("cluster_id").mean()
    lifetime_spend = frame.frequency_total * frame.monetary_avg_order
    profile["value_index"] = (lifetime_spend.groupby(cluster).mean()
                              / max(lifetime_spend.mean(), 1e-9))
    z_all = pd.DataFrame(x, columns=columns).assign(cluster_id=cluster)
    z = z_all.groupby("cluster_id").mean()
    profile["label"] = label_clusters(profile, z)
    profile["customers"] = pd.Series(cluster).value_counts().sort_index()
    profile["share"] = profile["customers"] / len(frame)
    distance = np.linalg.norm(x - model.cluster_centers_[cluster], axis=1)

    parameters = {"features": columns, "log_features": list(LOG_FEATURES),
                  "k_range": [min(k_range), max(k_range)], "k": k, "n_init": N_INIT,
                  "random_state": seed, "silhouette_sample": SILHOUETTE_SAMPLE,
                  "fit_sample": min(len(x), FIT_SAMPLE)}
    version = model_store.new_version("clusters", parameters, trained_at)
    artifact = model_store.save_artifact(
        "clusters", version, {"preprocessor": prep, "kmeans": model},
        {"run_id": run_id, "parameters": parameters, "silhouette_by_k": silhouettes,
         "profile": profile.reset_index().to_dict(orient="records"),
         "scoring_as_of": scoring}, root=artifacts_root)
    assignments = pd.DataFrame({
        "customer_key": frame.customer_key.astype(str),
        "cluster_id": cluster.astype("int64"),
        "cluster_label": profile["label"].reindex(cluster).to_numpy(),
        "distance_to_center": distance,
        **{c: frame[c].to_numpy(float) for c in columns},
        "model_version": version, "as_of_date": scoring, "scored_at": trained_at,
    })
    run = model_store.ModelRun(
        run_id=run_id, model_name="clusters", candidate="kmeans", role="model",
        model_version=version, trained_at=trained_at, parameters=parameters,
        metrics={"silhouette": silhouettes[k], "k": float(k),
                 **{f"silhouette_k{kk}": s for kk, s in silhouettes.items()}},
        training_window_end=scoring, scoring_as_of=scoring, n_train=len(frame),
        artifact_path=str(artifact),
        notes="; ".join(f"{cid}: {row.label} ({row.customers})"
                        for cid, row in profile.iterrows()))
    return ClusterResult(assignments, profile.reset_index(), silhouettes, k, [run], version,
                         scoring)


def write_outputs(con: duckdb.DuckDBPyConnection, result: ClusterResult) -> int:
    """Replace ``ml.customer_clusters`` and record the run in ``ml.model_runs``."""
    model_store.ensure_schema(con)
    rows = model_store.replace_table(con, CUSTOMER_CLUSTERS, result.assignments)
    model_store.record_runs(con, result.runs)
    return rows
