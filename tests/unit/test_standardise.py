import duckdb
import pytest

from pipelines import standardise as s


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86-138-0013-8000", None, "+8613800138000"),
        ("0086 13800138000", "CN", "+8613800138000"),
        ("(212) 736-5000", "US", "+12127365000"),
        ("212.736.5000", "US", "+12127365000"),
        ("12345", "CN", None),
        ("", "CN", None),
        (None, "CN", None),
    ],
)
def test_phone_e164(raw, region, expected):
    assert s.normalize_phone(raw, region) == expected


def test_email_normalisation_and_key():
    assert s.normalize_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
    assert s.normalize_email("not an email") is None
    assert s.email_match_key("J.Doe+promo@GMail.com") == "jdoe@gmail.com"
    assert s.email_match_key("j.doe+x@outlook.com") == "j.doe@outlook.com"
    assert s.is_role_mailbox("Info@shop.cn") and not s.is_role_mailbox("li.na@qq.com")


def test_name_key_is_order_free_and_script_free():
    assert s.name_key("王伟") == s.name_key("Wei", "Wang") == s.name_key("WangWei") == "wang wei"
    assert s.name_key("伟", "王") == "wang wei"  # family name in last_name
    assert s.name_key(None, None) is None
    assert s.name_key("José", "Müller") == "jose muller"


def test_chinese_name_split_knows_compound_surnames():
    assert s.split_chinese_name("欧阳娜娜") == ("欧阳", "娜娜")
    assert s.split_chinese_name("王伟") == ("王", "伟")
    assert s.to_pinyin("张小明") == "zhang xiao ming"


@pytest.mark.parametrize("text", [
    "重庆路12号",  # a phrase: 重 is chong here, zhong alone
    "长安街8号银行大楼3单元",  # 长 chang, 行 hang in 银行
    "上海市浦东新区 Apt 3 北京东路",
    "〇号楼𠀀",  # 〇 and a character of extension B
    "Nanjing Lu 南京路",
    "欧阳娜娜",
    "12-3",
    "",
])
def test_pinyin_run_by_run_equals_pypinyin_on_the_whole_text(text):
    from pypinyin import Style, lazy_pinyin

    for _ in range(2):  # the second time from the cache of runs
        assert s.pinyin_items(text) == lazy_pinyin(text, style=Style.NORMAL)


def test_udfs_registered_in_duckdb():
    con = duckdb.connect()
    s.register_udfs(con)
    s.register_udfs(con)  # idempotent
    row = con.sql(
        "select c360_phone_e164('138 0013 8000', 'CN'), c360_name_key('王伟', null), "
        "c360_email_key(' A@B.com ')"
    ).fetchone()
    assert row == ("+8613800138000", "wang wei", "a@b.com")
