"""Fixed vocabularies of the sample data: names, places, streets, products, texts.

Everything here is constant (independent of the seed), so a pool entry's derived forms
(pinyin, ASCII spelling, typo variants) are computed once per entry, never per row.
"""

from __future__ import annotations

# Chinese family names, roughly by frequency (weights are relative shares).
CN_FAMILY = (
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 林 高 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 "
    "彭 肖 田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 石 "
    "廖 贾 夏 韦 付 方 白 邹 孟 熊 秦 邱 江 尹 薛 段 雷 侯 龙 史 陶 黎 贺 顾 毛 郝 龚 邵 万 钱 "
    "严 武 戴 莫 孔 向 汤 欧阳 司马 诸葛"
).split()
COMPOUND_FAMILY = ("欧阳", "司马", "诸葛")


def family_weights() -> list[float]:
    """Zipf-like shares by rank; compound family names are rare."""
    return [(0.02 if f in COMPOUND_FAMILY else 1.0) / (i + 3) ** 1.1
            for i, f in enumerate(CN_FAMILY)]

# Characters of given names; entries with more than one reading are dropped when the pools
# are built, so pinyin of a name is the pinyin of its characters.
CN_GIVEN_CHARS = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 英 华 玉 萍 红 玲 芬 燕 "
    "彬 鹏 辉 斌 浩 宇 轩 子 涵 欣 怡 佳 俊 博 鑫 飞 慧 颖 嘉 然 昊 天 一 诺 雨 晴 可 馨 泽 "
    "瑞 凯 帆 琪 悦 彤 萱 晓 东 海 波 亮 林 峰 龙 志 春 兰 凤 丹 莉 倩 璐 蕾 琦 宁 欢 薇 晶 婷 "
    "雪 梅 琳 晨 文 建 国 新 立 永 金 庆 荣 成 德 民 福 伦 瑶 婉 雯 秋 月 菲 楠 栋 豪 睿 铭 哲 "
    "毅 航 阳 旭 昕 逸 安 舒 妍 蓉 蕊 露 洁 琴 云 凡 伊 宏 健 清 亭 玮 菁 瑾 君 军 钧 锦 景"
).split()

WESTERN_FIRST = {
    "anglo": (
        "James John Robert Michael William David Richard Joseph Thomas Charles Christopher "
        "Daniel Matthew Anthony Mark Steven Paul Andrew Joshua Kevin Brian George Edward Ryan "
        "Jacob Nicholas Jonathan Benjamin Samuel Oliver Harry Jack Noah Liam Ethan Lucas Mason "
        "Logan Henry Alexander Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica "
        "Sarah Karen Lisa Nancy Betty Sandra Ashley Emily Michelle Amanda Melissa Stephanie "
        "Rebecca Laura Hannah Olivia Emma Sophia Isabella Charlotte Amelia Grace Chloe Lily "
        "Ella Megan Rachel Katherine Victoria Natalie Zoe Lucy"
    ).split(),
    "german": (
        "Lukas Leon Maximilian Felix Jonas Paul Finn Elias Hans Jürgen Klaus Stefan Thomas "
        "Michael Andreas Matthias Tobias Florian Sebastian Moritz Anna Lena Lea Hannah Marie "
        "Sophie Katharina Julia Laura Sarah Lisa Petra Sabine Ursula Monika Claudia Johanna "
        "Greta Clara Jörg"
    ).split(),
    "french": (
        "Jean Pierre Louis Lucas Hugo Gabriel Arthur Jules Thomas Nicolas Antoine Julien "
        "François Mathieu Olivier Étienne Raphaël Théo Baptiste Vincent Marie Camille Léa Manon "
        "Chloé Inès Sarah Julie Claire Élodie Céline Émilie Amélie Juliette Louise Alice "
        "Margaux Pauline Sophie Aurélie"
    ).split(),
}
WESTERN_LAST = {
    "anglo": (
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson "
        "Anderson Taylor Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis "
        "Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson Carter "
        "Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris "
        "Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward Cox "
        "Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders Patel Hall O'Brien "
        "Walsh Fletcher Hunt"
    ).split(),
    "german": (
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
        "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger "
        "Hofmann Hartmann Lange Schmitt Werner Krause Meier Lehmann"
    ).split(),
    "french": (
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
        "Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André "
        "Lefèvre Mercier Dupont Lambert Bonnet François Martinez"
    ).split(),
}

# Countries: currency, name group, phone country code, phone prefixes (national form, with
# the trunk 0 where the country uses one) and the number of digits after the prefix.
# Prefixes are chosen so that `phonenumbers.is_valid_number` accepts every generated number.
COUNTRIES = ("CN", "HK", "US", "GB", "DE", "FR")
CURRENCY = {"CN": "CNY", "HK": "HKD", "US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR"}
NAME_GROUP = {"US": "anglo", "GB": "anglo", "DE": "german", "FR": "french", "CN": "anglo"}
CALLING_CODE = {"CN": "86", "HK": "852", "US": "1", "GB": "44", "DE": "49", "FR": "33"}
MOBILE_PREFIXES = {
    "CN": ([f"13{d}" for d in range(10)] + ["150", "151", "152", "153", "155", "156", "157",
                                            "158", "159", "166", "177", "180", "181", "182",
                                            "183", "185", "186", "187", "188", "189", "199"], 8),
    "HK": (["61", "63", "64", "65", "69", "94", "96", "97"], 6),
    "GB": (["074", "075", "078", "079"], 8),
    "DE": (["0151", "0152", "0157", "0176"], 8),
    "FR": (["060", "061", "062", "064", "065", "066", "067", "068", "073", "075", "076",
            "077", "078"], 7),
}
# (city in local script, city in English, postcode prefix, area codes or landline prefix,
#  UTC offset in hours, share of the country's people)
CITIES = {
    "CN": [
        ("上海", "Shanghai", "200", "021", 8, 0.20), ("北京", "Beijing", "100", "010", 8, 0.18),
        ("广州", "Guangzhou", "510", "020", 8, 0.12), ("深圳", "Shenzhen", "518", "0755", 8, 0.12),
        ("杭州", "Hangzhou", "310", "0571", 8, 0.10), ("成都", "Chengdu", "610", "028", 8, 0.08),
        ("南京", "Nanjing", "210", "025", 8, 0.07), ("武汉", "Wuhan", "430", "027", 8, 0.05),
        ("苏州", "Suzhou", "215", "0512", 8, 0.05), ("西安", "Xi'an", "710", "029", 8, 0.03),
    ],
    "HK": [("香港", "Hong Kong", "", "", 8, 1.0)],
    "US": [
        ("New York", "New York", "100", "212 646 718 917", -5, 0.30),
        ("San Francisco", "San Francisco", "941", "415 628", -8, 0.18),
        ("Los Angeles", "Los Angeles", "900", "213 310 323", -8, 0.20),
        ("Chicago", "Chicago", "606", "312 773", -6, 0.14),
        ("Boston", "Boston", "021", "617 857", -5, 0.10),
        ("Seattle", "Seattle", "981", "206", -8, 0.08),
    ],
    "GB": [
        ("London", "London", "E1 N1 SW1A SE1 W1 NW3 EC2A", "", 0, 0.55),
        ("Manchester", "Manchester", "M1 M4 M14 M20", "", 0, 0.18),
        ("Birmingham", "Birmingham", "B1 B15 B29", "", 0, 0.15),
        ("Edinburgh", "Edinburgh", "EH1 EH3 EH9", "", 0, 0.12),
    ],
    "DE": [
        ("Berlin", "Berlin", "10", "", 1, 0.35), ("München", "Munich", "80", "", 1, 0.22),
        ("Hamburg", "Hamburg", "20", "", 1, 0.20), ("Frankfurt am Main", "Frankfurt", "60", "", 1,
                                                     0.13),
        ("Köln", "Cologne", "50", "", 1, 0.10),
    ],
    "FR": [
        ("Paris", "Paris", "750", "", 1, 0.6), ("Lyon", "Lyon", "6900", "", 1, 0.22),
        ("Marseille", "Marseille", "130", "", 1, 0.18),
    ],
}
STREETS = {
    "CN": ("南京西路 淮海中路 中山北路 人民路 解放路 建设路 和平路 延安西路 天目山路 深南大道 "
           "天河路 长安街 建国路 文三路 滨江大道 学院路 黄浦路 新华路 东风路 青年路").split(),
    "HK": ("彌敦道 軒尼詩道 皇后大道中 英皇道 德輔道中 金鐘道 窩打老道 太子道西").split(),
    "US": ("Main St|Oak Ave|Maple Ave|Park Ave|Market St|Mission St|Broadway|5th Ave|Elm St|"
           "Pine St|Washington St|Lake St|Cedar Rd|Sunset Blvd|Hill St|Madison Ave").split("|"),
    "GB": ("High Street|Church Road|Station Road|Victoria Road|Green Lane|King Street|"
           "Queen Street|Park Road|Mill Lane|London Road|Manor Road|Kings Road").split("|"),
    "DE": ("Hauptstraße Bahnhofstraße Gartenstraße Schulstraße Dorfstraße Bergstraße "
           "Lindenstraße Kirchstraße Friedrichstraße Goethestraße Schillerstraße").split(),
    "FR": ("rue de la Paix|rue Victor Hugo|avenue Jean Jaurès|boulevard Voltaire|rue de Rivoli|"
           "rue Lafayette|rue du Bac|avenue de la République|rue Nationale").split("|"),
}
COUNTRY_SHARE_CHINESE = {"CN": 0.93, "HK": 0.07}
COUNTRY_SHARE_WESTERN = {"US": 0.45, "GB": 0.24, "DE": 0.15, "FR": 0.11, "CN": 0.05}

EMAIL_DOMAINS = {
    "CN": (["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com",
            "outlook.com", "139.com"], [0.34, 0.24, 0.1, 0.07, 0.06, 0.09, 0.06, 0.04]),
    "HK": (["gmail.com", "yahoo.com.hk", "outlook.com", "netvigator.com", "qq.com"],
           [0.45, 0.2, 0.15, 0.1, 0.1]),
    "US": (["gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "aol.com"],
           [0.45, 0.15, 0.1, 0.15, 0.12, 0.03]),
    "GB": (["gmail.com", "outlook.com", "hotmail.co.uk", "btinternet.com", "icloud.com",
            "yahoo.co.uk"], [0.4, 0.15, 0.15, 0.1, 0.12, 0.08]),
    "DE": (["gmail.com", "gmx.de", "web.de", "t-online.de", "outlook.de"],
           [0.3, 0.25, 0.25, 0.1, 0.1]),
    "FR": (["gmail.com", "orange.fr", "free.fr", "hotmail.fr", "laposte.net"],
           [0.4, 0.2, 0.15, 0.15, 0.1]),
}
BUSINESSES = (
    "huamei lianhua jinxing tianyi hongda xinhua dongfang brightstar northwind bluepeak "
    "redfern oakline silverleaf meridian harbourview greenfield"
).split()
ROLE_LOCALS = ("info", "team", "office", "sales")

# Product catalogue: 12 categories, their three-letter code, a price range (CNY) and nouns.
CATEGORIES = (
    ("skincare", "SKN", 60, 900, "Serum|Moisturiser|Cleanser|Toner|Eye Cream|Sunscreen|Mask"),
    ("makeup", "MKP", 40, 600, "Lipstick|Foundation|Mascara|Eyeliner|Blush|Palette|Concealer"),
    ("fragrance", "FRG", 200, 2200, "Eau de Parfum|Eau de Toilette|Body Mist|Cologne"),
    ("haircare", "HAR", 30, 400, "Shampoo|Conditioner|Hair Oil|Hair Mask|Styling Cream"),
    ("apparel", "APP", 80, 1800, "T-Shirt|Hoodie|Dress|Jacket|Jeans|Sweater|Shirt"),
    ("shoes", "SHO", 200, 2000, "Sneakers|Boots|Loafers|Sandals|Running Shoes"),
    ("bags", "BAG", 150, 6000, "Tote|Backpack|Crossbody Bag|Wallet|Clutch"),
    ("accessories", "ACC", 40, 1500, "Scarf|Belt|Sunglasses|Watch Strap|Cap|Earrings"),
    ("home", "HOM", 50, 1200, "Candle|Throw|Cushion|Vase|Diffuser|Bath Towel"),
    ("kitchen", "KIT", 40, 1600, "Teapot|Knife Set|Mug|Pan|Bento Box|Kettle"),
    ("electronics", "ELE", 150, 5000, "Earbuds|Power Bank|Speaker|Smart Watch|Charger"),
    ("sports", "SPT", 60, 2500, "Yoga Mat|Water Bottle|Leggings|Dumbbells|Racket|Sports Bra"),
)
PRODUCT_ADJECTIVES = (
    "Classic Essential Premium Daily Urban Silk Velvet Pure Glow Cloud Lotus Jade Ocean "
    "Cedar Amber Aurora"
).split()
SKUS_PER_CATEGORY = 17

# Ticket subjects per case type: (Chinese subjects, English subjects).
TICKET_SUBJECTS = {
    "Complaint": ("商品质量有问题，要求处理|快递太慢了，非常不满意|客服态度很差|收到的商品有破损|"
                  "订单被重复扣款|发票一直没有开出来|实物与描述不符，要投诉",
                  "Product arrived damaged|Very unhappy with delivery delay|Charged twice for "
                  "one order|Rude staff at the store|Item not as described"),
    "Question": ("请问什么时候发货？|会员积分怎么使用？|可以修改收货地址吗？|请问有没有优惠券？|"
                 "门店营业时间是几点？",
                 "When will my order ship?|How do I use my loyalty points?|Can I change my "
                 "delivery address?|Do you ship to Hong Kong?"),
    "Return": ("申请退货退款|尺码不合适，想换货|七天无理由退货",
               "Return request|Wrong size, need an exchange|Refund not received yet"),
    "Delivery": ("物流信息一直没有更新|快递显示已签收但没收到|配送地址错误",
                 "Tracking not updated|Parcel marked delivered but not received|"
                 "Courier could not find the address"),
    "Praise": ("服务很好，谢谢！|产品非常满意，会回购|感谢客服耐心解答",
               "Great service, thank you!|Love the product|Thanks for the quick help"),
}
# Campaign theme by month of sending.
CAMPAIGN_THEMES = (
    "Chinese New Year", "Valentine's Picks", "Spring Sale", "Member Day", "Mother's Day",
    "618 Festival", "Summer Sale", "Back to School", "Mid-Autumn Gifts", "Golden Week",
    "Singles Day 11.11", "Year End Gala",
)
