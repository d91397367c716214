"""Cross-sell from baskets: pairwise affinity (support, confidence, lift) and offers.

A *basket* is one paid order (``CrossSellConfig.basket = "order"``) or everything a customer
has bought (``"customer"``). For items i -> j (products, or categories):

- support(i, j)   = baskets holding both / all baskets
- confidence(i->j) = baskets holding both / baskets holding i      (an estimate of P(j | i))
- lift(i->j)      = confidence(i->j) / (baskets holding j / all baskets)

Only pairs seen in at least ``min_pair_baskets`` baskets with lift above ``min_lift`` become
rules. A customer's score for a product j they have never bought combines the confidences of
the rules from every product they did buy as a noisy-or::

    score(c, j) = 1 - prod_{i bought by c} (1 - confidence(i -> j))

It stays in [0, 1], is the probability that at least one bought product "leads to" j when
the rules act independently, and buying one more product never lowers it. Customers with
fewer than N rule-based offers are filled up with the most popular products they have not
bought (``basis = "popular"``, score = share of customers who bought the product). Products
a customer has bought are never offered: their score is removed before ranking.

Counting uses scipy sparse matrices (baskets x items), so the catalogue may be large; scoring
runs in chunks of customers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd
from scipy import sparse

from models_ml._frames import day, utc_naive
from models_ml.config import CrossSellConfig

AFFINITY_COLUMNS = [
    "level",
    "antecedent",
    "antecedent_name",
    "consequent",
    "consequent_name",
    "baskets_with_both",
    "baskets_with_antecedent",
    "support",
    "confidence",
    "lift",
]
OFFER_COLUMNS = [
    "customer_id",
    "offer_rank",
    "sku",
    "product_name",
    "product_category",
    "score",
    "basis",
    "because_of_sku",
    "because_of_name",
    "rule_confidence",
    "rule_lift",
]
PROSPECT_COLUMNS = [
    "sku",
    "product_name",
    "product_category",
    "prospect_rank",
    "customer_id",
    "score",
    "because_of_sku",
    "because_of_name",
    "rule_confidence",
    "rule_lift",
]
_CONF_CAP = 1.0 - 1e-9  # log(1 - confidence) must stay finite


@dataclass
class Rules:
    """Product-level rules as dense arrays over the product index `items`."""

    items: pd.Index  # sku, in matrix order
    names: pd.Series  # sku -> product_name
    categories: pd.Series  # sku -> product_category
    confidence: np.ndarray  # items x items, 0 where no rule
    lift: np.ndarray  # items x items
    popularity: np.ndarray  # share of customers who bought each item
    candidate: np.ndarray  # bool per item: may be offered (sold recently)


def paid_lines(items: pd.DataFrame, as_of: date | None = None) -> pd.DataFrame:
    """Paid order lines with a customer and a product key, ordered before `as_of` (exclusive)."""
    out = items.copy()
    if "is_paid" in out:
        out = out[out["is_paid"].fillna(False).astype(bool)]
    out = out[out["customer_id"].notna() & out["sku"].notna()].copy()
    out["ordered_at"] = utc_naive(out["ordered_at"])
    if as_of is not None:
        out = out[out["ordered_at"] < day(as_of)]
    for col in ("customer_id", "order_id", "sku"):
        out[col] = out[col].astype(str)
    out["product_category"] = out["product_category"].fillna("unknown").astype(str)
    out["product_name"] = out["product_name"].fillna(out["sku"]).astype(str)
    return out


def _incidence(baskets: pd.Series, items: pd.Series) -> tuple[sparse.csr_matrix, pd.Index]:
    """Binary baskets x items matrix and the item index."""
    pairs = pd.DataFrame({"b": baskets.to_numpy(), "i": items.to_numpy()}).drop_duplicates()
    b_codes, _ = pd.factorize(pairs["b"], sort=True)
    i_codes, item_index = pd.factorize(pairs["i"], sort=True)
    m = sparse.csr_matrix(
        (np.ones(len(pairs), dtype=np.float64), (b_codes, i_codes)),
        shape=(int(b_codes.max()) + 1 if len(pairs) else 0, len(item_index)),
    )
    return m, pd.Index(item_index)


def _pair_stats(m: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, int]:
    """(co-occurrence counts items x items with a zero diagonal, item counts, n baskets)."""
    co = (m.T @ m).toarray()
    counts = np.diag(co).copy()
    np.fill_diagonal(co, 0.0)
    return co, counts, m.shape[0]


def affinity(
    lines: pd.DataFrame, level: str = "product", config: CrossSellConfig | None = None
) -> pd.DataFrame:
    """Item pairs i -> j with support, confidence and lift (both directions, i != j).

    `level` is "product" (sku) or "category" (product_category). Pairs in fewer than
    ``min_pair_baskets`` baskets are dropped; lower lift is kept here (it is a report).
    """
    cfg = config or CrossSellConfig()
    key, name = ("sku", "product_name") if level == "product" else ("product_category", None)
    basket = lines["order_id"] if cfg.basket == "order" else lines["customer_id"]
    if lines.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in AFFINITY_COLUMNS})
    m, index = _incidence(basket, lines[key])
    co, counts, n = _pair_stats(m)
    i, j = np.nonzero(co >= cfg.min_pair_baskets)
    both = co[i, j]
    conf = both / counts[i]
    out = pd.DataFrame(
        {
            "level": level,
            "antecedent": index[i].astype(str),
            "consequent": index[j].astype(str),
            "baskets_with_both": both.astype("int64"),
            "baskets_with_antecedent": counts[i].astype("int64"),
            "support": both / n,
            "confidence": conf,
            "lift": conf / (counts[j] / n),
        }
    )
    if name is not None:
        names = lines.drop_duplicates(key).set_index(key)[name]
        out["antecedent_name"] = out["antecedent"].map(names)
        out["consequent_name"] = out["consequent"].map(names)
    else:
        out["antecedent_name"] = out["antecedent"]
        out["consequent_name"] = out["consequent"]
    out = out.sort_values(["lift", "baskets_with_both"], ascending=False, kind="stable")
    return out[AFFINITY_COLUMNS].reset_index(drop=True)


def fit_rules(
    lines: pd.DataFrame, as_of: date, config: CrossSellConfig | None = None
) -> tuple[Rules, sparse.csr_matrix, pd.Index]:
    """Product rules plus the customers x products 'has bought' matrix and its customer index."""
    cfg = config or CrossSellConfig()
    basket = lines["order_id"] if cfg.basket == "order" else lines["customer_id"]
    m, items = _incidence(basket, lines["sku"])
    co, counts, n = _pair_stats(m)
    conf = np.divide(co, counts[:, None], out=np.zeros_like(co), where=counts[:, None] > 0)
    lift = conf / (counts / n)[None, :]
    keep = (co >= cfg.min_pair_baskets) & (lift > cfg.min_lift)
    conf = np.where(keep, np.minimum(conf, _CONF_CAP), 0.0)
    lift = np.where(keep, lift, 0.0)

    cust_codes, customers = pd.factorize(lines["customer_id"], sort=True)
    item_codes = items.get_indexer(lines["sku"])
    bought = sparse.csr_matrix(
        (np.ones(len(lines)), (cust_codes, item_codes)), shape=(len(customers), len(items))
    )
    bought.data[:] = 1.0
    bought.sum_duplicates()
    bought.data[:] = 1.0
    popularity = np.asarray(bought.sum(axis=0)).ravel() / max(len(customers), 1)

    firsts = lines.drop_duplicates("sku").set_index("sku")
    recent = lines["ordered_at"] >= day(as_of) - pd.Timedelta(days=cfg.active_days)
    candidate = items.isin(lines.loc[recent, "sku"].unique())
    rules = Rules(
        items=items,
        names=firsts["product_name"].reindex(items),
        categories=firsts["product_category"].reindex(items),
        confidence=conf,
        lift=lift,
        popularity=popularity,
        candidate=np.asarray(candidate),
    )
    return rules, bought, pd.Index(customers)


def _score_chunks(rules: Rules, bought: sparse.csr_matrix, rows: int) -> Iterator[tuple]:
    """(row offset, scores chunk) with bought and non-candidate products at -inf."""
    log_miss = np.log1p(-rules.confidence)  # 0 where there is no rule
    for start in range(0, bought.shape[0], rows):
        b = bought[start : start + rows]
        score = 1.0 - np.exp(np.asarray(b @ log_miss))
        score[b.toarray() > 0] = -np.inf  # never offer what the customer has bought
        score[:, ~rules.candidate] = -np.inf
        yield start, score


def _because(pairs: pd.DataFrame, rules: Rules, bought: sparse.csr_matrix) -> pd.DataFrame:
    """For (row, item) pairs: the bought product with the strongest rule to the item."""
    out = pairs.copy()
    if out.empty:
        return out.assign(because=pd.Series(dtype="int64"), conf=0.0, lift=0.0)
    best = np.full(len(out), -1, dtype=np.int64)
    best_conf = np.zeros(len(out))
    rows = out["row"].to_numpy()
    items = out["item"].to_numpy()
    indptr, indices = bought.indptr, bought.indices
    for k, (r, j) in enumerate(zip(rows, items, strict=True)):
        owned = indices[indptr[r] : indptr[r + 1]]
        if len(owned):
            c = rules.confidence[owned, j]
            a = int(np.argmax(c))
            if c[a] > 0:
                best[k], best_conf[k] = owned[a], c[a]
    out["because"] = best
    out["conf"] = best_conf
    out["lift"] = np.where(best >= 0, rules.lift[np.maximum(best, 0), items], 0.0)
    return out


def _top_k(score: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Indices of the k largest finite entries along `axis` (ties: lower index first)."""
    k = min(k, score.shape[axis])
    order = np.argsort(-score, axis=axis, kind="stable")
    return order[:, :k] if axis == 1 else order[:k, :]


def recommend(
    lines: pd.DataFrame, as_of: date, config: CrossSellConfig | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """(offers per customer, prospects per product, metrics) from paid lines before `as_of`.

    Offers: for each customer the ``offers_per_customer`` best products they have not bought
    (rule-based first, then popular ones). Prospects: for each candidate product the
    ``prospects_per_product`` customers with the highest rule-based score who have not bought
    it (customers without any rule to the product are not prospects).
    """
    cfg = config or CrossSellConfig()
    paid = paid_lines(lines, as_of)
    if paid.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in OFFER_COLUMNS})
        return empty, pd.DataFrame({c: pd.Series(dtype="object") for c in PROSPECT_COLUMNS}), {}
    rules, bought, customers = fit_rules(paid, as_of, cfg)
    n_items = len(rules.items)
    rows = max(1, cfg.score_cells // max(n_items, 1))

    offer_parts: list[pd.DataFrame] = []
    prospect_best: list[pd.DataFrame] = []
    for start, score in _score_chunks(rules, bought, rows):
        # offers: rule-based products first (score > 0), then popular ones, bought excluded
        rank_key = np.where(score > 0, score + 1.0, -np.inf)  # rule-based outrank popular
        filler = np.isfinite(score) & (score <= 0)
        rank_key = np.where(filler, rules.popularity[None, :], rank_key)
        top = _top_k(rank_key, cfg.offers_per_customer, axis=1)
        r_idx = np.repeat(np.arange(score.shape[0]), top.shape[1])
        i_idx = top.ravel()
        keyv = rank_key[r_idx, i_idx]
        ok = np.isfinite(keyv)
        offer_parts.append(
            pd.DataFrame(
                {
                    "row": r_idx[ok] + start,
                    "item": i_idx[ok],
                    "offer_rank": np.tile(np.arange(1, top.shape[1] + 1), score.shape[0])[ok],
                    "score": np.where(
                        score[r_idx, i_idx] > 0, score[r_idx, i_idx], rules.popularity[i_idx]
                    )[ok],
                    "basis": np.where(score[r_idx, i_idx] > 0, "affinity", "popular")[ok],
                }
            )
        )
        # prospects: the best customers of this chunk per product (merged across chunks)
        pos = np.where(score > 0, score, -np.inf)
        k = min(cfg.prospects_per_product, pos.shape[0])
        best_rows = _top_k(pos, k, axis=0)
        i_all = np.tile(np.arange(n_items), k)
        r_all = best_rows.ravel()
        s_all = pos[r_all, i_all]
        ok = np.isfinite(s_all)
        prospect_best.append(
            pd.DataFrame({"row": r_all[ok] + start, "item": i_all[ok], "score": s_all[ok]})
        )

    offers = _because(pd.concat(offer_parts, ignore_index=True), rules, bought)
    prospects = pd.concat(prospect_best, ignore_index=True)
    prospects["customer_id"] = customers[prospects["row"].to_numpy()]
    prospects = prospects.sort_values(
        ["item", "score", "customer_id"], ascending=[True, False, True], kind="stable"
    )
    prospects = prospects.groupby("item", sort=False).head(cfg.prospects_per_product)
    prospects["prospect_rank"] = prospects.groupby("item").cumcount() + 1
    prospects = _because(prospects.drop(columns="customer_id"), rules, bought)

    def describe(frame: pd.DataFrame) -> pd.DataFrame:
        sku = rules.items[frame["item"].to_numpy()]
        has = frame["because"].to_numpy() >= 0
        because = np.where(has, rules.items[np.maximum(frame["because"].to_numpy(), 0)], None)
        return frame.assign(
            customer_id=customers[frame["row"].to_numpy()].astype(str),
            sku=np.asarray(sku, dtype=object),
            product_name=rules.names.reindex(sku).to_numpy(),
            product_category=rules.categories.reindex(sku).to_numpy(),
            because_of_sku=because,
            because_of_name=np.where(
                has, rules.names.reindex(pd.Index(because).fillna("")).to_numpy(), None
            ),
            rule_confidence=np.where(has, frame["conf"], np.nan),
            rule_lift=np.where(has, frame["lift"], np.nan),
        )

    offers = describe(offers)[OFFER_COLUMNS].sort_values(
        ["customer_id", "offer_rank"], ignore_index=True
    )
    prospects = describe(prospects)[PROSPECT_COLUMNS].sort_values(
        ["sku", "prospect_rank"], ignore_index=True
    )
    n_rules = int((rules.confidence > 0).sum())
    metrics = {
        "n_customers": float(len(customers)),
        "n_products": float(n_items),
        "n_candidate_products": float(rules.candidate.sum()),
        "n_rules": float(n_rules),
        "share_offers_affinity": float((offers["basis"] == "affinity").mean())
        if len(offers)
        else 0.0,
        "customers_with_affinity_offer": float(
            offers.loc[offers["basis"] == "affinity", "customer_id"].nunique()
        ),
    }
    return offers, prospects, metrics


def evaluate_offers(
    lines: pd.DataFrame, as_of: date, config: CrossSellConfig | None = None, horizon_days: int = 90
) -> dict[str, float]:
    """Backtest: offers made `horizon_days` before `as_of`, hits in the days after.

    hit rate = share of customers (with offers at the cutoff) who bought at least one offered
    product before `as_of`; the baseline makes popularity-only offers (no rules) to the same
    customers. Precision = offered products bought / offers.
    """
    cfg = config or CrossSellConfig()
    paid = paid_lines(lines)
    cutoff = day(as_of) - pd.Timedelta(days=horizon_days)
    future = paid[(paid["ordered_at"] >= cutoff) & (paid["ordered_at"] < day(as_of))]
    bought_after = set(zip(future["customer_id"], future["sku"], strict=True))
    out: dict[str, float] = {}
    for label, c in (("offer", cfg), ("popular", replace(cfg, min_lift=float("inf")))):
        offers, _, _ = recommend(paid, cutoff.date(), c)
        if offers.empty:
            return {}
        hit = np.array(
            [
                (cu, s) in bought_after
                for cu, s in zip(offers["customer_id"], offers["sku"], strict=True)
            ]
        )
        per_customer = pd.Series(hit).groupby(offers["customer_id"].to_numpy()).any()
        out[f"{label}_hit_rate_{horizon_days}d"] = float(per_customer.mean())
        out[f"{label}_precision_{horizon_days}d"] = float(hit.mean())
    out["backtest_customers"] = float(per_customer.size)
    return out
