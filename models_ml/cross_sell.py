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
runs in chunks of customers. The input is `Baskets` (one row per customer and product bought,
the days each product sold), aggregated by DuckDB in the pipeline or built from order lines
here. Weekly runs may score with rules fitted earlier (`score_week`, decision 0070): the
purchases excluded and the products still sold are always this week's.
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


@dataclass
class Baskets:
    """Paid purchases before some `as_of`, aggregated: everything the model reads.

    - pairs: customer_id, sku, first_at - one row per customer and product they bought;
    - products: sku, product_name, product_category - one row per product;
    - product_days: sku, day - the days each product was sold (for "sold recently");
    - order_pairs: order_id, sku, first_at - only for ``basket = "order"``.

    Built from order lines by `baskets_from_lines`, or by SQL in the warehouse
    (`pipelines.cross_sell_run.read_baskets`), which never loads the order lines.
    """

    pairs: pd.DataFrame
    products: pd.DataFrame
    product_days: pd.DataFrame
    order_pairs: pd.DataFrame | None = None

    def before(self, as_of: date) -> Baskets:
        """The same purchases as if `as_of` were earlier (first_at / day before it)."""
        cut = day(as_of)
        return Baskets(
            pairs=self.pairs[self.pairs["first_at"] < cut],
            products=self.products,
            product_days=self.product_days[self.product_days["day"] < cut],
            order_pairs=None
            if self.order_pairs is None
            else self.order_pairs[self.order_pairs["first_at"] < cut],
        )

    def basket_pairs(self, basket: str) -> pd.DataFrame:
        """(basket, sku) pairs: customers' whole histories or single orders."""
        if basket == "order":
            if self.order_pairs is None:
                raise ValueError("basket 'order' needs order_pairs")
            return self.order_pairs.rename(columns={"order_id": "basket"})
        return self.pairs.rename(columns={"customer_id": "basket"})

    def sold_since(self, start: pd.Timestamp) -> np.ndarray:
        return self.product_days.loc[self.product_days["day"] >= start, "sku"].unique()


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


def baskets_from_lines(lines: pd.DataFrame, as_of: date | None = None) -> Baskets:
    """`Baskets` from order lines (pandas; the warehouse path does the same in SQL).

    A product's name and category are the smallest seen on its lines (they are one per sku
    in the marts); a category-level basket holds the categories of its products.
    """
    paid = paid_lines(lines, as_of)
    pairs = paid.groupby(["customer_id", "sku"], as_index=False, sort=True)["ordered_at"].min()
    orders = paid.groupby(["order_id", "sku"], as_index=False, sort=True)["ordered_at"].min()
    products = paid.groupby("sku", as_index=False, sort=True).agg(
        product_name=("product_name", "min"), product_category=("product_category", "min")
    )
    days = paid.assign(day=paid["ordered_at"].dt.normalize())[["sku", "day"]]
    return Baskets(
        pairs=pairs.rename(columns={"ordered_at": "first_at"}),
        products=products,
        product_days=days.drop_duplicates(ignore_index=True),
        order_pairs=orders.rename(columns={"ordered_at": "first_at"}),
    )


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
    lines: pd.DataFrame | Baskets, level: str = "product", config: CrossSellConfig | None = None
) -> pd.DataFrame:
    """Item pairs i -> j with support, confidence and lift (both directions, i != j).

    `lines`: paid order lines (`paid_lines`) or `Baskets`. `level` is "product" (sku) or
    "category" (product_category). Pairs in fewer than ``min_pair_baskets`` baskets are
    dropped; lower lift is kept here (it is a report).
    """
    cfg = config or CrossSellConfig()
    b = lines if isinstance(lines, Baskets) else baskets_from_lines(lines)
    pairs = b.basket_pairs(cfg.basket)
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in AFFINITY_COLUMNS})
    products = b.products.set_index("sku")
    if level == "product":
        keys, names = pairs["sku"], products["product_name"]
    else:
        keys = pairs["sku"].map(products["product_category"])
        names = None
    m, index = _incidence(pairs["basket"], keys)
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
    if names is not None:
        out["antecedent_name"] = out["antecedent"].map(names)
        out["consequent_name"] = out["consequent"].map(names)
    else:
        out["antecedent_name"] = out["antecedent"]
        out["consequent_name"] = out["consequent"]
    out = out.sort_values(["lift", "baskets_with_both"], ascending=False, kind="stable")
    return out[AFFINITY_COLUMNS].reset_index(drop=True)


def purchases(pairs: pd.DataFrame, items: pd.Index) -> tuple[sparse.csr_matrix, pd.Index]:
    """The customers x `items` 'has bought' matrix and its (sorted) customer index.

    Every customer in `pairs` gets a row; products outside `items` (e.g. first sold after
    reused rules were fitted) are left out of the columns.
    """
    cust_codes, customers = pd.factorize(pairs["customer_id"], sort=True)
    item_codes = items.get_indexer(pairs["sku"])
    known = item_codes >= 0
    bought = sparse.csr_matrix(
        (np.ones(int(known.sum())), (cust_codes[known], item_codes[known])),
        shape=(len(customers), len(items)),
    )
    bought.sum_duplicates()
    bought.data[:] = 1.0
    return bought, pd.Index(customers)


def candidates(baskets: Baskets, items: pd.Index, as_of: date, active_days: int) -> np.ndarray:
    """Per item: sold in the `active_days` before `as_of` (only those may be offered)."""
    start = day(as_of) - pd.Timedelta(days=active_days)
    return np.asarray(items.isin(baskets.before(as_of).sold_since(start)))


def fit_rules(
    lines: pd.DataFrame | Baskets, as_of: date, config: CrossSellConfig | None = None
) -> tuple[Rules, sparse.csr_matrix, pd.Index]:
    """Product rules plus the customers x products 'has bought' matrix and its customer index.

    `lines`: paid order lines before `as_of` (`paid_lines`) or their `Baskets`.
    """
    cfg = config or CrossSellConfig()
    b = lines if isinstance(lines, Baskets) else baskets_from_lines(lines)
    if cfg.basket == "customer":  # the baskets are the 'has bought' matrix itself
        items = pd.Index(pd.factorize(b.pairs["sku"], sort=True)[1])
        bought, customers = purchases(b.pairs, items)
        m = bought
    else:
        basket = b.basket_pairs(cfg.basket)
        m, items = _incidence(basket["basket"], basket["sku"])
        bought, customers = purchases(b.pairs, items)
    co, counts, n = _pair_stats(m)
    conf = np.divide(co, counts[:, None], out=np.zeros_like(co), where=counts[:, None] > 0)
    lift = conf / (counts / n)[None, :]
    keep = (co >= cfg.min_pair_baskets) & (lift > cfg.min_lift)
    conf = np.where(keep, np.minimum(conf, _CONF_CAP), 0.0)
    lift = np.where(keep, lift, 0.0)

    popularity = np.asarray(bought.sum(axis=0)).ravel() / max(len(customers), 1)
    products = b.products.set_index("sku")
    rules = Rules(
        items=items,
        names=products["product_name"].reindex(items),
        categories=products["product_category"].reindex(items),
        confidence=conf,
        lift=lift,
        popularity=popularity,
        candidate=candidates(b, items, as_of, cfg.active_days),
    )
    return rules, bought, customers


def rules_to_frames(rules: Rules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(items: sku, product_name, product_category, popularity; rules: antecedent,
    consequent, confidence, lift) - what a later week needs to reuse the fit (Parquet keeps
    the float64 values exactly). Candidates are not kept: every week decides them anew."""
    items = pd.DataFrame(
        {
            "sku": np.asarray(rules.items, dtype=object),
            "product_name": rules.names.to_numpy(),
            "product_category": rules.categories.to_numpy(),
            "popularity": rules.popularity,
        }
    )
    i, j = np.nonzero(rules.confidence > 0)
    pairs = pd.DataFrame(
        {
            "antecedent": np.asarray(rules.items[i], dtype=object),
            "consequent": np.asarray(rules.items[j], dtype=object),
            "confidence": rules.confidence[i, j],
            "lift": rules.lift[i, j],
        }
    )
    return items, pairs


def rules_from_frames(items: pd.DataFrame, pairs: pd.DataFrame) -> Rules:
    """The inverse of `rules_to_frames` (all items candidates until `with_candidates`)."""
    index = pd.Index(items["sku"].astype(str).to_numpy(), dtype=object)
    n = len(index)
    conf, lift = np.zeros((n, n)), np.zeros((n, n))
    i = index.get_indexer(pairs["antecedent"].astype(str))
    j = index.get_indexer(pairs["consequent"].astype(str))
    conf[i, j] = pairs["confidence"].to_numpy(dtype=np.float64)
    lift[i, j] = pairs["lift"].to_numpy(dtype=np.float64)
    return Rules(
        items=index,
        names=pd.Series(items["product_name"].to_numpy(), index=index),
        categories=pd.Series(items["product_category"].to_numpy(), index=index),
        confidence=conf,
        lift=lift,
        popularity=items["popularity"].to_numpy(dtype=np.float64),
        candidate=np.ones(n, dtype=bool),
    )


def _score_chunks(rules: Rules, bought: sparse.csr_matrix, rows: int) -> Iterator[tuple]:
    """(row offset, scores chunk) with bought and non-candidate products at -inf."""
    log_miss = np.log1p(-rules.confidence)  # 0 where there is no rule
    for start in range(0, bought.shape[0], rows):
        b = bought[start : start + rows]
        score = 1.0 - np.exp(np.asarray(b @ log_miss))
        score[b.nonzero()] = -np.inf  # never offer what the customer has bought
        score[:, ~rules.candidate] = -np.inf
        yield start, score


def _because(pairs: pd.DataFrame, rules: Rules, bought: sparse.csr_matrix) -> pd.DataFrame:
    """For (row, item) pairs: the bought product with the strongest rule to the item
    (ties: the lowest product index), -1 when no bought product has a rule to it."""
    out = pairs.copy()
    if out.empty:
        return out.assign(because=pd.Series(dtype="int64"), conf=0.0, lift=0.0)
    rows = out["row"].to_numpy()
    items = out["item"].to_numpy()
    best = np.full(len(out), -1, dtype=np.int64)
    best_conf = np.zeros(len(out))
    indptr, indices = bought.indptr, bought.indices  # csr: column indices sorted per row
    step = 1_000_000  # pairs per block: bounds the (pair x owned product) arrays
    for lo in range(0, len(out), step):
        r, j = rows[lo : lo + step], items[lo : lo + step]
        owned_n = indptr[r + 1] - indptr[r]
        if not owned_n.sum():
            continue
        group = np.repeat(np.arange(len(r)), owned_n)
        first = np.cumsum(owned_n) - owned_n
        owned = indices[np.repeat(indptr[r], owned_n) + np.arange(group.size) - first[group]]
        conf = rules.confidence[owned, j[group]]
        order = np.lexsort((-conf, group))  # stable: equal confidences keep product order
        has = owned_n > 0
        top = order[first[has]]
        ok = conf[top] > 0
        idx = np.flatnonzero(has)[ok] + lo
        best[idx], best_conf[idx] = owned[top[ok]], conf[top[ok]]
    out["because"] = best
    out["conf"] = best_conf
    out["lift"] = np.where(best >= 0, rules.lift[np.maximum(best, 0), items], 0.0)
    return out


def _top_k(score: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Indices of the k largest entries along `axis` (ties: lower index first), the same as
    the first k of a stable argsort of ``-score`` without sorting everything."""
    if axis == 0:
        n = score.shape[0]
        if 0 < k and n >= 64 * k:  # tall: a sample of rows bounds the candidates
            sample = score[::16]
            kth = np.partition(sample, sample.shape[0] - k, axis=0)[sample.shape[0] - k]
            take = score >= kth  # holds every column's top k and the ties at its k-th value
            if take.sum() <= score.size // 8:
                rows, cols = np.nonzero(take)
                order = np.lexsort((rows, -score[rows, cols], cols))
                counts = np.bincount(cols, minlength=score.shape[1])  # >= k each
                first = np.cumsum(counts) - counts
                return rows[order[first[None, :] + np.arange(k)[:, None]]]
        return _top_k(np.ascontiguousarray(score.T), k, 1).T
    n, m = score.shape
    k = min(k, m)
    if k == 0 or n == 0:
        return np.empty((n, k), dtype=np.intp)
    neg = -score
    if k == m:
        return np.argsort(neg, axis=1, kind="stable")
    kth = np.partition(neg, k - 1, axis=1)[:, k - 1 : k]  # the k-th best value per row
    take = neg < kth  # fewer than k strictly better
    tie = neg == kth
    need = k - take.sum(axis=1)
    spare = tie.sum(axis=1) > need  # rows where only the first `need` ties get in
    take |= tie & ~spare[:, None]
    if spare.any():
        sub = tie[spare]
        take[spare] |= sub & (np.cumsum(sub, axis=1) <= need[spare][:, None])
    rows, cols = np.nonzero(take)  # exactly k per row, in index order
    order = np.lexsort((cols, neg[rows, cols], rows))
    return cols[order].reshape(n, k)


def _empty_outputs() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in OFFER_COLUMNS})
    return empty, pd.DataFrame({c: pd.Series(dtype="object") for c in PROSPECT_COLUMNS}), {}


def recommend(
    lines: pd.DataFrame | Baskets, as_of: date, config: CrossSellConfig | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """(offers per customer, prospects per product, metrics) from paid lines before `as_of`.

    Offers: for each customer the ``offers_per_customer`` best products they have not bought
    (rule-based first, then popular ones). Prospects: for each candidate product the
    ``prospects_per_product`` customers with the highest rule-based score who have not bought
    it (customers without any rule to the product are not prospects).
    """
    cfg = config or CrossSellConfig()
    b = (lines if isinstance(lines, Baskets) else baskets_from_lines(lines)).before(as_of)
    if b.pairs.empty:
        return _empty_outputs()
    rules, bought, customers = fit_rules(b, as_of, cfg)
    return score(rules, bought, customers, cfg)


def score_week(
    rules: Rules, baskets: Baskets, as_of: date, config: CrossSellConfig | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Offers and prospects from rules fitted earlier (a reuse week, decision 0070).

    What each customer bought and which products are still sold are this week's
    (`baskets` before `as_of`): a product bought since the fit is never offered, and one no
    longer sold in ``active_days`` is dropped. The rules and popularity are the fit's.
    """
    cfg = config or CrossSellConfig()
    b = baskets.before(as_of)
    if b.pairs.empty:
        return _empty_outputs()
    rules = replace(rules, candidate=candidates(b, rules.items, as_of, cfg.active_days))
    bought, customers = purchases(b.pairs, rules.items)
    return score(rules, bought, customers, cfg)


def _rank(
    rules: Rules, bought: sparse.csr_matrix, cfg: CrossSellConfig, prospects: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(offers: row, item, offer_rank, score, basis; the best prospects of each chunk: row,
    item, score) by row and item position, customer after customer (`prospects=False`: the
    offers only)."""
    n_items = len(rules.items)
    rows = max(1, cfg.score_cells // max(n_items, 1))
    offer_parts: list[pd.DataFrame] = []
    prospect_best: list[pd.DataFrame] = []
    for start, score in _score_chunks(rules, bought, rows):
        # offers: rule-based products first (score > 0), then popular ones, bought excluded
        # scores are in [0, 1) or -inf: rule-based (> 0) outrank popular ones (== 0)
        rank_key = np.where(score > 0, score + 1.0, rules.popularity[None, :])
        rank_key[np.isneginf(score)] = -np.inf
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
        if not prospects:
            continue
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

    offers = pd.concat(offer_parts, ignore_index=True)
    return offers, pd.concat(prospect_best, ignore_index=True) if prospects else None


def score(
    rules: Rules, bought: sparse.csr_matrix, customers: pd.Index, config: CrossSellConfig
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Offers, prospects and metrics for the customers (rows of `bought`, `customers` in
    sorted order as `purchases` gives them) under `rules`."""
    cfg = config
    n_items = len(rules.items)
    offers, prospects = _rank(rules, bought, cfg)
    offers = _because(offers, rules, bought)
    prospects["customer_id"] = customers[prospects["row"].to_numpy()]
    prospects = prospects.sort_values(
        ["item", "score", "customer_id"], ascending=[True, False, True], kind="stable"
    )
    prospects = prospects.groupby("item", sort=False).head(cfg.prospects_per_product)
    prospects["prospect_rank"] = prospects.groupby("item").cumcount() + 1
    prospects = _because(prospects.drop(columns="customer_id"), rules, bought)

    names = rules.names.to_numpy(dtype=object)
    categories = rules.categories.to_numpy(dtype=object)
    skus = np.asarray(rules.items, dtype=object)

    def describe(frame: pd.DataFrame) -> pd.DataFrame:
        item = frame["item"].to_numpy()
        has = frame["because"].to_numpy() >= 0
        because = np.maximum(frame["because"].to_numpy(), 0)
        return frame.assign(
            customer_id=customers[frame["row"].to_numpy()].astype(str),
            sku=skus[item],
            product_name=names[item],
            product_category=categories[item],
            because_of_sku=np.where(has, skus[because], None),
            because_of_name=np.where(has, names[because], None),
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
    lines: pd.DataFrame | Baskets,
    as_of: date,
    config: CrossSellConfig | None = None,
    horizon_days: int = 90,
) -> dict[str, float]:
    """Backtest: offers made `horizon_days` before `as_of`, hits in the days after.

    hit rate = share of customers (with offers at the cutoff) who bought at least one offered
    product before `as_of`; the baseline makes popularity-only offers (no rules) to the same
    customers. Precision = offered products bought / offers.
    """
    cfg = config or CrossSellConfig()
    b = lines if isinstance(lines, Baskets) else baskets_from_lines(lines)
    cutoff = day(as_of) - pd.Timedelta(days=horizon_days)
    past = b.before(cutoff.date())
    if past.pairs.empty:
        return {}
    rules, bought, customers = fit_rules(past, cutoff.date(), cfg)
    # an offered product was not bought before the cutoff: it is a hit if its customer's
    # first purchase of it falls in [cutoff, as_of); compared as (row, item) positions
    window = b.pairs[(b.pairs["first_at"] >= cutoff) & (b.pairs["first_at"] < day(as_of))]
    n_items = len(rules.items)
    w_row = customers.get_indexer(window["customer_id"])
    w_item = rules.items.get_indexer(window["sku"])
    known = (w_row >= 0) & (w_item >= 0)
    bought_after = w_row[known].astype(np.int64) * n_items + w_item[known]
    # popularity-only offers: the same fit without rules (what min_lift = inf would give)
    no_rules = replace(rules, confidence=np.zeros_like(rules.confidence),
                       lift=np.zeros_like(rules.lift))  # fmt: skip
    out: dict[str, float] = {}
    for label, r in (("offer", rules), ("popular", no_rules)):
        offers, _ = _rank(r, bought, cfg, prospects=False)
        if offers.empty:
            return {}
        rows = offers["row"].to_numpy()
        hit = np.isin(rows.astype(np.int64) * n_items + offers["item"].to_numpy(), bought_after)
        per_customer = pd.Series(hit).groupby(rows).any()
        out[f"{label}_hit_rate_{horizon_days}d"] = float(per_customer.mean())
        out[f"{label}_precision_{horizon_days}d"] = float(hit.mean())
    out["backtest_customers"] = float(per_customer.size)
    return out


# --- weekly scoring of changed customers only (decision 0085) -------------------------------
#
# With the same rules, popularity and settings, a customer's offers depend only on what they
# bought (the products they own are excluded, the noisy-or and "because of" come from them)
# and on which products are candidates: purchases never age out (the 'has bought' matrix
# holds every paid purchase before `as_of`), only candidates do (`active_days`). Losing a
# candidate changes only the customers who were offered it (a total order with one entry
# removed keeps its top k otherwise); gaining one may change anybody. The prospects of a
# product are a top N over all customers, so a deeper list (`PROSPECT_POOL` per product) is
# kept to refill a product's top N when some of its prospects changed.

PROSPECT_POOL = 100  # customers kept per product to update the top N prospects incrementally


def prospect_pool(prospects: pd.DataFrame, depth: int) -> pd.DataFrame:
    """A product's prospects from `score` with ``prospects_per_product = depth`` plus
    ``pool_complete``: the list holds every customer with a positive score (fewer rows than
    `depth`; a product without rows has no such customer)."""
    size = prospects.groupby("sku")["sku"].transform("size")
    return prospects.assign(pool_complete=(size < depth).to_numpy())


def update_prospect_pool(
    pool: pd.DataFrame,
    changed: pd.Index,
    fresh: pd.DataFrame,
    keep_skus: pd.Index,
    per_product: int,
    depth: int,
) -> pd.DataFrame | None:
    """Last week's `pool` (`prospect_pool`) updated with this week's rescored customers.

    `changed`: every customer whose scores may differ (rescored or gone); `fresh`: the
    prospects among the rescored customers, top `depth` per product (`score`); `keep_skus`:
    the products that are still candidates. A product's pool is the exact top of all
    customers by (score desc, customer_id), so an unchanged customer outside it ranks below
    its last row: the merged rows are exact down to that row (all of them when the pool was
    complete). A rescored customer outside `fresh` ranks below `depth` rows of `fresh` and
    cannot enter the top `depth`. Returns None when a product is left with fewer than
    `per_product` known rows without being complete: then only scoring every customer gives
    its top N.
    """
    cols = [*PROSPECT_COLUMNS, "pool_complete"]
    old = pool[pool["sku"].isin(keep_skus)]
    fresh = fresh[fresh["sku"].isin(keep_skus)]
    # per product: whether last week's list was complete, and its last (lowest) row
    last = old.sort_values(["sku", "prospect_rank"]).groupby("sku").tail(1).set_index("sku")
    last = last[~last["pool_complete"].astype(bool)]
    union = pd.concat(
        [old[~old["customer_id"].isin(changed)].drop(columns="pool_complete"),
         fresh[PROSPECT_COLUMNS]],
        ignore_index=True,
    )  # fmt: skip
    union = union.sort_values(
        ["sku", "score", "customer_id"], ascending=[True, False, True], kind="stable",
        ignore_index=True,
    )  # fmt: skip
    bound = last.reindex(union["sku"])  # NaN score: complete, everything known
    bs = bound["score"].to_numpy(dtype=float)
    bc = bound["customer_id"].fillna("").to_numpy(dtype=object)
    us, uc = union["score"].to_numpy(dtype=float), union["customer_id"].to_numpy(dtype=object)
    known = np.isnan(bs) | (us > bs) | ((us == bs) & (uc <= bc))
    known_rows = union[known]
    out = known_rows.groupby("sku", sort=False).head(depth).copy()
    out["prospect_rank"] = out.groupby("sku").cumcount() + 1
    skus = old["sku"].drop_duplicates().pipe(pd.Index).union(pd.Index(fresh["sku"].unique()))
    rows = known_rows.groupby("sku").size().reindex(skus, fill_value=0)
    complete = ~skus.isin(last.index) & (rows < depth).to_numpy()
    if ((rows < per_product).to_numpy() & ~complete).any():
        return None
    out["pool_complete"] = out["sku"].map(pd.Series(complete, index=skus)).astype(bool)
    return out[cols].reset_index(drop=True)
