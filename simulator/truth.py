"""Ground-truth files under ``_truth/``, written a part at a time (one chunk of persons, one
table's defects) through a Parquet writer, so a million persons never sit in one DataFrame."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.timeline import to_timestamp

DEFECT_SCHEMA = pa.schema([("system", pa.string()), ("table", pa.string()),
                           ("record_id", pa.string()), ("file", pa.string()),
                           ("line", pa.int64()), ("column", pa.string()),
                           ("defect_type", pa.string())])


class TruthWriter:
    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._defects: pq.ParquetWriter | None = None

    # -- defects.parquet: earlier windows' rows, then this window's, appended part by part --
    def start_defects(self) -> None:
        from simulator.exports import empty_defects

        schema = pa.Table.from_pandas(empty_defects(), schema=DEFECT_SCHEMA,
                                      preserve_index=False).schema
        tmp = self.folder / "defects.parquet.tmp"
        self._defects = pq.ParquetWriter(tmp, schema)
        old = self.folder / "defects.parquet"
        if old.exists():
            for batch in pq.ParquetFile(old).iter_batches(batch_size=500_000):
                self._defects.write_table(pa.Table.from_batches([batch]).cast(schema))

    def add_defects(self, d: pd.DataFrame) -> None:
        if len(d):
            d = d.astype({"line": "Int64"})
            self._defects.write_table(pa.Table.from_pandas(d, schema=self._defects.schema,
                                                           preserve_index=False))

    def finish_defects(self) -> None:
        self._defects.close()
        self._defects = None
        (self.folder / "defects.parquet.tmp").replace(self.folder / "defects.parquet")

    # -- files written from a stream of frames -------------------------------------------------
    def write(self, name: str, frames: Iterable[pd.DataFrame]) -> None:
        """One Parquet file from frames of equal columns (the first non-empty fixes the types)."""
        path = self.folder / name
        writer, first_empty = None, None
        for df in frames:
            if not len(df):
                first_empty = df if first_empty is None else first_empty
                continue
            if writer is None:
                table = pa.Table.from_pandas(df, preserve_index=False)
                writer = pq.ParquetWriter(path, table.schema)
            else:
                table = pa.Table.from_pandas(df, schema=writer.schema, preserve_index=False)
            writer.write_table(table)
        if writer is not None:
            writer.close()
        elif first_empty is not None:
            first_empty.to_parquet(path, index=False)


def persons_frame(p: pd.DataFrame, categories: np.ndarray, cfg) -> pd.DataFrame:
    """``persons.parquet`` rows of one chunk: latent parameters, outcome and clean identity."""
    persons = pd.DataFrame({
        "person_id": p["person_id"].to_numpy(),
        "acquired_at": to_timestamp(cfg.start_date, p["acquired_day"].to_numpy()).to_numpy(),
        "purchase_rate_per_day": p["lam"].to_numpy(),
        "dropout_probability": p["p_drop"].to_numpy(),
        "spend_shape_p": p["gg_p"].to_numpy(),
        "spend_rate_nu": p["nu"].to_numpy() / cfg.price_scale,
        "expected_order_value": p["gg_p"].to_numpy() / p["nu"].to_numpy() * cfg.price_scale,
        "web_share": p["web_share"].to_numpy(),
        "preferred_channel": np.where(p["web_share"].to_numpy() >= 0.5, "web", "store"),
        "preferred_device": p["device"].to_numpy(),
        "favourite_category_1": categories[p["fav1"].to_numpy()],
        "favourite_category_2": categories[p["fav2"].to_numpy()],
        "has_member": p["has_member"].to_numpy(), "has_account": p["has_account"].to_numpy(),
        "marketing_opt_in": p["opt_in"].to_numpy(),
        "dropout_at": to_timestamp(cfg.start_date, p["dropout_day"].to_numpy()).to_numpy(),
        "alive_at_end": p["alive"].to_numpy(),
        "n_purchases": p["n_purchases"].to_numpy(), "n_tickets": p["n_tickets"].to_numpy(),
        "n_bad_tickets": p["n_bad_tickets"].to_numpy(),
        "first_name": p["first_name"].to_numpy(), "last_name": p["last_name"].to_numpy(),
        "email": p["email"].to_numpy(), "phone_digits": p["phone"].to_numpy(),
        "birth_date": p["birth_date"].to_numpy(), "postal_code": p["postal_code"].to_numpy(),
    })
    persons.loc[p["dropout_day"].isna().to_numpy(), "dropout_at"] = pd.NaT
    return persons


def person_records_frame(r: pd.DataFrame, person_ids: pd.Series, system: str, table: str,
                         cfg) -> pd.DataFrame:
    """``person_records.parquet`` rows: which person each source customer record belongs to."""
    return pd.DataFrame({
        "source_system": system, "source_table": table,
        "source_id": r["_source_id"].to_numpy(),
        "person_id": person_ids.loc[r["_person_idx"].to_numpy()].to_numpy(),
        "is_duplicate_record": r["_is_duplicate"].to_numpy().astype(bool),
        "created_at": to_timestamp(cfg.start_date, r["_day"].to_numpy()).to_numpy(),
    })
