"""Probabilistic matching on a small hand-made set of customer records."""

import numpy as np
import pandas as pd
import pytest

from pipelines.identity import probabilistic as prob
from pipelines.identity.deterministic import cluster
from pipelines.standardise import email_match_key, name_key

COLUMNS = [
    "source_system", "source_record_id", "first_name", "last_name", "full_name", "email",
    "phone_e164", "city", "postcode", "birth_date",
]  # fmt: skip

# (person, source, first, last, full, email, phone, city, postcode, birth date)
PEOPLE = [
    # the person under test: characters, pinyin, swapped order
    ("zw", "crm", "伟", "张", "张伟", "zhangwei85@163.com", None, "上海", "200031", "1985-03-02"),
    ("zw", "shop", "Wei", "Zhang", "Wei Zhang", "zhangwei85@qq.com", None, "Shanghai", None,
     "1985-03-02"),
    ("zw", "crm", "Zhang", "Wei", "Zhang Wei", " ZhangWei85@163.com", None, "SHANGHAI",
     "200031", "1985-03-02"),
    # a family: one surname, one phone, one address, different given names and birth dates
    ("f1", "crm", "建国", "王", "王建国", "wjg1960@163.com", "+8613800138000", "北京", "100010",
     "1960-05-01"),
    ("f2", "crm", "芳", "王", "王芳", None, "+8613800138000", "北京", "100010", "1962-08-12"),
    ("f3", "shop", "Xiaoming", "Wang", "Xiaoming Wang", None, "+8613800138000", "Beijing",
     "100010", None),
    # other people: typos, joined syllables, names from email addresses, Western names
    ("dy", "crm", "德燕", "何", "何德燕", "hedeyan@126.com", "+8613911112222", "广州", "510000",
     "1990-01-15"),
    ("dy", "shop", "Deyan", "He", "Deyan He", "hedeyan@126.com", None, "Guangzhou", "510000",
     None),
    ("dy", "social", None, None, "He Deyan", None, None, "Guangzhou", None, None),
    ("tg", "shop", "Grace", "Thomas", "Grace Thomas", "grace.thomas@gmail.com", "+447700900123",
     "Manchester", "M14BT", None),
    ("tg", "social", None, None, "Thomas Grace", None, None, "Manchester", None, None),
    ("tg", "crm", "Grace", "Thomas", "Grace Thomas", "gthomas@outlook.com", None, "Manchester",
     "M14BT", "1988-11-30"),
    ("ls", "crm", "Li", "Sun", "Li Sun", "sunli77@sina.com", "+8613622223333", "南京", "210000",
     "1977-07-07"),
    ("ls", "shop", "Li", "Sun", "Li Sun", "sunli77@sina.com", None, "Nanjing", None, None),
    ("ls", "social", None, None, "孙丽", None, None, "南京", None, None),
    ("jm", "crm", "Jonas", "Meier", "Jonas Meier", "jonas.meier@web.de", "+4915112345678",
     "München", "80331", "1979-09-02"),
    ("jm", "shop", "Jonas", "Meeir", "Jonas Meeir", "jonas.meier@web.de", None, "Munich",
     "80331", None),
    ("jm", "social", None, None, "JonasMeier", None, None, "Munich", None, None),
    ("cd", "shop", "Camille", "Dupont", "Camille Dupont", "cdupont27@laposte.net", None, "Paris",
     "75011", None),
    ("cd", "shop", "Camille", "Dupont", "Camille Dupont", "cdupont27@outlook.com",
     "+33612345678", "Paris", "75011", None),
    ("cd", "social", None, None, "camille dupont", None, None, "Paris", None, None),
    ("yl", "crm", "颖清", "何", "何颖清", "heyingqing1970@163.com", None, "北京", "100738",
     "1970-12-07"),
    ("yl", "shop", None, None, None, "heyingqing1970@163.com", None, None, None, None),
    ("yl", "social", None, None, "heyingqing", None, None, "北京", None, None),
    ("mw", "crm", "Michelle", "Williams", "Michelle Williams", "mwilliams24@gmail.com",
     "+12126979020", "New York", "10074", "1984-02-11"),
    ("mw", "shop", "Michelle", "Williams", "Michelle Williams", "mwilliams24@gmail.com", None,
     "New York", "10074", None),
    ("mw", "social", None, None, "Michelle Williams", None, None, "New York", None, None),
    ("hq", "shop", "Qin", "He", "Qin He", "heq88@163.com", "+8616605448110", "深圳", "518321",
     None),
    ("hq", "social", None, None, "何琴", None, None, "深圳", None, None),
    ("lm", "crm", "Mingde", "Lin", "Mingde Lin", None, None, "上海", "200997", "1994-01-28"),
    ("lm", "crm", "铭德", "林", "林铭德", None, None, "上海", "200997", "1994-01-28"),
    ("lm", "shop", "Mingde", "Lin", "Mingde Lin", "linmd42@outlook.com", None, "上海", "200997",
     None),
]
SINGLES = [
    ("Oliver", "Brown", "London"), ("Emma", "Schulz", "Berlin"), ("Lucas", "Martin", "Paris"),
    ("Sophia", "Lee", "Boston"), ("Noah", "Clark", "Chicago"), ("Mia", "Fischer", "Hamburg"),
    ("Jia", "Liang", "深圳"), ("Fang", "Zhou", "成都"), ("Hao", "Chen", "杭州"),
    ("Lei", "Wu", "武汉"), ("Ting", "Liu", "苏州"), ("Yan", "Xu", "西安"),
    ("James", "Wilson", "Seattle"), ("Ella", "Evans", "Edinburgh"), ("Léa", "Roux", "Lyon"),
    ("Ben", "Weber", "Cologne"), ("Anna", "Koch", "Frankfurt"), ("Max", "Wolf", "Berlin"),
    ("Rui", "Wang", "上海"), ("Jun", "Ma", "北京"), ("Ava", "Hall", "Manchester"),
    ("Zoe", "King", "New York"), ("Finn", "Bauer", "Munich"), ("Hugo", "Petit", "Marseille"),
]  # fmt: skip


def _records() -> tuple[pd.DataFrame, list[str]]:
    rows, persons = [], []
    for i, (person, source, first, last, full, email, phone, city, postcode, birth) in enumerate(
        PEOPLE
    ):
        rows.append((source, f"{source}-{i}", first, last, full, email, phone, city, postcode,
                     birth))  # fmt: skip
        persons.append(person)
    for j, (first, last, city) in enumerate(SINGLES):
        email = f"{first.lower()}.{last.lower()}{j}@example.com"
        rows.append(("shop", f"single-{j}", first, last, f"{first} {last}", email, None, city,
                     None, None))  # fmt: skip
        persons.append(f"single-{j}")
    keys = [name_key(r[2], r[3]) if r[2] or r[3] else name_key(r[4]) for r in rows]
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["name_key"] = keys
    df["email_key"] = [email_match_key(r[5]) for r in rows]
    df["is_role_mailbox"] = False
    df["loyalty_card_number"] = None
    df["weibo_handle"] = None
    df["birth_date"] = pd.to_datetime(df["birth_date"])
    return df, persons


@pytest.fixture(scope="module")
def data():
    records, persons = _records()
    prepared = prob.prepare(records)
    model = prob.train(prepared, seed=42)
    return records, persons, prepared, model


def _rows(persons: list[str], person: str) -> list[int]:
    return [i for i, p in enumerate(persons) if p == person]


def test_prepare_derives_order_free_keys_and_cities():
    records, _ = _records()
    prepared = prob.prepare(records)
    assert len(records) >= 55
    assert list(prepared["unique_id"]) == list(range(len(records)))
    zw = prepared.loc[_rows(_records()[1], "zw")]
    assert zw["name_letters"].nunique() == 1  # 张伟 / Wei Zhang / Zhang Wei
    assert set(zw["city_norm"]) == {"shanghai"}
    dy = prepared.loc[_rows(_records()[1], "dy")]
    assert dy["name_letters"].nunique() == 1  # 'de he yan' / 'deyan he' / 'deyan he'
    assert prob.normalize_city("香港") == prob.normalize_city("Hong Kong") == "hongkong"
    assert prob.normalize_city("München") == "munich"
    assert prepared.loc[0, "surname"] == "zhang" and prepared.loc[0, "given_name"] == "wei"
    assert prepared.loc[0, "email_local"] == "zhangwei85"


def test_a_forms_default_birth_date_is_not_compared_or_blocked_on():
    records, _ = _records()
    default = pd.Timestamp("2008-11-15")  # on more than 20x the median records per date
    records.loc[records.index[-24:], "birth_date"] = default
    prepared = prob.prepare(records)
    assert prepared["birth_date"].iloc[-24:].isna().all()
    assert prepared["birth_block"].iloc[-24:].isna().all()
    assert prepared.loc[0, "birth_date"] == prepared.loc[0, "birth_block"] == "1985-03-02"


def test_links_one_person_written_three_ways(data):
    records, persons, prepared, model = data
    zw = _rows(persons, "zw")
    # without the deterministic clusters, the model alone must link the three records
    alone = prepared.assign(det_cluster=prepared["unique_id"])
    edges = prob.predict_edges(alone, model, threshold=0.9)
    linked = {(a, b) for a, b in zip(edges["left"], edges["right"])}
    assert {(zw[0], zw[1]), (zw[0], zw[2]), (zw[1], zw[2])} <= linked
    clusters = cluster(records, extra_edges=prob.predict_edges(prepared, model))[0]
    assert clusters.loc[zw, "cluster"].nunique() == 1


def test_does_not_link_a_family_sharing_surname_phone_and_address(data):
    records, persons, prepared, model = data
    family = [_rows(persons, p)[0] for p in ("f1", "f2", "f3")]
    alone = prepared.assign(det_cluster=prepared["unique_id"])
    edges = prob.predict_edges(alone, model, threshold=0.5)
    assert not (edges["left"].isin(family) & edges["right"].isin(family)).any()
    clusters = cluster(records, extra_edges=prob.predict_edges(prepared, model))[0]
    assert clusters.loc[family, "cluster"].nunique() == 3


def test_edges_have_the_cluster_contract_and_are_mostly_right(data):
    records, persons, prepared, model = data
    edges = prob.predict_edges(prepared, model)
    assert list(edges.columns) == [
        "left", "right", "match_probability", "match_weight", "rule", "strength",
    ]  # fmt: skip
    assert (edges["rule"] == "splink").all() and (edges["match_probability"] >= 0.9).all()
    right = [persons[a] == persons[b] for a, b in zip(edges["left"], edges["right"])]
    assert len(edges) >= 5 and sum(right) == len(right)


def test_save_and_load_round_trip_gives_the_same_predictions(data, tmp_path):
    _, _, prepared, model = data
    path = prob.save_model(model, tmp_path / "model.json")
    loaded = prob.load_model(path)
    pd.testing.assert_frame_equal(
        prob.predict_edges(prepared, model, threshold=0.5),
        prob.predict_edges(prepared, loaded, threshold=0.5),
    )


def _level_holds(comparison, label: str, column: str, left: str, right: str) -> bool:
    """Whether the comparison level `label` holds for two values of `column`."""
    import duckdb

    levels = comparison.get_comparison("duckdb").as_dict()["comparison_levels"]
    sql = next(lv["sql_condition"] for lv in levels if lv["label_for_charts"] == label)
    with duckdb.connect() as con:
        return con.sql(f"select {sql} from (select ? as {column}_l, ? as {column}_r)",
                       params=[left, right]).fetchone()[0]


def test_a_shared_family_name_alone_does_not_make_two_names_close():
    def close(a: str, b: str) -> bool:
        return _level_holds(prob._name_comparison(), "close from both ends", "name_joined", a, b)

    assert close("fischerthomas", "fischerthomsa")  # a typo at the end
    assert close("fischerthomas", "fsicherthomas")  # a typo at the start
    assert not close("fischerthomas", "fischerhans")  # a household: only the start alike
    assert not close("andreelodie", "andrelouise")
    similar = "similar from both ends"
    assert not _level_holds(prob._name_comparison(), similar, "name_joined", "clarkjoseph",
                            "clarksamuel")


def test_a_close_street_keeps_its_house_number():
    street = next(c for c in prob._comparisons()
                  if c.get_comparison("duckdb").output_column_name == "street")

    def same_house(a: str, b: str) -> bool:
        return _level_holds(street, "close, same house numbers", "street_norm", a, b)

    assert same_house("schillerstrasse 13", "schilerstrasse 13")
    assert not same_house("3 avenue de la republique", "46 avenue de la republique")
    assert not same_house("schillerstrasse 13", "schillerstrasse 12")


def test_a_model_trained_with_other_comparisons_is_retrained(data, tmp_path):
    import copy

    from pipelines.identity.matcher import SplinkMatcher

    records, _, _, model = data
    assert not prob.spec_changed(model)
    older = copy.deepcopy(model)
    level = older["comparisons"][0]["comparison_levels"][2]
    assert level["label_for_charts"] == "close from both ends"
    level["sql_condition"] = 'jaro_winkler_similarity("name_joined_l", "name_joined_r") >= 0.92'
    assert prob.spec_changed(older)
    path = prob.save_model(older, tmp_path / "model.json")
    matcher = SplinkMatcher(path)
    matcher(records)
    assert matcher.trained and "comparisons" in matcher.train_reason
    assert not prob.spec_changed(prob.load_model(path))
    again = SplinkMatcher(path)
    again(records)
    assert not again.trained


def test_the_spark_backend_spells_every_level_in_spark_sql(monkeypatch):
    """The custom levels in Spark's own functions (the Jaro-Winkler of Splink's jar), each a
    valid Spark SQL expression; running them on Spark is the opt-in
    tests/e2e/test_splink_spark.py."""
    import sqlglot

    from pipelines import config

    spark = prob._settings("spark").get_settings("spark").as_dict()
    duck = prob._settings("duckdb").get_settings("duckdb").as_dict()
    conditions = [lv["sql_condition"] for c in spark["comparisons"]
                  for lv in c["comparison_levels"] if lv["sql_condition"] != "ELSE"]
    assert len(conditions) == 28 and spark["sql_dialect"] == "spark"
    for sql in conditions:
        sqlglot.parse_one(sql, read="spark")  # raises on what Spark SQL cannot parse
    text = " ".join(conditions)
    for duckdb_only in ("list_has_all", "list_contains", "regexp_matches",
                        "jaro_winkler_similarity"):
        assert duckdb_only not in text
    assert "size(array_except(name_tokens_l, name_parts_r)) = 0" in text
    assert len(prob._spec(spark)[1]) == len(prob._spec(duck)[1]) == 17  # blocking rules
    # a DuckDB model is retrained on Spark, not loaded with DuckDB's SQL
    monkeypatch.setenv("C360_SPLINK_BACKEND", "spark")
    config.settings.cache_clear()
    try:
        assert prob.backend() == "spark"
        assert prob.spec_changed(duck) and not prob.spec_changed(spark)
    finally:
        config.settings.cache_clear()


def test_an_unknown_splink_backend_is_a_clear_error(monkeypatch):
    from pipelines import config

    monkeypatch.setenv("C360_SPLINK_BACKEND", "sparkk")
    config.settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="C360_SPLINK_BACKEND='sparkk': must be one of"):
            config.settings()
    finally:
        config.settings.cache_clear()


def _fitted(model: dict) -> dict:
    """A model's settings without the id Splink gives each linker."""
    return {k: v for k, v in model.items() if k != "linker_uid"}


def test_training_is_deterministic_for_a_seed(data):
    _, _, prepared, model = data
    assert _fitted(prob.train(prepared, seed=42)) == _fitted(model)


def test_large_record_sets_are_fitted_on_a_seeded_sample(data):
    _, _, prepared, model = data

    def fit(**kwargs):
        return _fitted(prob.train(prepared, seed=42, **kwargs))

    whole = _fitted(model)
    assert fit(max_records=len(prepared)) == whole  # at the cap: every record
    sampled = fit(max_records=len(prepared) * 3 // 4)
    assert sampled != whole
    assert fit(max_records=len(prepared) * 3 // 4) == sampled


def test_ambiguous_bridge_links_are_dropped():
    # record 0 (a bare profile) links equally to clusters 1 and 2, which are not linked
    edges = pd.DataFrame({
        "left": [0, 0, 3], "right": [1, 2, 4], "match_probability": [0.95, 0.95, 0.99],
        "match_weight": [4.0, 4.2, 7.0],
    })  # fmt: skip
    kept = prob.drop_ambiguous(edges, clusters=pd.Series([0, 1, 2, 3, 4]).to_numpy())
    assert kept[["left", "right"]].values.tolist() == [[3, 4]]
    clear_winner = edges.assign(match_weight=[9.0, 4.2, 7.0])
    kept = prob.drop_ambiguous(clear_winner, clusters=pd.Series([0, 1, 2, 3, 4]).to_numpy())
    assert kept[["left", "right"]].values.tolist() == [[0, 1], [3, 4]]
    # links the model is sure of (typo'd copies of one person, not a bare name) all stay
    sure = edges.assign(match_weight=[12.0, 11.5, 7.0])
    kept = prob.drop_ambiguous(sure, clusters=pd.Series([0, 1, 2, 3, 4]).to_numpy())
    assert kept[["left", "right"]].values.tolist() == [[0, 1], [0, 2], [3, 4]]


def _model_disagreeing(birth_m: float, card_m: float) -> dict:
    def ladder(name: str, other_m: float) -> dict:
        return {"output_column_name": name, "comparison_levels": [
            {"is_null_level": True}, {"m_probability": 1 - other_m},
            {"m_probability": other_m}]}  # fmt: skip
    return {"comparisons": [ladder("name", 0.5), ladder("birth_date", birth_m),
                            ladder("loyalty_card", card_m)]}


def test_conflict_guards_follow_how_often_true_matches_disagree():
    # generated data: true matches almost never disagree on the birth date -> both guards
    assert prob.cluster_guards(_model_disagreeing(0.0004, 0.001)).conflict_kinds == (
        "loyalty_card_number", "birth_date")
    # FEBRL-like: 7 % of true matches carry a corrupted birth date -> no birth-date guard
    assert prob.cluster_guards(_model_disagreeing(0.07, 0.001)).conflict_kinds == (
        "loyalty_card_number",)
    records = pd.DataFrame({
        "source_system": "x", "source_record_id": ["a", "b", "c"],
        "name_key": "ann lee", "is_role_mailbox": False, "email_key": None,
        "phone_e164": None, "loyalty_card_number": None, "weibo_handle": None,
        "birth_date": ["1980-01-01", None, "1975-06-30"],
    })  # fmt: skip
    edges = pd.DataFrame({"left": [0, 1], "right": [1, 2], "rule": "splink",
                          "strength": [0.99, 0.95]})  # fmt: skip
    guarded = cluster(records, extra_edges=edges)[0]["cluster"]
    assert guarded.nunique() == 2  # the chain to a second birth date is refused
    relaxed = prob.cluster_guards(_model_disagreeing(0.07, 0.001))
    assert cluster(records, extra_edges=edges, cluster_guards=relaxed)[0]["cluster"].nunique() == 1


def _linked(births: list[str | None], cards: list[str | None]) -> pd.DataFrame:
    """Prepared-like records sharing an email two by two: (0, 1), (2, 3), ..."""
    return pd.DataFrame({"email_key": [f"p{i // 2}@example.com" for i in range(len(births))],
                         "phone": None, "birth_date": births, "loyalty_card": cards})


def test_conflict_guards_trust_what_the_identifier_links_show_over_em():
    # 40 people, each with two records sharing an email, agreeing on the birth date (one a
    # typo away) and the card: a degenerate EM estimate (0.41) must not lift the guards
    births = ["1980-01-01", "1980-01-10"] * 40
    agreeing = _linked(births, [f"LC{i // 2}" for i in range(80)])
    # shared by email and by card: 80 links, none apart
    assert prob.disagreement(agreeing, "birth_date", "birth_date") == (80, 0)
    guards = prob.cluster_guards(_model_disagreeing(0.41, 0.06), prepared=agreeing)
    assert guards.conflict_kinds == ("loyalty_card_number", "birth_date")
    # FEBRL-like: a tenth of the linked records carry a corrupted birth date
    corrupted = _linked(births[:72] + ["1980-01-01", "1975-06-30"] * 4, [None] * 80)
    assert prob.disagreement(corrupted, "birth_date", "birth_date") == (40, 4)
    guards = prob.cluster_guards(_model_disagreeing(0.0004, 0.001), prepared=corrupted)
    assert guards.conflict_kinds == ("loyalty_card_number",)  # no cards: the model decides
    # too few linked pairs to measure the birth date: the model decides
    few = _linked(births[:20], [None] * 20)
    assert prob.cluster_guards(_model_disagreeing(0.41, 0.001), prepared=few).conflict_kinds \
        == ("loyalty_card_number",)


def test_model_charts_are_written_offline(data, tmp_path):
    _, _, _, model = data
    written = prob.model_charts(model, tmp_path)
    names = sorted(p.name for p in written)
    assert names == [
        "m_u_parameters.html", "m_u_parameters.vl.json", "match_weights.html",
        "match_weights.vl.json",
    ]  # fmt: skip
    html = (tmp_path / "match_weights.html").read_text(encoding="utf-8")
    assert "<script src=" not in html  # vega inlined: opens without internet


@pytest.mark.parametrize("new_rows", [slice(0, 3), slice(-30, None), slice(0, None)])
def test_delta_prediction_scores_exactly_the_pairs_touching_new_records(data, new_rows):
    _, _, prepared, model = data
    delta = np.zeros(len(prepared), dtype=bool)
    delta[new_rows] = True
    full = prob.predict_edges(prepared, model, threshold=0.5, margin=None)
    touching = full[delta[full["left"]] | delta[full["right"]]].reset_index(drop=True)
    got = prob.predict_edges(prepared, model, threshold=0.5, margin=None, delta=delta)
    assert len(touching) > 0
    pd.testing.assert_frame_equal(got, touching, check_exact=False, rtol=1e-9)


def test_splinks_spill_is_encrypted_when_the_warehouse_is(data, monkeypatch, tmp_path):
    from pipelines import config

    _, _, prepared, model = data
    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("C360_WAREHOUSE", str(tmp_path / "new" / "customer360.duckdb"))
    config.settings.cache_clear()
    spill_parent = config.settings().warehouse_path.parent
    assert not spill_parent.exists()  # no warehouse yet (the identity benchmarks' case)
    try:
        for key, encrypted in ((None, False), ("unit-test-key", True)):
            if key:
                monkeypatch.setenv("C360_ENCRYPTION_KEY", key)
            else:
                monkeypatch.delenv("C360_ENCRYPTION_KEY", raising=False)
            with prob._linker(prepared, model) as (_, db_api):
                con = db_api._con
                assert con.sql("select current_setting('temp_file_encryption')").fetchone()[0] \
                    is encrypted
                assert con.sql("select current_setting('memory_limit')").fetchone()[0] != ""
                assert spill_parent.is_dir()  # DuckDB can create its spill folder in it
    finally:
        config.settings.cache_clear()


def test_city_term_frequencies_are_splinks_own(data):
    """The lookup read from the city column alone holds Splink's `compute_tf_table` values."""
    _, _, prepared, model = data
    with prob._linker(prepared, model) as (linker, _):
        want = linker.table_management.compute_tf_table("city_norm").as_pandas_dataframe()
    got = prob._term_frequencies(prepared, "city_norm")
    want = want.sort_values("city_norm", ignore_index=True)
    got = got.sort_values("city_norm", ignore_index=True)
    assert len(got) > 3
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=False)


@pytest.mark.parametrize("arrow_lists", [False, True])
def test_namesake_frequencies_count_anchored_people(data, arrow_lists):
    """Against the plain pandas count (explode, distinct form and cluster pairs)."""
    import pyarrow as pa

    _, _, prepared, _ = data
    if arrow_lists:  # as `match_cache` hands them over
        prepared = prepared.assign(name_forms=pd.Series(
            pa.array(prepared["name_forms"].tolist(), pa.list_(pa.string())),
            dtype=pd.ArrowDtype(pa.list_(pa.string()))))
    held = prepared[["name_letters", "det_cluster"]].dropna(subset=["name_letters"])
    anchored = prepared[list(prob.ANCHOR_COLUMNS)].notna().any(axis=1)
    forms = prepared.loc[anchored, ["name_forms", "det_cluster"]].explode("name_forms")
    people = forms.dropna().drop_duplicates().groupby("name_forms")["det_cluster"].size()
    values = np.sort(held["name_letters"].unique())
    tf = (people.reindex(values, fill_value=0).to_numpy() - 1).clip(
        min=prob.NAMESAKE_FLOOR) / held["det_cluster"].nunique()
    got = prob.namesake_frequencies(prepared, "name_letters")
    assert got["name_letters"].tolist() == values.tolist()
    assert got["tf_name_letters"].tolist() == tf.tolist()
    assert (got["tf_name_letters"] > prob.NAMESAKE_FLOOR / len(held)).any()


@pytest.mark.parametrize(("display", "handle", "full"), [
    ("Sophia G.", "@sophia.green", ["sophia", "green"]),
    ("Sophia G.", "sophiagreen42", ["sophia", "green"]),
    ("鹏", "peng_song345", ["peng", "song"]),
    ("Wolf", "wolf.lukas", ["wolf", "lukas"]),
    ("Sophia G.", "sophia.miller", None),  # the initial says G
    ("Sophia G.", "sophia.green.official", None),  # one token too many
    ("龙", "xiaolong32", None),  # 小龙: a nickname prefix, not a family name
    ("Min Zhang", "xiaomin736", None),  # nothing to complete
    ("Sophia Green", "sophia.green", None),
    ("Sophia G.", None, None),
])  # fmt: skip
def test_a_short_display_name_is_completed_by_its_handle(display, handle, full):
    assert prob.completed_by_handle(name_key(display).split(), handle) == full


def test_the_handle_completes_the_matching_name_of_a_social_profile():
    records = pd.DataFrame({
        "source_system": ["crm", "social", "social"],
        "source_record_id": ["c1", "s1", "s2"],
        "full_name": ["Sophia Green", "Sophia G.", "Sophia G."],
        "social_handle": [None, "sophia.green", None],
    })  # fmt: skip
    records["name_key"] = records["full_name"].map(name_key)
    own = prob.own_columns(records)
    assert own.loc[1, "name_letters"] == own.loc[0, "name_letters"]
    assert own.loc[2, "name_letters"] != own.loc[0, "name_letters"]
    assert own.loc[2, "name_key"] == "g sophia"
