//! The demo data: the nine villages of DESIGN §1 in their real counties, their
//! households, 30 products with stock received from those households as lots, a canteen
//! organisation, and one account per role. Loading twice changes nothing the second time.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use crate::db::accounts as acc;
use crate::db::catalog::{self as cat, NewCounty, NewPriceTier, NewProduct, NewVillage};
use crate::db::households::{self as hh, NewHousehold};
use crate::db::stock::NewStockLot;
use crate::db::{DbConn, write_transaction};
use crate::domain::accounts::{NewAccount, create_account};
use crate::domain::actor::Role;
use crate::domain::actor::Who;
use crate::domain::audit::{self, Change};
use crate::domain::china_date;
use crate::domain::error::DomainError;
use crate::domain::stock::receive_lot;
use crate::i18n::Lang;
use crate::states::{HouseholdCategory, PayoutMethod, ProductStatus, SupplyMode};

const ACTOR: &str = "demo loader";

struct DemoCounty {
    slug: &'static str,
    zh: &'static str,
    en: &'static str,
}

const COUNTIES: &[DemoCounty] = &[
    DemoCounty {
        slug: "yungang",
        zh: "云冈区",
        en: "Yungang District",
    },
    DemoCounty {
        slug: "yunzhou",
        zh: "云州区",
        en: "Yunzhou District",
    },
    DemoCounty {
        slug: "xinrong",
        zh: "新荣区",
        en: "Xinrong District",
    },
    DemoCounty {
        slug: "tianzhen",
        zh: "天镇县",
        en: "Tianzhen County",
    },
    DemoCounty {
        slug: "yanggao",
        zh: "阳高县",
        en: "Yanggao County",
    },
    DemoCounty {
        slug: "lingqiu",
        zh: "灵丘县",
        en: "Lingqiu County",
    },
    DemoCounty {
        slug: "hunyuan",
        zh: "浑源县",
        en: "Hunyuan County",
    },
    DemoCounty {
        slug: "guangling",
        zh: "广灵县",
        en: "Guangling County",
    },
    DemoCounty {
        slug: "zuoyun",
        zh: "左云县",
        en: "Zuoyun County",
    },
];

struct DemoVillage {
    county: &'static str,
    slug: &'static str,
    zh: &'static str,
    en: &'static str,
    story_zh: &'static str,
    story_en: &'static str,
    /// (户编号, head of household, resident members, category, payout method)
    households: &'static [(&'static str, &'static str, i32, &'static str, &'static str)],
}

const VILLAGES: &[DemoVillage] = &[
    DemoVillage {
        county: "yungang",
        slug: "xiedian",
        zh: "谢店村",
        en: "Xiedian",
        story_zh: "谢店村在云冈区，工作队带着村民铺上滴灌带，旱地里种出了小米和杂粮。村里的香白杏是夏天最抢手的鲜果，杏仁晒干后常年供应。",
        story_en: "Xiedian lies in Yungang District. The work team helped villagers lay drip irrigation, and the dry fields now grow millet and small grains. Its Xiangbai apricots sell out every summer; the kernels are dried and sold all year.",
        households: &[
            ("XD-001", "谢永富", 4, "tuopin", "bank"),
            ("XD-002", "王桂兰", 2, "jiance", "wechat"),
            ("XD-003", "谢海军", 5, "yiban", "bank"),
            ("XD-004", "刘秀英", 3, "tuopin", "cash"),
        ],
    },
    DemoVillage {
        county: "yunzhou",
        slug: "taer",
        zh: "塔儿村",
        en: "Ta'er",
        story_zh: "塔儿村的凯特杏个大汁多，七月成熟。村民在杏林下散养柴鸡，鸡蛋和整鸡由工作队统一收购、统一配送。",
        story_en: "Ta'er's Kate apricots are large and juicy and ripen in July. Villagers raise free-range chickens under the apricot trees; the work team collects and delivers the eggs and birds.",
        households: &[
            ("TE-001", "张建国", 3, "tuopin", "bank"),
            ("TE-002", "李凤英", 2, "tuopin", "wechat"),
            ("TE-003", "张二牛", 6, "yiban", "bank"),
        ],
    },
    DemoVillage {
        county: "xinrong",
        slug: "yangzhouyao",
        zh: "杨州窑村",
        en: "Yangzhouyao",
        story_zh: "杨州窑村家家会做黄米糕。工作队把石磨糕面搬进直播间，一场直播能卖出上千袋，钱一分一分记到每一户。",
        story_en: "Every family in Yangzhouyao makes yellow-millet cake. The work team took the stone-ground cake flour into livestreams, where one evening can sell a thousand bags, and every fen is recorded to the household that milled it.",
        households: &[
            ("YZY-001", "杨来福", 4, "tuopin", "bank"),
            ("YZY-002", "赵金花", 3, "jiance", "alipay"),
            ("YZY-003", "杨三虎", 5, "yiban", "bank"),
            ("YZY-004", "郭玉梅", 2, "tuopin", "cash"),
            ("YZY-005", "杨建平", 4, "yiban", "wechat"),
        ],
    },
    DemoVillage {
        county: "tianzhen",
        slug: "gaoqiangyuan",
        zh: "高墙垣村",
        en: "Gaoqiangyuan",
        story_zh: "高墙垣村种高粱，也用高粱酿酒。村里的小酒坊按老法子固态发酵，原浆酒由村集体统购后统一销售。",
        story_en: "Gaoqiangyuan grows sorghum and distils it. The village's small distillery ferments the grain the old solid-state way; the collective buys the raw liquor from households and sells it.",
        households: &[
            ("GQY-001", "高志强", 3, "tuopin", "bank"),
            ("GQY-002", "孙兰香", 4, "yiban", "bank"),
            ("GQY-003", "高福生", 2, "jiance", "wechat"),
        ],
    },
    DemoVillage {
        county: "yanggao",
        slug: "xiashenyu",
        zh: "下神峪村",
        en: "Xiashenyu",
        story_zh: "下神峪村坐落在山谷里，满坡杏树。鲜杏季节短，村里把杏做成杏脯、杏酱，近几年又种上了西梅。",
        story_en: "Xiashenyu sits in a valley covered with apricot trees. The fresh season is short, so the village makes dried apricots and jam, and lately has planted prune plums too.",
        households: &[
            ("XSY-001", "陈玉林", 3, "tuopin", "bank"),
            ("XSY-002", "冯桂芳", 2, "tuopin", "wechat"),
            ("XSY-003", "陈满仓", 5, "yiban", "bank"),
            ("XSY-004", "吴秀兰", 1, "jiance", "cash"),
        ],
    },
    DemoVillage {
        county: "lingqiu",
        slug: "shuidong",
        zh: "水洞村",
        en: "Shuidong",
        story_zh: "水洞村在灵丘的山里，村民用党参喂鸡，肉香汤鲜。水洞腌菜是祖辈传下的手艺，一坛一坛腌足四十天。",
        story_en: "Shuidong is in the Lingqiu mountains, where villagers feed their chickens codonopsis root. Shuidong pickles are an old family craft, each crock cured for forty days.",
        households: &[
            ("SD-001", "白建华", 4, "tuopin", "bank"),
            ("SD-002", "白玉珍", 3, "jiance", "wechat"),
            ("SD-003", "马德旺", 2, "tuopin", "cash"),
            ("SD-004", "白小龙", 5, "yiban", "bank"),
        ],
    },
    DemoVillage {
        county: "hunyuan",
        slug: "juxing",
        zh: "聚兴村",
        en: "Juxing",
        story_zh: "聚兴村在恒山脚下，种小杂粮，也养羊。山坡上的黄芪长足三年才挖，羊肉按食堂的订单分割配送。",
        story_en: "Juxing lies at the foot of Mount Heng. It grows small grains and raises sheep; the astragalus on its slopes grows three years before it is dug, and the lamb is cut to canteens' orders.",
        households: &[
            ("JX-001", "侯占山", 4, "tuopin", "bank"),
            ("JX-002", "侯翠莲", 3, "yiban", "wechat"),
            ("JX-003", "田保国", 5, "jiance", "bank"),
            ("JX-004", "侯晓东", 2, "tuopin", "alipay"),
            ("JX-005", "田春梅", 3, "yiban", "bank"),
            ("JX-006", "侯大有", 6, "tuopin", "cash"),
        ],
    },
    DemoVillage {
        county: "guangling",
        slug: "yuemingpan",
        zh: "月明畔村",
        en: "Yuemingpan",
        story_zh: "月明畔村靠着壶流河，水浇地种蔬菜和小米。冬天村里的菜窖满满当当，窖藏蔬菜一直卖到开春。",
        story_en: "Yuemingpan lies by the Huliu River, whose water grows vegetables and millet. In winter the village cellars are full, and cellar-stored vegetables sell until spring.",
        households: &[
            ("YMP-001", "刘长青", 4, "tuopin", "bank"),
            ("YMP-002", "韩淑芬", 2, "jiance", "wechat"),
            ("YMP-003", "刘小宝", 3, "yiban", "bank"),
        ],
    },
    DemoVillage {
        county: "zuoyun",
        slug: "santaizi",
        zh: "三台子村",
        en: "Santaizi",
        story_zh: "三台子村在左云的草坡上放羊养牛，也种黄芥和各色豆子。工作队帮村里办了冷库，牛羊肉能常年供应食堂。",
        story_en: "Santaizi grazes sheep and cattle on the Zuoyun grasslands and grows yellow mustard and beans. The work team helped build a cold store, so the village supplies canteens with lamb and beef all year.",
        households: &[
            ("STZ-001", "杜永红", 3, "tuopin", "bank"),
            ("STZ-002", "杜金山", 5, "yiban", "bank"),
            ("STZ-003", "魏桂花", 2, "tuopin", "wechat"),
            ("STZ-004", "杜海涛", 4, "jiance", "cash"),
        ],
    },
];

struct DemoProduct {
    village: &'static str,
    slug: &'static str,
    zh: &'static str,
    en: &'static str,
    desc_zh: &'static str,
    desc_en: &'static str,
    category: &'static str,
    unit_zh: &'static str,
    unit_en: &'static str,
    price_fen: i64,
    stock: i32,
    max_per_order: Option<i32>,
    /// Comma-separated months; empty: all year.
    season: &'static str,
    /// For 统购 goods, what the collective paid the household per unit.
    purchase_price_fen: Option<i64>,
    featured: bool,
    /// (minimum quantity, unit price, canteen only)
    tiers: &'static [(i32, i64, bool)],
}

macro_rules! product {
    ($village:literal, $slug:literal, $zh:literal, $en:literal, $dzh:literal, $den:literal, $cat:literal,
     $uzh:literal, $uen:literal, $price:expr, $stock:expr, $max:expr, $season:literal, $purchase:expr,
     $featured:expr, $tiers:expr) => {
        DemoProduct {
            village: $village,
            slug: $slug,
            zh: $zh,
            en: $en,
            desc_zh: $dzh,
            desc_en: $den,
            category: $cat,
            unit_zh: $uzh,
            unit_en: $uen,
            price_fen: $price,
            stock: $stock,
            max_per_order: $max,
            season: $season,
            purchase_price_fen: $purchase,
            featured: $featured,
            tiers: $tiers,
        }
    };
}

const PRODUCTS: &[DemoProduct] = &[
    product!(
        "xiedian",
        "xiaomi",
        "谢店小米",
        "Xiedian millet",
        "滴灌旱地种的谷子，碾成小米，熬粥出油。",
        "Millet from drip-irrigated dry fields; it cooks into a rich, golden porridge.",
        "grains",
        "斤",
        "jin (500 g)",
        900,
        300,
        None,
        "",
        None,
        true,
        &[(10, 850, false), (50, 780, true)]
    ),
    product!(
        "xiedian",
        "xiangbai-xing",
        "香白杏",
        "Xiangbai apricots",
        "白里透黄，香甜多汁，七月上旬开摘。",
        "Pale gold, fragrant and juicy; picked in early July.",
        "fruit",
        "斤",
        "jin (500 g)",
        1200,
        0,
        Some(20),
        "6,7",
        None,
        false,
        &[]
    ),
    product!(
        "xiedian",
        "xingren",
        "杏仁",
        "Apricot kernels",
        "香白杏的杏仁，晒干去壳。",
        "Kernels of Xiangbai apricots, sun-dried and shelled.",
        "dried",
        "袋",
        "bag (250 g)",
        2800,
        80,
        None,
        "",
        Some(2000),
        false,
        &[]
    ),
    product!(
        "xiedian",
        "zaliang-lihe",
        "小杂粮礼盒",
        "Small-grain gift box",
        "小米、黄米、红芸豆、荞麦各一袋，共2.5公斤。",
        "Millet, yellow millet, red kidney beans and buckwheat, 2.5 kg in all.",
        "gifts",
        "盒",
        "box (2.5 kg)",
        9800,
        60,
        None,
        "",
        None,
        true,
        &[(20, 9200, true)]
    ),
    product!(
        "taer",
        "kaite-xing",
        "凯特杏",
        "Kate apricots",
        "个大肉厚，七月成熟。",
        "Large, fleshy apricots that ripen in July.",
        "fruit",
        "斤",
        "jin (500 g)",
        1000,
        0,
        Some(20),
        "7",
        None,
        false,
        &[]
    ),
    product!(
        "taer",
        "chaiji",
        "散养柴鸡",
        "Free-range chicken",
        "杏林下散养一年以上，整只宰杀冷鲜配送。",
        "Raised free-range under apricot trees for over a year; delivered whole and chilled.",
        "poultry_eggs",
        "只",
        "bird",
        12800,
        40,
        Some(10),
        "",
        None,
        true,
        &[]
    ),
    product!(
        "taer",
        "jidan",
        "散养鸡蛋",
        "Free-range eggs",
        "柴鸡蛋，蛋黄橙红，每盒30枚。",
        "Eggs with deep orange yolks, 30 to a box.",
        "poultry_eggs",
        "盒",
        "box of 30",
        4500,
        120,
        None,
        "",
        None,
        true,
        &[(10, 4200, false)]
    ),
    product!(
        "taer",
        "huanghua",
        "黄花菜",
        "Dried daylily buds",
        "云州黄花，蒸后晒干。",
        "Yunzhou daylily buds, steamed and sun-dried.",
        "dried",
        "袋",
        "bag (500 g)",
        3500,
        90,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "yangzhouyao",
        "huangmi-gaomian",
        "黄米糕面",
        "Yellow millet cake flour",
        "石磨黄米面，蒸糕、炸油糕都好。",
        "Stone-ground yellow millet flour for steamed or fried cakes.",
        "flour",
        "袋",
        "bag (2.5 kg)",
        3800,
        200,
        None,
        "",
        None,
        true,
        &[(10, 3500, false), (40, 3200, true)]
    ),
    product!(
        "yangzhouyao",
        "youmian",
        "莜面",
        "Naked-oat flour",
        "炒熟磨粉，做莜面窝窝。",
        "Roasted and milled oats, for rolled oat-noodle nests.",
        "flour",
        "袋",
        "bag (2.5 kg)",
        3200,
        150,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "yangzhouyao",
        "shumi",
        "黍米",
        "Broomcorn millet",
        "去壳黍米，黄糕的原料。",
        "Hulled broomcorn millet, the grain behind yellow cake.",
        "grains",
        "斤",
        "jin (500 g)",
        800,
        180,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "gaoqiangyuan",
        "yuanjiang-jiu",
        "原浆酒",
        "Raw sorghum liquor",
        "高粱固态发酵，52度原浆。",
        "Solid-state fermented sorghum liquor, 52 % ABV.",
        "liquor",
        "瓶",
        "bottle (500 ml)",
        6800,
        100,
        Some(24),
        "",
        Some(4000),
        true,
        &[(12, 6200, false)]
    ),
    product!(
        "gaoqiangyuan",
        "gaoliang-mi",
        "高粱米",
        "Sorghum rice",
        "红高粱去皮，可煮粥焖饭。",
        "Hulled red sorghum for porridge and rice.",
        "grains",
        "斤",
        "jin (500 g)",
        700,
        250,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "gaoqiangyuan",
        "yuanjiang-lihe",
        "原浆酒礼盒",
        "Raw liquor gift case",
        "两瓶原浆酒配礼盒。",
        "Two bottles of raw liquor in a gift case.",
        "gifts",
        "箱",
        "case",
        15800,
        30,
        Some(10),
        "",
        Some(9800),
        false,
        &[]
    ),
    product!(
        "xiashenyu",
        "ximei",
        "西梅",
        "Prune plums",
        "八九月成熟，酸甜可口。",
        "Ripe in August and September, sweet and tart.",
        "fruit",
        "斤",
        "jin (500 g)",
        1500,
        0,
        Some(20),
        "8,9",
        None,
        false,
        &[]
    ),
    product!(
        "xiashenyu",
        "xingfu",
        "杏脯",
        "Dried apricots",
        "鲜杏去核晾晒，不加糖。",
        "Pitted and air-dried apricots, no sugar added.",
        "dried",
        "袋",
        "bag (500 g)",
        3600,
        70,
        None,
        "",
        None,
        true,
        &[]
    ),
    product!(
        "xiashenyu",
        "xing-jiang",
        "杏酱",
        "Apricot jam",
        "山杏熬酱，每罐300克。",
        "Mountain apricot jam, 300 g a jar.",
        "preserves",
        "罐",
        "jar (300 g)",
        2600,
        60,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "shuidong",
        "dangshen-ji",
        "党参鸡",
        "Codonopsis-fed chicken",
        "党参拌料喂养，炖汤最好。",
        "Chickens fed with codonopsis root; best in a slow soup.",
        "poultry_eggs",
        "只",
        "bird",
        16800,
        35,
        Some(10),
        "",
        None,
        true,
        &[]
    ),
    product!(
        "shuidong",
        "yancai",
        "水洞腌菜",
        "Shuidong pickles",
        "芥菜、胡萝卜腌足四十天，每罐1公斤。",
        "Mustard greens and carrots cured forty days, 1 kg a jar.",
        "pickles",
        "罐",
        "jar (1 kg)",
        2800,
        140,
        None,
        "",
        None,
        true,
        &[(20, 2500, true)]
    ),
    product!(
        "shuidong",
        "kuqiao-cha",
        "苦荞茶",
        "Tartary buckwheat tea",
        "苦荞炒制，开水冲泡。",
        "Roasted tartary buckwheat; steep in hot water.",
        "grains",
        "袋",
        "bag (250 g)",
        2600,
        100,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "juxing",
        "yangrou",
        "聚兴羊肉",
        "Juxing lamb",
        "山坡放养羔羊，按部位分割。",
        "Hill-grazed lamb, cut to order.",
        "meat",
        "公斤",
        "kg",
        9800,
        120,
        Some(20),
        "",
        None,
        true,
        &[(10, 9200, true)]
    ),
    product!(
        "juxing",
        "zaliang",
        "小杂粮",
        "Mixed small grains",
        "莜麦、荞麦、黍子、豆子混装。",
        "Oats, buckwheat, broomcorn millet and beans, mixed.",
        "grains",
        "袋",
        "bag (2.5 kg)",
        4200,
        160,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "juxing",
        "huangqi",
        "恒山黄芪",
        "Hengshan astragalus",
        "三年生黄芪切片。",
        "Sliced three-year-old astragalus root.",
        "herbs",
        "袋",
        "bag (250 g)",
        6800,
        50,
        None,
        "",
        Some(5000),
        false,
        &[]
    ),
    product!(
        "yuemingpan",
        "jiaocang-shucai",
        "窖藏蔬菜箱",
        "Cellar vegetable box",
        "土豆、胡萝卜、白菜、洋葱，每箱5公斤。",
        "Potatoes, carrots, cabbage and onions, 5 kg a box.",
        "vegetables",
        "箱",
        "box (5 kg)",
        5800,
        45,
        None,
        "",
        None,
        true,
        &[]
    ),
    product!(
        "yuemingpan",
        "tudou",
        "土豆",
        "Potatoes",
        "壶流河畔沙土地种的土豆。",
        "Potatoes from the sandy soil by the Huliu River.",
        "vegetables",
        "袋",
        "bag (5 kg)",
        1800,
        100,
        None,
        "",
        None,
        false,
        &[(20, 1600, true)]
    ),
    product!(
        "yuemingpan",
        "dongfangliang-xiaomi",
        "东方亮小米",
        "Dongfangliang millet",
        "广灵老品种小米。",
        "An old Guangling millet variety.",
        "grains",
        "斤",
        "jin (500 g)",
        1000,
        200,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "santaizi",
        "yangrou",
        "左云羊肉",
        "Zuoyun lamb",
        "草原放牧，冷库排酸。",
        "Grass-grazed lamb, aged in the village cold store.",
        "meat",
        "公斤",
        "kg",
        9600,
        80,
        Some(20),
        "",
        None,
        false,
        &[(10, 9000, true)]
    ),
    product!(
        "santaizi",
        "niurou",
        "牛肉",
        "Beef",
        "本地黄牛，冷鲜分割。",
        "Local yellow cattle, chilled and cut.",
        "meat",
        "公斤",
        "kg",
        11800,
        60,
        Some(20),
        "",
        None,
        true,
        &[]
    ),
    product!(
        "santaizi",
        "huangjie",
        "黄芥",
        "Yellow mustard seed",
        "榨油或做芥末。",
        "For pressing oil or making mustard.",
        "grains",
        "斤",
        "jin (500 g)",
        900,
        150,
        None,
        "",
        None,
        false,
        &[]
    ),
    product!(
        "santaizi",
        "yundou",
        "芸豆",
        "Kidney beans",
        "红芸豆、白芸豆。",
        "Red and white kidney beans.",
        "grains",
        "斤",
        "jin (500 g)",
        1100,
        120,
        None,
        "",
        None,
        false,
        &[]
    ),
];

pub const ORGANIZATION: &str = "大同市直机关第一食堂";

/// What a load did; all zero when the demo data was already there.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoReport {
    pub counties: usize,
    pub villages: usize,
    pub households: usize,
    pub products: usize,
    pub lots: usize,
    pub users: usize,
}

impl DemoReport {
    pub fn is_empty(&self) -> bool {
        *self == DemoReport::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Account(#[from] DomainError),
    /// A demo order, refund or payout that the shop's own rules refused.
    #[error("demo data refused: {0}")]
    Refused(String),
}

/// Loads whatever part of the demo data is missing, in one transaction.
pub fn load(
    conn: &mut DbConn,
    password: &str,
    now: NaiveDateTime,
) -> Result<DemoReport, DemoError> {
    let mut report = DemoReport::default();
    write_transaction(conn, |conn| {
        load_places(conn, now, &mut report)?;
        load_products(conn, now, &mut report)?;
        load_accounts(conn, password, now, &mut report)
    })?;
    Ok(report)
}

fn audit_create(
    conn: &mut DbConn,
    entity: &str,
    id: i64,
    village_id: i64,
    after: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let change = Change {
        action: "create",
        entity,
        entity_id: id,
        village_id: Some(village_id),
        before: None,
        after: Some(after),
    };
    audit::record(conn, &Who::tool(ACTOR), change, now)
}

fn load_places(conn: &mut DbConn, now: NaiveDateTime, report: &mut DemoReport) -> QueryResult<()> {
    for (i, c) in COUNTIES.iter().enumerate() {
        if cat::county_by_slug(conn, c.slug)?.is_none() {
            let new = NewCounty {
                slug: c.slug,
                name_zh: c.zh,
                name_en: c.en,
                sort_order: i as i32 + 1,
            };
            cat::insert_county(conn, &new)?;
            report.counties += 1;
        }
    }
    for v in VILLAGES {
        let village_id = match cat::village_by_slug(conn, v.slug)? {
            Some((village, _)) => village.id,
            None => {
                let county =
                    cat::county_by_slug(conn, v.county)?.ok_or(diesel::result::Error::NotFound)?;
                report.villages += 1;
                let new = NewVillage {
                    county_id: county.id,
                    slug: v.slug,
                    name_zh: v.zh,
                    name_en: v.en,
                    township_zh: None,
                    township_en: None,
                    story_zh: v.story_zh,
                    story_en: v.story_en,
                    collective_share_bp: None,
                    created_at: now,
                };
                cat::insert_village(conn, &new)?
            }
        };
        for (n, &(code, head, members, category, payout)) in v.households.iter().enumerate() {
            if hh::by_code(conn, village_id, code)?.is_some() {
                continue;
            }
            let phone = format!(
                "1380352{:02}{:02}",
                VILLAGES.iter().position(|x| x.slug == v.slug).unwrap_or(0),
                n + 1
            );
            let unknown = |text: &str| {
                diesel::result::Error::DeserializationError(
                    format!("demo household {code}: unknown {text:?}").into(),
                )
            };
            let new = NewHousehold {
                village_id,
                code,
                head_name: head,
                resident_members: members,
                category: HouseholdCategory::parse(category).ok_or_else(|| unknown(category))?,
                phone: Some(&phone),
                payout_method: PayoutMethod::parse(payout).ok_or_else(|| unknown(payout))?,
                payout_account: None,
                archived: false,
                created_at: now,
                updated_at: now,
            };
            let id = hh::insert(conn, &new)?;
            let after = serde_json::json!({"code": code, "head_name": head, "resident_members": members, "category": category});
            audit_create(conn, "household", id, village_id, after, now)?;
            report.households += 1;
        }
    }
    Ok(())
}

/// Each new product's stock arrives as two lots from the village's first households,
/// received three weeks and one week ago, so that stock is traceable from day one.
fn load_products(
    conn: &mut DbConn,
    now: NaiveDateTime,
    report: &mut DemoReport,
) -> QueryResult<()> {
    let today = china_date(now);
    for p in PRODUCTS {
        let (village, _) =
            cat::village_by_slug(conn, p.village)?.ok_or(diesel::result::Error::NotFound)?;
        if cat::product_by_slug(conn, village.id, p.slug)?.is_some() {
            continue;
        }
        let new = NewProduct {
            village_id: village.id,
            slug: p.slug,
            name_zh: p.zh,
            name_en: p.en,
            description_zh: p.desc_zh,
            description_en: p.desc_en,
            category: p.category,
            sale_unit_zh: p.unit_zh,
            sale_unit_en: p.unit_en,
            unit_price_fen: p.price_fen,
            stock: 0,
            min_per_order: 1,
            max_per_order: p.max_per_order,
            season_months: p.season,
            status: ProductStatus::OnSale,
            supply_mode: if p.purchase_price_fen.is_some() {
                SupplyMode::Purchased
            } else {
                SupplyMode::Consignment
            },
            featured: p.featured,
            low_stock_threshold: 10,
            created_at: now,
            updated_at: now,
        };
        let product_id = cat::insert_product(conn, &new)?;
        let after =
            serde_json::json!({"slug": p.slug, "name_zh": p.zh, "unit_price_fen": p.price_fen});
        audit_create(conn, "product", product_id, village.id, after, now)?;
        for &(min_quantity, unit_price_fen, canteen_only) in p.tiers {
            cat::insert_price_tier(
                conn,
                &NewPriceTier {
                    product_id,
                    min_quantity,
                    unit_price_fen,
                    canteen_only,
                },
            )?;
        }
        report.products += 1;

        let households = hh::of_village(conn, village.id)?;
        let first_lot = p.stock * 3 / 5;
        // Received before the three months of demo orders (`demo_history`) began.
        let lots = [(0usize, first_lot, 120i64), (1, p.stock - first_lot, 45)];
        for (which, quantity, days_ago) in lots {
            let Some(household) = households.get(which % households.len().max(1)) else {
                continue;
            };
            if quantity <= 0 {
                continue;
            }
            let lot = NewStockLot {
                product_id,
                household_id: household.id,
                quantity,
                remaining: quantity,
                received_on: today - Duration::days(days_ago),
                purchase_price_fen: p.purchase_price_fen,
                recorded_by: None,
                created_at: now,
            };
            receive_lot(conn, &Who::tool(ACTOR), village.id, &lot, now)?;
            report.lots += 1;
        }
    }
    Ok(())
}

fn load_accounts(
    conn: &mut DbConn,
    password: &str,
    now: NaiveDateTime,
    report: &mut DemoReport,
) -> Result<(), DemoError> {
    if acc::organization_by_name(conn, ORGANIZATION)?.is_none() {
        acc::insert_organization(
            conn,
            &acc::NewOrganization {
                name: ORGANIZATION,
                invoice_title: "大同市机关事务服务中心",
                tax_id: "12140200DEMO00001X",
                address: "大同市平城区（演示地址）",
                contact_name: "李采购",
                contact_phone: "13803520000",
                payment_terms_days: 30,
                annual_target_fen: 60_000_000,
                created_at: now,
            },
        )?;
    }
    let accounts = [
        ("admin@example.com", "平台管理员", Role::Admin, vec![], None),
        (
            "team@example.com",
            "王小军（驻村工作队）",
            Role::Team,
            vec!["xiedian", "yangzhouyao"],
            None,
        ),
        (
            "canteen@example.com",
            "李采购",
            Role::Canteen,
            vec![],
            Some(ORGANIZATION),
        ),
        ("cadre@example.com", "张干部", Role::Cadre, vec![], None),
    ];
    for (email, name, role, villages, organization) in accounts {
        if acc::user_by_email(conn, email)?.is_some() {
            continue;
        }
        let new = NewAccount {
            email: email.into(),
            display_name: name.into(),
            role,
            password: password.into(),
            lang: Lang::ZhCn,
            village_slugs: villages.into_iter().map(String::from).collect(),
            county_slug: None,
            organization: organization.map(String::from),
        };
        create_account(conn, &new, &Who::tool(ACTOR), now)?;
        report.users += 1;
    }
    Ok(())
}
