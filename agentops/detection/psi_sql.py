"""The PSI of `psi` as SQL, so the warehouse bins its own samples (SQLite and Snowflake).

Inputs are two tables (or subqueries) of raw samples with one column per feature. The heavy
work runs in the database: reference quantile edges with `NTILE(bins) OVER (ORDER BY x)`
(edge k = the first value of tile k+1, as `psi.quantile_edges`), then per-bin counts of both
samples through a range join on the open-ended, left-closed bins. A few rows per feature come
back, and `psi.psi_from_counts` takes the sum of logs (SQLite's `ln` is optional at build
time, so the last step stays in Python and is the same function on every dialect).

SQL NULL is the missing value here (left out of both samples, as NaN is in numpy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from agentops.detection.psi import DEFAULT_BINS, FeaturePSI, psi_from_counts
from agentops.errors import DataError

_SIDE_EDGE, _SIDE_REF, _SIDE_CUR = "e", "r", "c"


def _column(source: sa.FromClause, feature: str) -> sa.ColumnElement[Any]:
    for column in source.c:
        if column.name.lower() == feature.lower():
            return column
    raise DataError(f"PSI: column {feature!r} missing from {getattr(source, 'name', 'the sample')}")


def numeric_counts_query(
    reference: sa.FromClause, current: sa.FromClause, feature: str, bins: int = DEFAULT_BINS
) -> sa.Select[Any]:
    """Rows (side, lo, n): side 'e' lists the bins by lower edge (NULL: the first, open bin),
    'r' / 'c' count the reference / current values in each bin."""
    ref_x = sa.cast(_column(reference, feature), sa.Float)
    cur_x = sa.cast(_column(current, feature), sa.Float)
    ref = sa.select(ref_x.label("x")).where(ref_x.is_not(None)).cte(f"ref_{feature}")
    cur = sa.select(cur_x.label("x")).where(cur_x.is_not(None)).cte(f"cur_{feature}")
    tiles = sa.select(ref.c.x, sa.func.ntile(bins).over(order_by=ref.c.x).label("tile")).cte(
        f"tiles_{feature}"
    )
    starts = (
        sa.select(sa.func.min(tiles.c.x).label("lo"))
        .where(tiles.c.tile > 1)
        .group_by(tiles.c.tile)
        .subquery()
    )
    edges = sa.select(starts.c.lo).distinct().cte(f"edges_{feature}")
    inner = sa.select(edges.c.lo, sa.func.lead(edges.c.lo).over(order_by=edges.c.lo).label("hi"))
    first = sa.select(sa.null().label("lo"), sa.select(sa.func.min(edges.c.lo)).scalar_subquery())
    bins_cte = inner.union_all(first).cte(f"bins_{feature}")

    def counted(sample: Any, side: str) -> sa.Select[Any]:
        inside = sa.and_(
            sa.or_(bins_cte.c.lo.is_(None), sample.c.x >= bins_cte.c.lo),
            sa.or_(bins_cte.c.hi.is_(None), sample.c.x < bins_cte.c.hi),
        )
        return (
            sa.select(sa.literal(side).label("side"), bins_cte.c.lo, sa.func.count().label("n"))
            .select_from(sample)
            .join(bins_cte, inside)
            .group_by(bins_cte.c.lo)
        )

    listed = sa.select(
        sa.literal(_SIDE_EDGE).label("side"), bins_cte.c.lo, sa.literal(0).label("n")
    )
    return sa.union_all(listed, counted(ref, _SIDE_REF), counted(cur, _SIDE_CUR))  # type: ignore[return-value]


def categorical_counts_query(
    reference: sa.FromClause, current: sa.FromClause, feature: str
) -> sa.Select[Any]:
    """Rows (side, lo, n): the count of each category (as text) in each sample."""

    def counted(source: sa.FromClause, side: str) -> sa.Select[Any]:
        value = sa.cast(_column(source, feature), sa.String)
        return (
            sa.select(sa.literal(side).label("side"), value.label("lo"), sa.func.count().label("n"))
            .where(value.is_not(None))
            .group_by(value)
        )

    return sa.union_all(counted(reference, _SIDE_REF), counted(current, _SIDE_CUR))  # type: ignore[return-value]


def _from_rows(feature: str, rows: Iterable[Any], categorical: bool) -> FeaturePSI:
    ref: dict[Any, int] = {}
    cur: dict[Any, int] = {}
    listed: set[Any] = set()
    for side, lo, n in rows:
        if side == _SIDE_EDGE:
            listed.add(lo)
        else:
            (ref if side == _SIDE_REF else cur)[lo] = int(n)
    if not ref:
        raise DataError(f"PSI: reference sample of {feature!r} is empty (all values missing)")
    if not cur:
        raise DataError(f"PSI: current window of {feature!r} is empty (all values missing)")
    keys = sorted(listed | set(ref) | set(cur), key=lambda k: (k is not None, k))
    ref_counts = [ref.get(k, 0) for k in keys]
    cur_counts = [cur.get(k, 0) for k in keys]
    return FeaturePSI(
        feature=feature,
        psi=psi_from_counts(ref_counts, cur_counts),
        bins=[k for k in keys if k is not None] if not categorical else keys,
        reference_counts=ref_counts,
        current_counts=cur_counts,
        categorical=categorical,
    )


def sql_psi(
    conn: sa.Connection,
    reference: sa.FromClause,
    current: sa.FromClause,
    features: Sequence[str],
    *,
    categorical: Iterable[str] = (),
    bins: int = DEFAULT_BINS,
) -> list[FeaturePSI]:
    """PSI per feature computed in the database; one query per feature."""
    if bins < 2:
        raise DataError(f"PSI: bins must be at least 2, got {bins}")
    cats = set(categorical)
    results = []
    for feature in features:
        if feature in cats:
            query = categorical_counts_query(reference, current, feature)
        else:
            query = numeric_counts_query(reference, current, feature, bins)
        rows = [tuple(r) for r in conn.execute(query)]
        if feature not in cats:
            rows = [(s, None if lo is None else float(lo), n) for s, lo, n in rows]
        results.append(_from_rows(feature, rows, feature in cats))
    return sorted(results, key=lambda r: r.feature)


def sample_table(conn: sa.Connection, name: str) -> sa.Table:
    """A raw-sample table of the store, reflected; DataError naming it when missing."""
    try:
        return sa.Table(name, sa.MetaData(), autoload_with=conn)
    except sa.exc.NoSuchTableError:
        raise DataError(f"PSI: table {name.upper()} not found in the store") from None
