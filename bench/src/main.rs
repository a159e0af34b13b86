//! `bench-reports generate`: fills an EMPTY database with a busy market's history —
//! by default one million paid order lines over 5,000 households in 50 villages and two
//! years — so that `scripts/bench-reports` can time the report pages over HTTP.
//!
//! Every row is one the app itself would have written: lots brought in by the households
//! of each village whenever a product runs short, orders paid by bank transfer, a few
//! refunded in full, and monthly payouts. The money goes through the domain's own rules
//! (`village_market::domain::ledger`): each line is allocated to its product's lots first
//! in, first out (`allocate_line_units`), and every ledger entry of a sale, a refund or
//! a purchased lot is a posting of `sale_postings`, `reverse_line_units` or
//! `purchase_posting` (ARCHITECTURE §6.3). The monthly totals are then recomputed from the
//! ledger with the app's own functions, so `village-market verify` passes on the result.
//!
//! Benchmark-only shortcuts, for speed: the rows are planned in memory and written with
//! explicit ids, in multi-row INSERTs on SQLite and binary COPY on PostgreSQL (identity
//! sequences moved past them at the end), not through `domain::ledger::allocate_order`'s
//! queries one lot at a time; the random numbers come from a seeded SplitMix64 so that a
//! run can be repeated.

use std::collections::VecDeque;
use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;
use village_market::states::LedgerKind;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use clap::{Args, Parser, Subcommand};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use village_market::db::accounts::{self as acc, NewOrganization};
use village_market::db::catalog::{self as cat, NewCounty, NewProduct, NewVillage};
use village_market::db::ledger::{self as ledger, month_of};
use village_market::db::schema::{
    allocations, households, ledger_entries, order_lines, orders, payouts, refund_lines, refunds,
    stock_lots, users, villages,
};
use village_market::db::{DatabaseUrl, DbConn, open_pool, write_transaction};
use village_market::domain::accounts::{NewAccount, create_account};
use village_market::domain::actor::{Role, Who};
use village_market::domain::ledger::{
    LineMoney, LotGoods, Portion, Posting, Split, allocate_line_units, purchase_posting,
    reverse_line_units, sale_postings,
};
use village_market::domain::{china_date, now_utc};
use village_market::i18n::Lang;
use village_market::states::{ProductStatus, SupplyMode};

#[derive(Parser)]
#[command(
    name = "bench-reports",
    about = "Generates report benchmark data for Village Market"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill an empty database (migrations are run first) with paid orders, their
    /// allocations and ledger entries, refunds, payouts and the monthly totals.
    Generate(GenerateArgs),
}

#[derive(Args)]
struct GenerateArgs {
    /// sqlite://path or postgres://…; the database must hold no villages, households,
    /// users or orders yet.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Paid order lines in all.
    #[arg(long, default_value_t = 1_000_000)]
    lines: u32,
    #[arg(long, default_value_t = 5_000)]
    households: u32,
    #[arg(long, default_value_t = 50)]
    villages: u32,
    /// Whole months of history, ending with last month (China time).
    #[arg(long, default_value_t = 24)]
    months: u32,
    #[arg(long, default_value_t = 20_261_129)]
    seed: u64,
    /// Password of the accounts bench@example.com (admin) and cadre@example.com.
    #[arg(long, default_value = "bench-password")]
    password: String,
    /// Run the ledger check of `village-market verify` at the end.
    #[arg(long)]
    verify: bool,
    /// On PostgreSQL, let the database check every foreign key while loading (about
    /// five times slower); by default the session skips them as a replica would.
    #[arg(long)]
    check_foreign_keys: bool,
}

type AnyResult<T> = Result<T, Box<dyn Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Generate(args) => generate(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-reports: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------
// Random numbers: SplitMix64, seeded, so that a run can be repeated.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn per_mille(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| format!("{:016x}", self.next()))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// What the market looks like.

const COUNTIES: [(&str, &str, &str); 10] = [
    ("yanggao", "阳高县", "Yanggao County"),
    ("tianzhen", "天镇县", "Tianzhen County"),
    ("guangling", "广灵县", "Guangling County"),
    ("lingqiu", "灵丘县", "Lingqiu County"),
    ("hunyuan", "浑源县", "Hunyuan County"),
    ("zuoyun", "左云县", "Zuoyun County"),
    ("yunzhou", "云州区", "Yunzhou District"),
    ("xinrong", "新荣区", "Xinrong District"),
    ("yungang", "云冈区", "Yungang District"),
    ("pingcheng", "平城区", "Pingcheng District"),
];

const VILLAGE_FIRST: [(&str, &str); 10] = [
    ("东", "Dong"),
    ("西", "Xi"),
    ("南", "Nan"),
    ("北", "Bei"),
    ("前", "Qian"),
    ("后", "Hou"),
    ("上", "Shang"),
    ("下", "Xia"),
    ("大", "Da"),
    ("小", "Xiao"),
];

const VILLAGE_SECOND: [(&str, &str); 10] = [
    ("王庄", "wangzhuang"),
    ("河湾", "hewan"),
    ("坪", "ping"),
    ("堡", "bao"),
    ("营", "ying"),
    ("窑", "yao"),
    ("沟", "gou"),
    ("峪", "yu"),
    ("屯", "tun"),
    ("寨", "zhai"),
];

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "胡", "郭", "何",
    "高", "林", "罗", "郑",
];

const GIVEN_NAMES: [&str; 16] = [
    "建国", "秀英", "桂兰", "志强", "玉梅", "海军", "丽娟", "德胜", "春花", "文明", "金凤", "永强",
    "二虎", "福生", "翠兰", "满仓",
];

struct Template {
    slug: &'static str,
    zh: &'static str,
    en: &'static str,
    category: &'static str,
    unit_zh: &'static str,
    unit_en: &'static str,
    price_fen: i64,
}

/// Consignment (代卖) goods: the household is paid its share when they sell.
const CONSIGNMENT: [Template; 8] = [
    Template {
        slug: "xiaomi",
        zh: "小米",
        en: "millet",
        category: "grains",
        unit_zh: "斤",
        unit_en: "jin (500 g)",
        price_fen: 900,
    },
    Template {
        slug: "huangmi-mian",
        zh: "黄米面",
        en: "millet cake flour",
        category: "flour",
        unit_zh: "袋",
        unit_en: "bag (2.5 kg)",
        price_fen: 3_500,
    },
    Template {
        slug: "suancai",
        zh: "腌酸菜",
        en: "pickled cabbage",
        category: "pickles",
        unit_zh: "罐",
        unit_en: "jar",
        price_fen: 1_800,
    },
    Template {
        slug: "xiangbai-xing",
        zh: "香白杏",
        en: "Xiangbai apricots",
        category: "fruit",
        unit_zh: "斤",
        unit_en: "jin (500 g)",
        price_fen: 1_200,
    },
    Template {
        slug: "huanghuacai",
        zh: "黄花菜",
        en: "dried daylily",
        category: "dried",
        unit_zh: "斤",
        unit_en: "jin (500 g)",
        price_fen: 4_500,
    },
    Template {
        slug: "tudou",
        zh: "土豆",
        en: "potatoes",
        category: "vegetables",
        unit_zh: "袋",
        unit_en: "bag (5 kg)",
        price_fen: 1_500,
    },
    Template {
        slug: "chaijidan",
        zh: "柴鸡蛋",
        en: "free-range eggs",
        category: "poultry_eggs",
        unit_zh: "盒",
        unit_en: "box of 30",
        price_fen: 4_800,
    },
    Template {
        slug: "huangqi",
        zh: "黄芪",
        en: "astragalus root",
        category: "herbs",
        unit_zh: "斤",
        unit_en: "jin (500 g)",
        price_fen: 6_800,
    },
];

/// Purchased (统购) goods: the collective buys each lot from the household as it comes in.
const PURCHASED: [Template; 4] = [
    Template {
        slug: "yangrou",
        zh: "羊肉",
        en: "lamb",
        category: "meat",
        unit_zh: "斤",
        unit_en: "jin (500 g)",
        price_fen: 4_200,
    },
    Template {
        slug: "gaoliangjiu",
        zh: "高粱酒",
        en: "sorghum liquor",
        category: "liquor",
        unit_zh: "瓶",
        unit_en: "bottle",
        price_fen: 6_800,
    },
    Template {
        slug: "nianhuo-lihe",
        zh: "年货礼盒",
        en: "New Year gift box",
        category: "gifts",
        unit_zh: "箱",
        unit_en: "box",
        price_fen: 16_800,
    },
    Template {
        slug: "kuqiao-cha",
        zh: "苦荞茶",
        en: "tartary buckwheat tea",
        category: "dried",
        unit_zh: "罐",
        unit_en: "tin",
        price_fen: 2_800,
    },
];

const CONSIGNMENT_PER_VILLAGE: usize = 4;
const PURCHASED_PER_VILLAGE: usize = 2;
const PRODUCTS_PER_VILLAGE: usize = CONSIGNMENT_PER_VILLAGE + PURCHASED_PER_VILLAGE;
/// The collective's share of consignment sales (the default `COLLECTIVE_SHARE_BP`; the
/// villages have no share of their own).
const COLLECTIVE_BP: i32 = 1_000;
/// What the collective pays a household for purchased goods, in % of the sale price.
const PURCHASE_PERCENT: i64 = 65;
const CHANNELS: [&str; 3] = ["store", "canteen", "livestream"];
const CANTEENS: [(&str, &str); 4] = [
    ("大同市第一中学食堂", "大同市平城区御河西路18号"),
    ("市第三人民医院职工食堂", "大同市平城区永泰南路1号"),
    ("云冈区机关食堂", "大同市云冈区新平旺迎宾街5号"),
    ("山西大同大学第二食堂", "大同市云州区兴云街405号"),
];
const STREETS: [&str; 6] = [
    "大同市平城区魏都大道",
    "大同市平城区迎宾街",
    "太原市小店区长风街",
    "北京市朝阳区建国路",
    "大同市云冈区同煤快线",
    "呼和浩特市新城区兴安北路",
];

// ---------------------------------------------------------------------------------------
// The plan: everything decided in memory first (by index), then written.

struct VillagePlan {
    county: usize,
    slug: String,
    name_zh: String,
    name_en: String,
    households: std::ops::Range<usize>,
    /// Households that supply goods (a tenth supply nothing: the ones cadres look for).
    suppliers: Vec<u32>,
}

struct HouseholdPlan {
    village: usize,
    code: String,
    head_name: String,
    members: i32,
    category: &'static str,
    phone: String,
    payout_method: &'static str,
    payout_account: Option<String>,
}

struct ProductPlan {
    village: usize,
    template: &'static Template,
    split: Split,
    price_fen: i64,
    name_zh: String,
    name_en: String,
}

impl ProductPlan {
    fn consignment(&self) -> bool {
        matches!(self.split, Split::Consignment { .. })
    }
}

struct OrderPlan {
    /// Days since the first day.
    day: u32,
    /// Minute of the day (China time) the order was placed.
    minute: u32,
    pay_delay_minutes: u32,
    channel: usize,
    organization: usize,
    first_line: usize,
    lines: usize,
    /// Days since the first day on which the order was refunded in full.
    refund_day: Option<u32>,
}

struct LinePlan {
    product: u32,
    quantity: u32,
    /// The line's allocations: `Plan::portions[first_portion..first_portion + portions]`.
    first_portion: usize,
    portions: usize,
}

impl LinePlan {
    fn money(&self, product: &ProductPlan) -> LineMoney {
        LineMoney {
            total_fen: product.price_fen * i64::from(self.quantity),
            quantity: self.quantity as i32,
            commission_bp: 0,
        }
    }
}

/// A lot a household brought in, the morning the product's lots ran short.
struct LotPlan {
    product: u32,
    household: u32,
    /// Days since the first day.
    received: u32,
    quantity: u32,
    remaining: u32,
}

struct PayoutPlan {
    household: u32,
    amount_fen: i64,
    paid_on: NaiveDate,
}

struct Plan {
    first_day: NaiveDate,
    days: u32,
    villages: Vec<VillagePlan>,
    households: Vec<HouseholdPlan>,
    products: Vec<ProductPlan>,
    orders: Vec<OrderPlan>,
    lines: Vec<LinePlan>,
    /// Every allocation, in the order of the lines (its id: index + 1), as
    /// `domain::ledger`'s first in, first out gave it.
    portions: Vec<Portion>,
    lots: Vec<LotPlan>,
    payouts: Vec<PayoutPlan>,
}

impl Plan {
    fn day(&self, offset: u32) -> NaiveDate {
        self.first_day + Duration::days(i64::from(offset))
    }

    fn month_start(&self, month: u32) -> NaiveDate {
        self.first_day
            .checked_add_months(chrono::Months::new(month))
            .unwrap_or(self.first_day)
    }

    fn month_index(&self, day: NaiveDate) -> u32 {
        let months = (day.year() - self.first_day.year()) * 12 + day.month0() as i32
            - self.first_day.month0() as i32;
        months.max(0) as u32
    }

    fn purchase_price_fen(&self, product: &ProductPlan) -> i64 {
        product.price_fen * PURCHASE_PERCENT / 100
    }

    fn line_portions(&self, line: &LinePlan) -> &[Portion] {
        &self.portions[line.first_portion..line.first_portion + line.portions]
    }

    /// The supplier of `village` with the most allocations: the household whose
    /// statement the benchmark times.
    fn busiest_household(&self, village: usize) -> Option<i64> {
        let range = &self.villages[village].households;
        let mut counts = vec![0u32; range.len()];
        for p in &self.portions {
            let h = (p.household_id - 1) as usize;
            if range.contains(&h) {
                counts[h - range.start] += 1;
            }
        }
        let (i, n) = counts
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, usize::MAX - i))?;
        (*n > 0).then_some((range.start + i) as i64 + 1)
    }
}

/// A product's lots that still hold goods, oldest first, and what they hold together.
#[derive(Default)]
struct Shelf {
    lots: VecDeque<LotGoods>,
    units: u32,
}

fn plan(args: &GenerateArgs, today: NaiveDate) -> AnyResult<Plan> {
    let mut rng = Rng(args.seed);
    let n_villages = args.villages as usize;
    let n_households = args.households as usize;
    let this_month = month_of(today);
    let first_day = this_month
        .checked_sub_months(chrono::Months::new(args.months))
        .ok_or("--months reaches before the calendar")?;
    let days = (this_month - first_day).num_days() as u32;
    let n_counties = n_villages.div_ceil(5);

    let mut villages = Vec::with_capacity(n_villages);
    let mut households = Vec::with_capacity(n_households);
    for v in 0..n_villages {
        let (first_zh, first_en) = VILLAGE_FIRST[v % 10];
        let (second_zh, second_en) = VILLAGE_SECOND[(v / 10 + v) % 10];
        let lap = v / 100;
        let (name_zh, name_en) = if lap == 0 {
            (
                format!("{first_zh}{second_zh}村"),
                format!("{first_en}{second_en}"),
            )
        } else {
            (
                format!("{first_zh}{second_zh}{}村", lap + 1),
                format!("{first_en}{second_en} {}", lap + 1),
            )
        };
        let range = v * n_households / n_villages..(v + 1) * n_households / n_villages;
        let mut suppliers = Vec::new();
        for (n, h) in range.clone().enumerate() {
            if n % 10 != 9 {
                suppliers.push(h as u32);
            }
            let category = match rng.below(10) {
                0..=2 => "tuopin",
                3 => "jiance",
                _ => "yiban",
            };
            let (payout_method, payout_account) = match rng.below(10) {
                0..=4 => (
                    "bank",
                    Some(format!("6222{:015}", rng.below(10u64.pow(15)))),
                ),
                5..=7 => ("wechat", Some(format!("wxid_{}", rng.hex(1)))),
                8 => ("alipay", Some(format!("139{:08}", h))),
                _ => ("cash", None),
            };
            households.push(HouseholdPlan {
                village: v,
                code: format!("V{:02}-{:03}", v + 1, n + 1),
                head_name: format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN_NAMES)),
                members: rng.range(1, 7) as i32,
                category,
                phone: format!("139{h:08}"),
                payout_method,
                payout_account,
            });
        }
        if suppliers.is_empty() {
            return Err(format!("village {} would have no households", v + 1).into());
        }
        villages.push(VillagePlan {
            county: v * n_counties / n_villages,
            slug: format!("v{:02}", v + 1),
            name_zh,
            name_en,
            households: range,
            suppliers,
        });
    }

    let mut products = Vec::with_capacity(n_villages * PRODUCTS_PER_VILLAGE);
    for (v, village) in villages.iter().enumerate() {
        let chosen = (0..CONSIGNMENT_PER_VILLAGE)
            .map(|j| (&CONSIGNMENT[(v + j) % CONSIGNMENT.len()], true))
            .chain(
                (0..PURCHASED_PER_VILLAGE).map(|j| (&PURCHASED[(v + j) % PURCHASED.len()], false)),
            );
        for (template, consignment) in chosen {
            // Each village prices a little differently, to the ten fen.
            let price_fen = template.price_fen * (90 + rng.range(0, 20) as i64) / 1000 * 10;
            let short = village.name_zh.trim_end_matches('村');
            products.push(ProductPlan {
                village: v,
                template,
                split: if consignment {
                    Split::Consignment {
                        collective_bp: COLLECTIVE_BP,
                    }
                } else {
                    Split::Purchased
                },
                price_fen,
                name_zh: format!("{short}{}", template.zh),
                name_en: format!("{} {}", village.name_en, template.en),
            });
        }
    }

    // Lines per order: 1 to 4, 2.5 on average, exactly `--lines` in all.
    let mut sizes = Vec::new();
    let mut left = args.lines as usize;
    while left > 0 {
        let n = (1 + rng.below(4) as usize).min(left);
        sizes.push(n);
        left -= n;
    }
    // Busier villages: weights 1, 2, 3 in turn.
    let weights: Vec<u64> = (0..n_villages).map(|v| 1 + v as u64 % 3).collect();
    let cumulative: Vec<u64> = weights
        .iter()
        .scan(0, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect();
    let weight_total = cumulative.last().copied().unwrap_or(1);

    let n_orders = sizes.len();
    let months = args.months as usize;
    let n_products = products.len();
    let mut plan = Plan {
        first_day,
        days,
        villages,
        households,
        products,
        orders: Vec::with_capacity(n_orders),
        lines: Vec::with_capacity(args.lines as usize),
        portions: Vec::with_capacity(args.lines as usize),
        lots: Vec::new(),
        payouts: Vec::new(),
    };
    let month_of_day: Vec<usize> = (0..days)
        .map(|d| plan.month_index(plan.day(d)) as usize)
        .collect();
    let mut shelves: Vec<Shelf> = (0..n_products).map(|_| Shelf::default()).collect();
    // What each household's ledger entries add up to, per month.
    let mut net = vec![0i64; n_households * months];

    for (i, n_lines) in sizes.into_iter().enumerate() {
        let day = ((i as u64 * u64::from(days)) / n_orders as u64) as u32;
        let pick = rng.below(weight_total);
        let v = cumulative.partition_point(|c| *c <= pick);
        let channel = match rng.below(100) {
            0..=44 => 0,
            45..=64 => 1,
            _ => 2,
        };
        let refund_day = rng
            .per_mille(4)
            .then(|| (day + rng.range(1, 7) as u32).min(days - 1));
        let mut offered: [usize; PRODUCTS_PER_VILLAGE] = std::array::from_fn(|j| j);
        let first_line = plan.lines.len();
        for k in 0..n_lines {
            let swap = k + rng.below((PRODUCTS_PER_VILLAGE - k) as u64) as usize;
            offered.swap(k, swap);
            let p = (v * PRODUCTS_PER_VILLAGE + offered[k]) as u32;
            let quantity = match channel {
                1 => rng.range(10, 40),
                2 => rng.range(1, 3),
                _ => rng.range(1, 5),
            } as u32;
            let product = &plan.products[p as usize];
            let shelf = &mut shelves[p as usize];
            // Not enough left: a household of the village brings a lot in that morning.
            while shelf.units < quantity {
                let household = *rng.pick(&plan.villages[v].suppliers);
                let units = if product.consignment() {
                    rng.range(40, 400)
                } else {
                    rng.range(20, 200)
                } as u32;
                let lot = plan.lots.len();
                plan.lots.push(LotPlan {
                    product: p,
                    household,
                    received: day,
                    quantity: units,
                    remaining: units,
                });
                shelf.lots.push_back(LotGoods {
                    lot_id: lot as i64 + 1,
                    household_id: i64::from(household) + 1,
                    remaining: units as i32,
                });
                shelf.units += units;
                if !product.consignment() {
                    let earning = purchase_posting(
                        i64::from(household) + 1,
                        plan.purchase_price_fen(product),
                        units as i32,
                    );
                    net[household as usize * months + month_of_day[day as usize]] +=
                        earning.amount_fen;
                }
            }
            let line = LinePlan {
                product: p,
                quantity,
                first_portion: plan.portions.len(),
                portions: 0,
            };
            let money = line.money(product);
            let (portions, unallocated) =
                allocate_line_units(money, product.split, shelf.lots.make_contiguous());
            if unallocated.is_some() {
                return Err(format!("line {} found its lots short", plan.lines.len() + 1).into());
            }
            // Take the units from the lots, and count what the household earned (and
            // gives back if the order is refunded).
            let mut earnings = portions
                .iter()
                .flat_map(|portion| sale_postings(money, product.split, portion))
                .map(|posting| (day, posting))
                .collect::<Vec<_>>();
            if let Some(r) = refund_day {
                let refund = reverse_line_units(money, &portions, 0, money.quantity);
                earnings.extend(refund.into_iter().flat_map(|r| r.postings).map(|p| (r, p)));
            }
            for (day, posting) in earnings {
                if let Some(h) = posting.household_id {
                    net[(h - 1) as usize * months + month_of_day[day as usize]] +=
                        posting.amount_fen;
                }
            }
            for portion in &portions {
                let taken = portion.quantity as u32;
                plan.lots[(portion.lot_id - 1) as usize].remaining -= taken;
                shelf.units -= taken;
                if let Some(front) = shelf.lots.front_mut() {
                    front.remaining -= portion.quantity;
                    if front.remaining == 0 {
                        shelf.lots.pop_front();
                    }
                }
            }
            plan.lines.push(LinePlan {
                portions: portions.len(),
                ..line
            });
            plan.portions.extend(portions);
        }
        plan.orders.push(OrderPlan {
            day,
            minute: 8 * 60 + rng.below(14 * 60) as u32,
            pay_delay_minutes: rng.range(1, 30) as u32,
            channel,
            organization: rng.below(CANTEENS.len() as u64) as usize,
            first_line,
            lines: n_lines,
            refund_day,
        });
    }

    // Each household is paid on the 5th most of what it was owed at the end of the
    // month before, rounded down to the yuan, from 100 yuan up.
    for h in 0..n_households {
        let mut balance = 0i64;
        for m in 0..months {
            balance += net[h * months + m];
            if m + 1 < months && balance >= 10_000 {
                let amount_fen = balance * 9 / 10 / 100 * 100;
                balance -= amount_fen;
                plan.payouts.push(PayoutPlan {
                    household: h as u32,
                    amount_fen,
                    paid_on: plan.month_start(m as u32 + 1) + Duration::days(4),
                });
            }
        }
    }
    plan.payouts.sort_by_key(|p| (p.paid_on, p.household));
    Ok(plan)
}

// ---------------------------------------------------------------------------------------
// Rows as written, with explicit ids. `treat_none_as_default_value = false` makes every
// row the same shape: one multi-row INSERT on SQLite (diesel would otherwise insert
// rows with a `None` one by one there) and binary COPY on PostgreSQL.

#[derive(Insertable)]
#[diesel(table_name = households, treat_none_as_default_value = false)]
struct HouseholdRow<'a> {
    id: i64,
    village_id: i64,
    code: &'a str,
    head_name: &'a str,
    resident_members: i32,
    category: &'a str,
    phone: Option<&'a str>,
    payout_method: &'a str,
    payout_account: Option<&'a str>,
    archived: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = stock_lots, treat_none_as_default_value = false)]
struct LotRow {
    id: i64,
    product_id: i64,
    household_id: i64,
    quantity: i32,
    remaining: i32,
    received_on: NaiveDate,
    purchase_price_fen: Option<i64>,
    recorded_by: Option<i64>,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
struct OrderRow {
    id: i64,
    number: String,
    channel: &'static str,
    organization_id: Option<i64>,
    buyer_user_id: Option<i64>,
    buyer_name: String,
    buyer_phone: String,
    buyer_email: Option<String>,
    delivery_address: String,
    note: &'static str,
    payment_method: &'static str,
    status: &'static str,
    total_fen: i64,
    token: String,
    idempotency_key: String,
    reserved_until: Option<NaiveDateTime>,
    business_date: NaiveDate,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    locale: &'static str,
    provider_session_id: Option<String>,
    provider_payment_id: Option<String>,
    paid_fen: i64,
    refunded_fen: i64,
    paid_at: Option<NaiveDateTime>,
    attention: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = order_lines, treat_none_as_default_value = false)]
struct LineRow<'a> {
    id: i64,
    order_id: i64,
    product_id: i64,
    village_id: i64,
    quantity: i32,
    unit_price_fen: i64,
    line_total_fen: i64,
    product_name_zh: &'a str,
    product_name_en: &'a str,
    sale_unit_zh: &'a str,
    sale_unit_en: &'a str,
    refunded_quantity: i32,
}

#[derive(Insertable)]
#[diesel(table_name = allocations, treat_none_as_default_value = false)]
struct AllocationRow {
    id: i64,
    order_line_id: i64,
    lot_id: i64,
    household_id: i64,
    first_unit: i32,
    quantity: i32,
    amount_fen: i64,
    collective_share_bp: i32,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = refunds, treat_none_as_default_value = false)]
struct RefundRow {
    id: i64,
    order_id: i64,
    amount_fen: i64,
    provider_refund_id: Option<String>,
    reason: &'static str,
    restock: bool,
    actor_label: &'static str,
    business_date: NaiveDate,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = refund_lines, treat_none_as_default_value = false)]
struct RefundLineRow {
    id: i64,
    refund_id: i64,
    order_line_id: i64,
    quantity: i32,
    amount_fen: i64,
}

#[derive(Insertable)]
#[diesel(table_name = payouts, treat_none_as_default_value = false)]
struct PayoutRow {
    id: i64,
    household_id: i64,
    amount_fen: i64,
    method: &'static str,
    reference: String,
    paid_on: NaiveDate,
    recorded_by: Option<i64>,
    created_at: NaiveDateTime,
}

/// A ledger entry: the fields of `db::ledger::NewLedgerEntry`, with its id.
#[derive(Insertable, Clone, Copy)]
#[diesel(table_name = ledger_entries, treat_none_as_default_value = false)]
struct EntryRow {
    id: i64,
    kind: LedgerKind,
    village_id: i64,
    household_id: Option<i64>,
    channel: Option<&'static str>,
    product_id: Option<i64>,
    order_id: Option<i64>,
    order_line_id: Option<i64>,
    allocation_id: Option<i64>,
    lot_id: Option<i64>,
    refund_id: Option<i64>,
    payout_id: Option<i64>,
    quantity: i32,
    amount_fen: i64,
    business_date: NaiveDate,
    business_month: NaiveDate,
    created_at: NaiveDateTime,
}

impl EntryRow {
    fn new(kind: LedgerKind, village_id: i64, day: NaiveDate, at: NaiveDateTime) -> EntryRow {
        EntryRow {
            id: 0,
            kind,
            village_id,
            household_id: None,
            channel: None,
            product_id: None,
            order_id: None,
            order_line_id: None,
            allocation_id: None,
            lot_id: None,
            refund_id: None,
            payout_id: None,
            quantity: 0,
            amount_fen: 0,
            business_date: day,
            business_month: month_of(day),
            created_at: at,
        }
    }

    /// The entry a posting of `domain::ledger` becomes; the caller adds the ids.
    fn posted(posting: Posting, village_id: i64, day: NaiveDate, at: NaiveDateTime) -> EntryRow {
        EntryRow {
            household_id: posting.household_id,
            quantity: posting.quantity,
            amount_fen: posting.amount_fen,
            ..EntryRow::new(posting.kind, village_id, day, at)
        }
    }
}

/// Writes `rows` to `table`: multi-row INSERTs of 1,000 rows on SQLite (no table here
/// has more than 32 columns, so a statement stays under SQLite's 32,766 bound
/// parameters), one binary COPY on PostgreSQL.
macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = &$rows[..];
        if !rows.is_empty() {
            match &mut *$conn {
                DbConn::Sqlite(c) => {
                    for chunk in rows.chunks(1_000) {
                        diesel::insert_into($table).values(chunk).execute(c)?;
                    }
                }
                DbConn::Pg(c) => {
                    diesel::copy_from($table).from_insertable(rows).execute(c)?;
                }
            }
        }
    }};
}

/// Ids handed out so far (the tables are empty at the start: ids run from 1).
#[derive(Default)]
struct Ids {
    entry: i64,
    refund: i64,
    refund_line: i64,
}

impl Ids {
    fn entry(&mut self, mut e: EntryRow) -> EntryRow {
        self.entry += 1;
        e.id = self.entry;
        e
    }
}

/// The ids the database gave to the rows written through the library.
struct Written {
    counties: Vec<i64>,
    villages: Vec<i64>,
    products: Vec<i64>,
    organizations: Vec<i64>,
    admin: i64,
}

/// China wall-clock `minute` of `day`, as the UTC instant the database stores.
fn utc_at(day: NaiveDate, minute: u32) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::minutes(i64::from(minute) - 8 * 60)
}

fn generate(args: &GenerateArgs) -> AnyResult<()> {
    if args.villages == 0 || args.households < args.villages || args.lines == 0 {
        return Err("need at least one village, a household per village and one line".into());
    }
    if !(1..=120).contains(&args.months) {
        return Err("--months must be 1 to 120".into());
    }
    let url = DatabaseUrl::parse(&args.database_url)?;
    let backend = url.backend().name();
    let started = Instant::now();
    let now = now_utc();
    let today = china_date(now);

    let pool = open_pool(&url, 1)?;
    let mut pooled = pool.get().map_err(|e| format!("{url}: {e}"))?;
    let conn: &mut DbConn = &mut pooled;
    let (v, h, u, o): (i64, i64, i64, i64) = (
        villages::table.count().get_result(conn)?,
        households::table.count().get_result(conn)?,
        users::table.count().get_result(conn)?,
        orders::table.count().get_result(conn)?,
    );
    if v + h + u + o > 0 {
        return Err(format!(
            "{url} is not empty ({v} villages, {h} households, {u} users, {o} orders): \
             generate into a fresh database"
        )
        .into());
    }
    // Benchmark data is thrown away after the run: no need to wait for the disk.
    match conn {
        DbConn::Sqlite(c) => c.batch_execute(
            "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;",
        )?,
        DbConn::Pg(c) => {
            c.batch_execute("SET synchronous_commit = off;")?;
            // PostgreSQL checks each foreign key of each row with a query of its own,
            // which makes the load five times slower. The rows are consistent by
            // construction (`--check-foreign-keys` proves it, slowly); skipping the
            // checks needs a superuser, as the benchmark's `postgres` is.
            if !args.check_foreign_keys {
                match c.batch_execute("SET session_replication_role = replica;") {
                    Ok(()) => println!(
                        "postgres: foreign keys not checked while loading (--check-foreign-keys checks them)"
                    ),
                    Err(e) => println!("postgres: foreign keys checked row by row ({e})"),
                }
            }
        }
    }

    let t = Instant::now();
    let plan = plan(args, today)?;
    let last_day = plan.day(plan.days - 1);
    println!(
        "{backend}: planned {} orders, {} lines, {} lots, {} payouts over {} to {} ({:.1} s)",
        plan.orders.len(),
        plan.lines.len(),
        plan.lots.len(),
        plan.payouts.len(),
        plan.first_day,
        last_day,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let written = write_places(conn, args, &plan, now)?;
    write_households(conn, &plan, &written, now)?;
    let mut ids = Ids::default();
    write_lots(conn, &plan, &written, &mut ids)?;
    println!(
        "{backend}: {} counties, {} villages, {} products, {} households, {} lots ({:.1} s)",
        written.counties.len(),
        written.villages.len(),
        written.products.len(),
        plan.households.len(),
        plan.lots.len(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    write_orders(conn, &plan, &written, &mut ids, args.seed, backend)?;
    write_payouts(conn, &plan, &written, &mut ids)?;
    println!(
        "{backend}: orders, lines, allocations, {} ledger entries, {} refunds, {} payouts ({:.1} s)",
        ids.entry,
        ids.refund,
        plan.payouts.len(),
        t.elapsed().as_secs_f64()
    );

    if let DbConn::Pg(c) = &mut *conn {
        // Rows came in with their ids: move each identity past them.
        let mut sql = String::new();
        for table in [
            "households",
            "stock_lots",
            "orders",
            "order_lines",
            "allocations",
            "refunds",
            "refund_lines",
            "payouts",
            "ledger_entries",
        ] {
            sql.push_str(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table};"
            ));
        }
        c.batch_execute(&sql)?;
    }

    let t = Instant::now();
    write_transaction(conn, |conn| {
        let totals = ledger::recompute_totals(conn)?;
        ledger::add_totals(conn, &totals)
    })?;
    println!(
        "{backend}: monthly totals from the ledger ({:.1} s)",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    match &mut *conn {
        // What autovacuum would do soon after such a load, done now so that it does not
        // run in the middle of the timings (and so that a server with autovacuum off
        // plans with statistics all the same).
        DbConn::Pg(c) => c.batch_execute("VACUUM ANALYZE;")?,
        // The app never runs ANALYZE on SQLite: neither does this.
        DbConn::Sqlite(c) => c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?,
    }
    println!(
        "{backend}: {} ({:.1} s)",
        if backend == "postgres" {
            "VACUUM ANALYZE"
        } else {
            "WAL checkpoint"
        },
        t.elapsed().as_secs_f64()
    );

    if args.verify {
        let t = Instant::now();
        let problems = village_market::domain::ledger::verify(conn)?;
        for p in problems.iter().take(20) {
            eprintln!("{p}");
        }
        if !problems.is_empty() {
            return Err(format!("verify found {} problems", problems.len()).into());
        }
        println!(
            "{backend}: verify: the ledger and the totals agree ({:.1} s)",
            t.elapsed().as_secs_f64()
        );
    }

    let household = plan
        .busiest_household(0)
        .unwrap_or(i64::from(plan.villages[0].suppliers[0]) + 1);
    println!(
        "{backend}: generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "result: village_id={} household_id={household} first_month={} last_month={} last_day={last_day}",
        written.villages[0],
        plan.first_day.format("%Y-%m"),
        last_day.format("%Y-%m"),
    );
    Ok(())
}

fn write_places(
    conn: &mut DbConn,
    args: &GenerateArgs,
    plan: &Plan,
    now: NaiveDateTime,
) -> AnyResult<Written> {
    let n_counties = plan.villages.last().map_or(0, |v| v.county + 1);
    let written = write_transaction(conn, |conn| -> QueryResult<Written> {
        let mut counties = Vec::new();
        for c in 0..n_counties {
            let (slug, zh, en) = COUNTIES[c % COUNTIES.len()];
            let lap = c / COUNTIES.len();
            let (slug, zh, en) = if lap == 0 {
                (slug.to_string(), zh.to_string(), en.to_string())
            } else {
                (
                    format!("{slug}-{}", lap + 1),
                    format!("{zh}{}", lap + 1),
                    format!("{en} {}", lap + 1),
                )
            };
            counties.push(cat::insert_county(
                conn,
                &NewCounty {
                    slug: &slug,
                    name_zh: &zh,
                    name_en: &en,
                    sort_order: c as i32,
                },
            )?);
        }
        let mut villages = Vec::new();
        for v in &plan.villages {
            let story_zh = format!("{}的乡亲们种地、养羊、腌菜，驻村工作队帮着卖。", v.name_zh);
            let story_en = format!(
                "{} farms, keeps sheep and pickles; the village work team sells for it.",
                v.name_en
            );
            villages.push(cat::insert_village(
                conn,
                &NewVillage {
                    county_id: counties[v.county],
                    slug: &v.slug,
                    name_zh: &v.name_zh,
                    name_en: &v.name_en,
                    township_zh: None,
                    township_en: None,
                    story_zh: &story_zh,
                    story_en: &story_en,
                    collective_share_bp: None,
                    created_at: now,
                },
            )?);
        }
        // Stock for sale: what is left in the product's lots.
        let mut stock = vec![0i32; plan.products.len()];
        for lot in &plan.lots {
            stock[lot.product as usize] += lot.remaining as i32;
        }
        let mut products = Vec::new();
        for (i, p) in plan.products.iter().enumerate() {
            let description_zh = format!(
                "{}，由{}农户供货。",
                p.name_zh, plan.villages[p.village].name_zh
            );
            let description_en = format!(
                "{}, supplied by households of {}.",
                p.name_en, plan.villages[p.village].name_en
            );
            products.push(cat::insert_product(
                conn,
                &NewProduct {
                    village_id: villages[p.village],
                    slug: p.template.slug,
                    name_zh: &p.name_zh,
                    name_en: &p.name_en,
                    description_zh: &description_zh,
                    description_en: &description_en,
                    category: p.template.category,
                    sale_unit_zh: p.template.unit_zh,
                    sale_unit_en: p.template.unit_en,
                    unit_price_fen: p.price_fen,
                    stock: stock[i],
                    min_per_order: 1,
                    max_per_order: None,
                    season_months: "",
                    status: ProductStatus::OnSale,
                    supply_mode: if p.consignment() {
                        SupplyMode::Consignment
                    } else {
                        SupplyMode::Purchased
                    },
                    featured: i % 7 == 0,
                    low_stock_threshold: 10,
                    canteen_min_quantity: 1,
                    canteen_step: 1,
                    created_at: now,
                    updated_at: now,
                },
            )?);
        }
        let mut organizations = Vec::new();
        for (i, (name, address)) in CANTEENS.iter().enumerate() {
            organizations.push(acc::insert_organization(
                conn,
                &NewOrganization {
                    name,
                    invoice_title: name,
                    tax_id: &format!("91140200MA0K{i:06}"),
                    address,
                    contact_name: "后勤处",
                    contact_phone: &format!("0352-{:07}", 5_550_000 + i),
                    payment_terms_days: 30,
                    annual_target_fen: 50_000_000,
                    created_at: now,
                },
            )?);
        }
        Ok(Written {
            counties,
            villages,
            products,
            organizations,
            admin: 0,
        })
    })?;
    let mut written = written;
    let who = Who::tool("bench-reports");
    let account = |email: &str, display_name: &str, role, county_slug| NewAccount {
        email: email.to_string(),
        display_name: display_name.to_string(),
        role,
        password: args.password.clone(),
        lang: Lang::ZhCn,
        village_slugs: Vec::new(),
        county_slug,
        organization: None,
    };
    written.admin = create_account(
        conn,
        &account("bench@example.com", "基准测试管理员", Role::Admin, None),
        &who,
        now,
    )
    .map_err(|e| format!("bench@example.com: {}", e))?;
    create_account(
        conn,
        &account(
            "cadre@example.com",
            "县乡村振兴局",
            Role::Cadre,
            Some(COUNTIES[0].0.to_string()),
        ),
        &who,
        now,
    )
    .map_err(|e| format!("cadre@example.com: {}", e))?;
    Ok(written)
}

fn write_households(
    conn: &mut DbConn,
    plan: &Plan,
    written: &Written,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let rows: Vec<HouseholdRow> = plan
        .households
        .iter()
        .enumerate()
        .map(|(i, h)| HouseholdRow {
            id: i as i64 + 1,
            village_id: written.villages[h.village],
            code: &h.code,
            head_name: &h.head_name,
            resident_members: h.members,
            category: h.category,
            phone: Some(&h.phone),
            payout_method: h.payout_method,
            payout_account: h.payout_account.as_deref(),
            archived: false,
            created_at: now,
            updated_at: now,
        })
        .collect();
    debug_assert!(plan.villages.iter().all(|v| v.households.end <= rows.len()));
    write_transaction(conn, |conn| {
        bulk_insert!(conn, households::table, rows);
        Ok(())
    })
}

/// The lots, and for purchased ones the household's earning on the day it was received
/// (`domain::ledger::post_purchase`).
fn write_lots(conn: &mut DbConn, plan: &Plan, written: &Written, ids: &mut Ids) -> QueryResult<()> {
    let mut rows = Vec::with_capacity(plan.lots.len());
    let mut entries = Vec::new();
    for (i, lot) in plan.lots.iter().enumerate() {
        let product = &plan.products[lot.product as usize];
        let received_on = plan.day(lot.received);
        // Before the day's first orders (from 8:00).
        let at = utc_at(received_on, 7 * 60);
        let household_id = i64::from(lot.household) + 1;
        let quantity = lot.quantity as i32;
        let purchase_price_fen = (!product.consignment()).then(|| plan.purchase_price_fen(product));
        rows.push(LotRow {
            id: i as i64 + 1,
            product_id: written.products[lot.product as usize],
            household_id,
            quantity,
            remaining: lot.remaining as i32,
            received_on,
            purchase_price_fen,
            recorded_by: Some(written.admin),
            created_at: at,
        });
        if let Some(price) = purchase_price_fen {
            entries.push(ids.entry(EntryRow {
                product_id: Some(written.products[lot.product as usize]),
                lot_id: Some(i as i64 + 1),
                ..EntryRow::posted(
                    purchase_posting(household_id, price, quantity),
                    written.villages[product.village],
                    received_on,
                    at,
                )
            }));
        }
    }
    write_transaction(conn, |conn| {
        bulk_insert!(conn, stock_lots::table, rows);
        bulk_insert!(conn, ledger_entries::table, entries);
        Ok(())
    })
}

/// What one transaction writes: a few thousand orders with everything they caused.
#[derive(Default)]
struct Batch<'a> {
    orders: Vec<OrderRow>,
    lines: Vec<LineRow<'a>>,
    allocations: Vec<AllocationRow>,
    refunds: Vec<RefundRow>,
    refund_lines: Vec<RefundLineRow>,
    entries: Vec<EntryRow>,
}

impl Batch<'_> {
    fn write(&self, conn: &mut DbConn) -> QueryResult<()> {
        bulk_insert!(conn, orders::table, self.orders);
        bulk_insert!(conn, order_lines::table, self.lines);
        bulk_insert!(conn, allocations::table, self.allocations);
        bulk_insert!(conn, refunds::table, self.refunds);
        bulk_insert!(conn, refund_lines::table, self.refund_lines);
        bulk_insert!(conn, ledger_entries::table, self.entries);
        Ok(())
    }
}

const ORDERS_PER_TRANSACTION: usize = 5_000;

fn write_orders(
    conn: &mut DbConn,
    plan: &Plan,
    written: &Written,
    ids: &mut Ids,
    seed: u64,
    backend: &str,
) -> QueryResult<()> {
    // Names, tokens and addresses come from their own stream, apart from the plan's.
    let mut rng = Rng(seed ^ 0x05EE_D0F0_BDE5_u64);
    let total = plan.orders.len();
    let mut next_report = total / 10;
    let t = Instant::now();
    for start in (0..total).step_by(ORDERS_PER_TRANSACTION) {
        let end = (start + ORDERS_PER_TRANSACTION).min(total);
        let mut batch = Batch::default();
        for (i, order) in plan.orders[start..end].iter().enumerate() {
            add_order(&mut batch, plan, written, ids, &mut rng, start + i, order);
        }
        write_transaction(conn, |conn| batch.write(conn))?;
        if end >= next_report || end == total {
            println!(
                "{backend}:   {end} / {total} orders, {} lines ({:.1} s)",
                plan.orders[end - 1].first_line + plan.orders[end - 1].lines,
                t.elapsed().as_secs_f64()
            );
            next_report += total / 10;
        }
    }
    Ok(())
}

/// Order number `index` (0-based) as the app would have stored it once paid, with its
/// lines allocated to their lots and the money posted; refunded in full if planned.
fn add_order<'a>(
    batch: &mut Batch<'a>,
    plan: &'a Plan,
    written: &Written,
    ids: &mut Ids,
    rng: &mut Rng,
    index: usize,
    order: &OrderPlan,
) {
    let order_id = index as i64 + 1;
    let day = plan.day(order.day);
    let created_at = utc_at(day, order.minute);
    let paid_at = created_at + Duration::minutes(i64::from(order.pay_delay_minutes));
    let channel = CHANNELS[order.channel];
    let refund = order.refund_day.map(|d| {
        ids.refund += 1;
        (ids.refund, plan.day(d), utc_at(plan.day(d), 10 * 60))
    });
    let mut total_fen = 0;
    for n in order.first_line..order.first_line + order.lines {
        let line = &plan.lines[n];
        let product = &plan.products[line.product as usize];
        let line_id = n as i64 + 1;
        let village_id = written.villages[product.village];
        let product_id = written.products[line.product as usize];
        let quantity = line.quantity as i32;
        let money = line.money(product);
        let amount = money.total_fen;
        total_fen += amount;
        batch.lines.push(LineRow {
            id: line_id,
            order_id,
            product_id,
            village_id,
            quantity,
            unit_price_fen: product.price_fen,
            line_total_fen: amount,
            product_name_zh: &product.name_zh,
            product_name_en: &product.name_en,
            sale_unit_zh: product.template.unit_zh,
            sale_unit_en: product.template.unit_en,
            refunded_quantity: if refund.is_some() { quantity } else { 0 },
        });
        let portions = plan.line_portions(line);
        let allocation_id = |i: usize| (line.first_portion + i) as i64 + 1;
        let entry = |posting, allocation: Option<usize>, day, at| EntryRow {
            channel: Some(channel),
            product_id: Some(product_id),
            order_id: Some(order_id),
            order_line_id: Some(line_id),
            allocation_id: allocation.map(allocation_id),
            lot_id: allocation.map(|i| portions[i].lot_id),
            ..EntryRow::posted(posting, village_id, day, at)
        };
        // What `domain::ledger::allocate_order` writes for each lot the line took from…
        for (i, portion) in portions.iter().enumerate() {
            batch.allocations.push(AllocationRow {
                id: allocation_id(i),
                order_line_id: line_id,
                lot_id: portion.lot_id,
                household_id: portion.household_id,
                first_unit: portion.first_unit,
                quantity: portion.quantity,
                amount_fen: portion.amount_fen,
                collective_share_bp: portion.collective_share_bp,
                created_at: paid_at,
            });
            for posting in sale_postings(money, product.split, portion) {
                batch
                    .entries
                    .push(ids.entry(entry(posting, Some(i), day, paid_at)));
            }
        }
        // …and what `domain::ledger::reverse_units` posts when all of it is refunded.
        if let Some((refund_id, refund_day, refunded_at)) = refund {
            ids.refund_line += 1;
            batch.refund_lines.push(RefundLineRow {
                id: ids.refund_line,
                refund_id,
                order_line_id: line_id,
                quantity,
                amount_fen: amount,
            });
            for reversal in reverse_line_units(money, portions, 0, quantity) {
                for posting in reversal.postings {
                    batch.entries.push(ids.entry(EntryRow {
                        refund_id: Some(refund_id),
                        ..entry(posting, reversal.allocation, refund_day, refunded_at)
                    }));
                }
            }
        }
    }
    if let Some((refund_id, refund_day, refunded_at)) = refund {
        batch.refunds.push(RefundRow {
            id: refund_id,
            order_id,
            amount_fen: total_fen,
            provider_refund_id: None,
            reason: "货物运输途中破损",
            restock: false,
            actor_label: "bench-reports",
            business_date: refund_day,
            created_at: refunded_at,
        });
    }
    let (organization_id, buyer_name, delivery_address) = match channel {
        "canteen" => (
            Some(written.organizations[order.organization]),
            "后勤处".to_string(),
            CANTEENS[order.organization].1.to_string(),
        ),
        _ => (
            None,
            if channel == "livestream" {
                format!("直播间观众{}", rng.range(1_000, 99_999))
            } else {
                format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN_NAMES))
            },
            format!("{}{}号", rng.pick(&STREETS), rng.range(1, 300)),
        ),
    };
    batch.orders.push(OrderRow {
        id: order_id,
        number: format!("{}-{index:06X}", day.format("%Y%m%d")),
        channel,
        organization_id,
        buyer_user_id: None,
        buyer_name,
        buyer_phone: format!("13{:09}", rng.below(1_000_000_000)),
        buyer_email: rng
            .per_mille(300)
            .then(|| format!("buyer{}@example.com", rng.below(100_000))),
        delivery_address,
        note: "",
        payment_method: "bank_transfer",
        status: if refund.is_some() { "refunded" } else { "paid" },
        total_fen,
        token: rng.hex(3),
        idempotency_key: rng.hex(2),
        reserved_until: None,
        business_date: day,
        created_at,
        updated_at: refund.map_or(paid_at, |(_, _, at)| at),
        locale: "zh-CN",
        provider_session_id: None,
        provider_payment_id: None,
        paid_fen: total_fen,
        refunded_fen: if refund.is_some() { total_fen } else { 0 },
        paid_at: Some(paid_at),
        attention: None,
    });
}

/// The monthly payouts and their ledger entries (`domain::payouts`).
fn write_payouts(
    conn: &mut DbConn,
    plan: &Plan,
    written: &Written,
    ids: &mut Ids,
) -> QueryResult<()> {
    let mut rows = Vec::with_capacity(plan.payouts.len());
    let mut entries = Vec::with_capacity(plan.payouts.len());
    for (i, p) in plan.payouts.iter().enumerate() {
        let household = &plan.households[p.household as usize];
        let id = i as i64 + 1;
        let at = utc_at(p.paid_on, 10 * 60);
        rows.push(PayoutRow {
            id,
            household_id: i64::from(p.household) + 1,
            amount_fen: p.amount_fen,
            method: household.payout_method,
            reference: format!("{}月结算 {}", p.paid_on.format("%Y-%m"), household.code),
            paid_on: p.paid_on,
            recorded_by: Some(written.admin),
            created_at: at,
        });
        entries.push(ids.entry(EntryRow {
            household_id: Some(i64::from(p.household) + 1),
            payout_id: Some(id),
            amount_fen: -p.amount_fen,
            ..EntryRow::new(
                LedgerKind::Payout,
                written.villages[household.village],
                p.paid_on,
                at,
            )
        }));
    }
    for chunk in 0..rows.len().div_ceil(50_000) {
        let range = chunk * 50_000..((chunk + 1) * 50_000).min(rows.len());
        write_transaction(conn, |conn| -> QueryResult<()> {
            bulk_insert!(conn, payouts::table, rows[range.clone()]);
            bulk_insert!(conn, ledger_entries::table, entries[range.clone()]);
            Ok(())
        })?;
    }
    Ok(())
}
