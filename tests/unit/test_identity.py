import numpy as np
import pandas as pd
import pytest

from pipelines.identity.clustering import ClusterGuards, guarded_clusters
from pipelines.identity.deterministic import (
    Guards,
    cluster,
    demoted_identifiers,
    identifiers,
    names_compatible,
    placeholder_dates,
)
from pipelines.identity.evaluate import pairwise_scores
from pipelines.identity.stable_ids import assign_ids, update_aliases


def records(rows):
    cols = [
        "source_system",
        "source_record_id",
        "name_key",
        "is_role_mailbox",
        "email_key",
        "phone_e164",
        "loyalty_card_number",
        "weibo_handle",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_names_compatible_allows_typos_and_partial_names_but_not_relatives():
    assert names_compatible("wang wei", "wnag wei")
    assert names_compatible("wei", "wang wei")
    assert not names_compatible("wang wei", "fang wang")
    assert not names_compatible("john smith", "jane smith")


def test_shared_identifiers_are_demoted_and_do_not_merge_people():
    df = records(
        [
            ("crm", "1", "wang wei", False, "ww@qq.com", "+8613800138000", None, None),
            ("shop", "2", "wang wei", False, "ww@qq.com", None, None, None),
            ("shop", "3", "fang wang", False, None, "+8613800138000", None, None),  # family phone
            ("crm", "4", "john smith", True, "info@b.com", None, None, None),
            ("shop", "5", "anna lee", True, "info@b.com", None, None, None),  # role mailbox
            ("social", "6", None, False, None, None, None, "ww88"),
            ("crm", "7", "wang wei", False, None, None, "LC1", "ww88"),
            ("shop", "8", "wang wei", False, None, None, "LC1", None),
        ]
    )
    out, demoted, _ = cluster(df)
    cid = dict(zip(out["source_record_id"], out["cluster"]))
    assert cid["1"] == cid["2"]
    assert cid["3"] != cid["1"]
    assert cid["4"] != cid["5"]
    assert cid["6"] == cid["7"] == cid["8"]
    assert set(demoted["reason"]) == {"different_people", "role_mailbox"}
    assert out.set_index("source_record_id").loc["3", "match_rule"] == "singleton"


def test_too_many_records_on_one_identifier_is_demoted():
    df = records(
        [("shop", str(i), None, False, None, "+8613800000000", None, None) for i in range(12)]
    )
    out, demoted, _ = cluster(df)
    assert out["cluster"].nunique() == 12
    assert demoted["reason"].tolist() == ["shared_by_too_many_records"]


def test_a_business_number_links_nobody():
    # guests for whom the shop typed in its own 400 hotline (a shared-cost number), no names
    df = records(
        [
            ("shop", "G1", None, False, "lin@gmail.com", "+864008208820", None, None),
            ("shop", "G2", None, False, "chris@gmail.com", "+864008208820", None, None),
            ("shop", "G3", None, False, "a@qq.com", "+8613812345678", None, None),
            ("crm", "C3", None, False, None, "+8613812345678", None, None),
        ]
    )
    out, demoted, _ = cluster(df)
    cid = dict(zip(out["source_record_id"], out["cluster"]))
    assert cid["G1"] != cid["G2"]
    assert cid["G3"] == cid["C3"]  # a mobile number still links
    assert demoted[["value", "reason"]].values.tolist() == [["+864008208820", "business_number"]]


def clusters(assignments):
    return pd.DataFrame(
        [("crm", rid, c) for rid, c in assignments],
        columns=["source_system", "source_record_id", "cluster"],
    )


def test_ids_are_stable_across_runs_and_merges_keep_the_oldest():
    first, events = assign_ids(clusters([("a", 0), ("b", 1), ("c", 2)]), None)
    assert set(events["event_type"]) == {"create"}
    ids = dict(zip(first["source_record_id"], first["customer_id"]))
    # same clustering again: same ids, no events
    again, events = assign_ids(clusters([("c", 0), ("a", 1), ("b", 2)]), first)
    assert dict(zip(again["source_record_id"], again["customer_id"])) == ids
    assert events.empty
    # a and b merge: the older (lower) id survives, the merge is an event
    merged, events = assign_ids(clusters([("a", 0), ("b", 0), ("c", 1)]), first)
    m = dict(zip(merged["source_record_id"], merged["customer_id"]))
    assert m["a"] == m["b"] == min(ids["a"], ids["b"])
    assert events.drop(columns="reason").to_dict("records") == [
        {
            "event_type": "merge",
            "customer_id": min(ids["a"], ids["b"]),
            "other_customer_id": max(ids["a"], ids["b"]),
        }
    ]


def test_split_keeps_id_in_largest_part():
    first, _ = assign_ids(clusters([("a", 0), ("b", 0), ("c", 0)]), None)
    old = first["customer_id"].iloc[0]
    split, events = assign_ids(clusters([("a", 0), ("b", 0), ("c", 1)]), first)
    s = dict(zip(split["source_record_id"], split["customer_id"]))
    assert s["a"] == s["b"] == old and s["c"] != old
    assert events.drop(columns="reason").to_dict("records") == [
        {"event_type": "split", "customer_id": old, "other_customer_id": s["c"]}
    ]


def test_pairwise_scores():
    pred = pd.DataFrame(
        {
            "source_system": ["crm"] * 4,
            "source_record_id": list("abcd"),
            "customer_id": ["X", "X", "X", "Y"],
        }
    )
    truth = pd.DataFrame(
        {
            "source_system": ["crm"] * 4,
            "source_record_id": list("abcd"),
            "person_id": ["p", "p", "q", "q"],
        }
    )
    scores = pairwise_scores(pred, truth)
    assert scores["precision"] == 1 / 3  # predicted pairs ab, ac, bc; only ab true
    assert scores["recall"] == 1 / 2  # true pairs ab, cd
    assert (scores["false_merge_pairs"], scores["missed_pairs"]) == (2, 1)
    # B-cubed precision: a,b see 2/3 of their cluster, c 1/3, d 1/1
    assert scores["bcubed_precision"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)
    assert scores["bcubed_recall"] == pytest.approx((1 + 1 + 1 / 2 + 1 / 2) / 4)


def test_names_compatible_handles_pinyin_syllables_initials_and_typos():
    assert names_compatible("de he yan", "deyan he")
    assert names_compatible("an han xin", "anxin han")
    assert names_compatible("gao hao qiu", "gaoqiuhao")
    assert names_compatible("chun li wei", "li wiechun")
    assert names_compatible("bin wen", "binwen zhang")
    assert names_compatible("katherine r", "katherine reed")
    assert names_compatible("allen emiyl", "allen emily")
    assert not names_compatible("allen emily", "allen mark")
    assert not names_compatible("wu yi yi", "wu yiran")  # sisters sharing the family phone
    # two neighbouring letters swapped, even in a short name or in joined syllables
    assert names_compatible("lin wang", "lni wang")
    assert names_compatible("wright zeo", "wright zoe")
    assert names_compatible("jing ke zhou", "ekjing zhou")
    # a repeated syllable needs as many tokens on the other side (杨洋洋 vs Yang Pinggang)
    assert not names_compatible("yang yang yang", "pinggang yang")
    assert names_compatible("yang yang", "yang yang")


def edges(rows):
    return pd.DataFrame(rows, columns=["left", "right", "rule", "strength"])


def test_a_chain_of_weaker_links_cannot_join_different_loyalty_cards():
    records = pd.DataFrame({"loyalty_card_number": ["LC1", None, "LC2"],
                            "birth_date": [None, None, None]})
    # 0 -- 1 (strong) and 1 -- 2 (weak): 2 would bring a second card into 0's cluster
    labels, refused = guarded_clusters(records, edges([
        (0, 1, "email", 2.0), (1, 2, "splink", 0.95)]))
    assert labels[0] == labels[1] != labels[2]
    assert refused[["left", "right", "reason"]].to_dict("records") == [
        {"left": 1, "right": 2, "reason": "different_loyalty_card_number"}]


def test_different_birth_dates_stay_apart_through_chains_but_one_missing_date_does_not_block():
    records = pd.DataFrame({"loyalty_card_number": [None] * 3,
                            "birth_date": ["1990-01-01", None, "1985-05-05"]})
    # 2 reaches 0's birth date only through 1, which has none: a chain
    labels, refused = guarded_clusters(records, edges([
        (0, 1, "splink", 0.99), (1, 2, "splink", 0.97)]))
    assert labels[0] == labels[1] != labels[2]
    assert refused["reason"].tolist() == ["different_birth_date"]
    # a shared email between the two dated records does not weigh their birth dates
    labels, refused = guarded_clusters(records, edges([(0, 2, "email", 2.0)]))
    assert labels[0] != labels[2] and refused["reason"].tolist() == ["different_birth_date"]


def test_a_model_link_may_join_the_two_cards_it_weighed_but_never_two_birth_dates():
    records = pd.DataFrame({"loyalty_card_number": ["LC1234567", "LC1234568", "LC7654321"],
                            "birth_date": [None] * 3})
    labels, refused = guarded_clusters(records, edges([
        (0, 1, "splink", 0.999), (1, 2, "splink", 0.99)]))
    assert labels[0] == labels[1] != labels[2]  # the second link would add a third card
    assert refused["reason"].tolist() == ["different_loyalty_card_number"]
    records = pd.DataFrame({"loyalty_card_number": [None] * 2,
                            "birth_date": ["1990-01-01", "1985-05-05"]})
    labels, refused = guarded_clusters(records, edges([(0, 1, "splink", 0.999)]))
    assert labels[0] != labels[1] and refused["reason"].tolist() == ["different_birth_date"]


def test_a_forms_default_birth_date_is_no_birth_date():
    default = "2008-11-15"  # the youngest age a sign-up form allows, on 5% of CRM contacts
    dates = pd.Series([default] * 30 + [f"19{50 + i}-01-0{1 + i % 9}" for i in range(40)] +
                      [None, "1990-05-05", "1990-05-05"])
    assert placeholder_dates(dates).tolist() == [True] * 30 + [False] * 43
    assert not placeholder_dates(pd.Series([None, None], dtype="object")).any()
    # one person: a CRM contact with the form's default and a shop order with the real date
    df = records([("crm", str(i), f"person {i}", False, f"p{i}@x.com", None, None, None)
                  for i in range(70)] + [
        ("crm", "a", "li na", False, "lina@qq.com", None, None, None),
        ("shop", "b", "li na", False, "lina@qq.com", None, None, None)])
    df["birth_date"] = pd.to_datetime([*dates[:70], default, "1988-04-12"])
    out, _, refused = cluster(df, cluster_guards=ClusterGuards())
    labels = dict(zip(out["source_record_id"], out["cluster"]))
    assert labels["a"] == labels["b"] and refused.empty


def test_birth_dates_one_typo_apart_do_not_conflict():
    records = pd.DataFrame({"loyalty_card_number": [None] * 3,
                            "birth_date": ["1985-03-02", None, "1985-03-20"]})
    labels, refused = guarded_clusters(records, edges([
        (0, 1, "splink", 0.99), (1, 2, "splink", 0.97)]))
    assert labels[0] == labels[1] == labels[2] and refused.empty


def test_cluster_size_limit_drops_the_weakest_links_first():
    records = pd.DataFrame({"loyalty_card_number": [None] * 4, "birth_date": [None] * 4})
    labels, refused = guarded_clusters(
        records,
        edges([(0, 1, "email", 2.0), (2, 3, "email", 2.0), (1, 2, "splink", 0.91)]),
        ClusterGuards(max_cluster_size=3),
    )
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]
    assert refused["reason"].tolist() == ["cluster_size_limit"]


def test_merged_ids_resolve_as_aliases_through_chains():
    none = pd.DataFrame(columns=["alias_customer_id", "customer_id"])
    first = pd.DataFrame({"event_type": ["merge"], "customer_id": ["C1"],
                          "other_customer_id": ["C2"]})
    aliases = update_aliases(none, first)
    assert aliases.to_dict("records") == [{"alias_customer_id": "C2", "customer_id": "C1"}]
    later = pd.DataFrame({"event_type": ["merge"], "customer_id": ["C0"],
                          "other_customer_id": ["C1"]})
    aliases = update_aliases(aliases, later)
    assert dict(zip(aliases["alias_customer_id"], aliases["customer_id"])) == {
        "C1": "C0", "C2": "C0"}


def test_false_merges_sharing_a_phone_or_mailbox_are_counted():
    from pipelines.identity.evaluate import false_merges_sharing

    key = {"source_system": ["crm"] * 4, "source_record_id": ["1", "2", "3", "4"]}
    records = pd.DataFrame({**key, "phone_e164": ["+1", "+1", "+2", None],
                            "email_key": [None, None, "a@x", "a@x"]})
    truth = pd.DataFrame({**key, "person_id": ["mum", "son", "p", "p"]})
    predicted = pd.DataFrame({**key, "customer_id": ["A", "A", "B", "B"]})
    found = false_merges_sharing(predicted, truth, records)
    assert found[["source_record_id_l", "source_record_id_r"]].values.tolist() == [["1", "2"]]
    apart = predicted.assign(customer_id=["A", "C", "B", "B"])
    assert false_merges_sharing(apart, truth, records).empty


def test_household_members_sharing_a_family_phone_stay_apart_whatever_else_they_share():
    df = records([
        ("crm", "1", "andre elodie", False, "ea@orange.fr", "+33608673117", None, None),
        ("shop", "2", "andre louise", False, "la@gmail.com", "+33608673117", None, None),
        ("shop", "3", "andre elodie", False, "ea@orange.fr", None, None, None),
    ])  # fmt: skip
    # a model link between the two sisters (same street, postcode and surname)
    edges = pd.DataFrame({"left": [1], "right": [2], "rule": "splink", "strength": [0.99]})
    out, demoted, refused = cluster(df, extra_edges=edges)
    cid = dict(zip(out["source_record_id"], out["cluster"]))
    assert demoted["reason"].tolist() == ["different_people"]
    assert cid["1"] == cid["3"] != cid["2"]
    assert refused["reason"].tolist() == ["different_household_member"]


def _demotions(frame: pd.DataFrame, earlier=None, changed=None) -> set[tuple]:
    out = demoted_identifiers(identifiers(frame.reset_index(drop=True)), Guards(max_records=4),
                              earlier, changed)
    return set(out.itertuples(index=False, name=None))


def test_incremental_demotions_judge_again_only_changed_values_and_agree_with_a_full_run():
    """A weekly run keeps the verdicts of identifiers none of whose records changed (0084):
    random weeks of edits, removals and new records must give exactly the full run's
    demotions, including a value that lost records without gaining any."""
    rng = np.random.default_rng(7)
    names = ["wang wei", "wei wang", "li na", "zhang min", "anna lee", None]
    phones = ["+861380013800" + str(i) for i in range(8)] + ["+864001234567", None]

    def row(i: int) -> tuple:
        return ("shop", str(i), rng.choice(names), bool(rng.random() < 0.05),
                rng.choice([f"m{k}@qq.com" for k in range(6)] + [None]), rng.choice(phones),
                rng.choice(["LC1", "LC2", None, None]), None)

    week = records([row(i) for i in range(40)])
    earlier = demoted_identifiers(identifiers(week), Guards(max_records=4))
    lost_only = 0
    for _ in range(12):
        kept = week[rng.random(len(week)) > 0.1]  # some records removed (erased, deleted)
        edited = kept.sample(frac=0.1, random_state=int(rng.integers(1 << 30)))
        fresh = records([row(int(rng.integers(1000, 10**6))) for _ in range(3)])
        changed_rows = records([row(0) for _ in range(len(edited))])
        changed_rows["source_record_id"] = edited["source_record_id"].to_numpy()
        week_after = pd.concat([kept.drop(edited.index), changed_rows, fresh],
                               ignore_index=True)
        changed = np.r_[np.zeros(len(kept) - len(edited), bool),
                        np.ones(len(changed_rows) + len(fresh), bool)]
        full = _demotions(week_after)
        assert _demotions(week_after, earlier, changed) == full
        before = {(k, v): n for k, v, n, _ in earlier.itertuples(index=False, name=None)}
        lost_only += sum(1 for k, v, n, _ in full if (k, v) in before and before[k, v] != n)
        earlier = demoted_identifiers(identifiers(week_after), Guards(max_records=4))
        week = week_after
    assert lost_only  # the weeks did exercise a demoted value whose records changed


def test_an_unchanged_family_phone_keeps_its_verdict_and_a_new_member_is_judged():
    family = records([
        ("crm", "1", "wang wei", False, None, "+8613800138000", None, None),
        ("shop", "2", "wang wei", False, None, "+8613800138000", None, None),
    ])
    assert _demotions(family) == set()
    earlier = demoted_identifiers(identifiers(family))
    grown = pd.concat([family, records(
        [("shop", "3", "fang li", False, None, "+8613800138000", None, None)])],
        ignore_index=True)
    assert _demotions(grown, earlier, np.array([False, False, True])) == {
        ("phone_e164", "+8613800138000", 3, "different_people")}
    # the verdict is kept, not judged again, while none of its records changes
    kept = pd.DataFrame({"kind": ["phone_e164"], "value": ["+8613800138000"], "records": [3],
                         "reason": ["different_people"]})
    assert _demotions(grown, kept, np.zeros(3, bool)) == {
        ("phone_e164", "+8613800138000", 3, "different_people")}
    # the new member erased: two records left, judged again and no longer demoted
    assert _demotions(family, kept, np.zeros(2, bool)) == set()
