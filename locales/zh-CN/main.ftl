## 全站
site-name = 村货集市
site-tagline = 大同乡村好物，每一分钱都记到农户
lang-switch = English
nav-home = 首页
nav-products = 全部商品
nav-sign-in = 登录
nav-sign-out = 退出
nav-my-area = 我的工作台
footer-text = 村货集市 · 驻村工作队与农户共同经营 · 大同
skip-to-content = 跳到正文

## 搜索与列表
search-placeholder = 搜索小米、杏、羊肉……
search-button = 搜索
search-label = 搜索商品
products-title = 全部商品
products-found = 共 { $total } 件商品
products-none = 没有找到符合条件的商品。
filter-category = 分类
filter-category-any = 全部分类
filter-county = 区县
filter-county-any = 全部区县
filter-apply = 筛选
page-prev = 上一页
page-next = 下一页
page-of = 第 { $page } / { $pages } 页

## 首页
home-villages-title = 按区县看村子
home-featured-title = 当季推荐
home-featured-empty = 当季推荐正在准备中，先逛逛各村吧。

## 村子
village-in-county = { $county }
village-products = 本村商品
village-no-products = 这个村暂时没有在售商品。

## 商品
product-from-village = 产地：
product-price = 价格
product-per-unit = /{ $unit }
product-season = 时令
product-stock = 库存
product-tiers = 批量价
product-canteen-only = 仅限食堂
product-order-quantity = 每单数量
product-order-limits = { $min } 起
product-order-max = 最多 { $max }
product-paused = 暂停销售
product-supply = 供货方式
tier-from = 满 { $min } { $unit }
supply-consignment = 代卖（按户结算）
supply-purchased = 统购（村集体收购）
stock-in_stock = 有货
stock-low = 库存紧张
stock-sold_out = 已售罄
season-all-year = 常年供应
season-months = { $months }上市
list-separator = 、
month-1 = 1月
month-2 = 2月
month-3 = 3月
month-4 = 4月
month-5 = 5月
month-6 = 6月
month-7 = 7月
month-8 = 8月
month-9 = 9月
month-10 = 10月
month-11 = 11月
month-12 = 12月

## 分类
category-grains = 小杂粮
category-flour = 面粉
category-fruit = 鲜果
category-dried = 干货
category-preserves = 果酱
category-pickles = 腌菜
category-meat = 肉类
category-poultry_eggs = 禽蛋
category-liquor = 酒
category-vegetables = 蔬菜
category-gifts = 礼盒
category-herbs = 药材

## 登录
login-title = 登录
login-intro = 工作队、食堂、干部和管理员请在这里登录。买东西不用登录。
login-email = 邮箱
login-password = 密码
login-submit = 登录
login-invalid = 邮箱或密码不对。
login-throttled = 失败次数太多，请 { $minutes } 分钟后再试。

## 工作台
area-welcome = 你好，{ $name }
admin-title = 管理后台
admin-intro = 市级平台办公室：管理村子、工作队、食堂和干部账号。
admin-villages = 村子
admin-organizations = 食堂单位
admin-users = 账号数
admin-payment-terms = 账期 { $days } 天
admin-annual-target = 年度采购目标 { $amount }
team-title = 工作队工作台
team-intro = 你负责的村子。农户、商品和入库记录只对本村的工作队可见。
team-households = 农户 { $count } 户
team-products = 商品 { $count } 种
team-no-villages = 你还没有绑定村子，请联系管理员。
canteen-title = 食堂采购
canteen-intro = 以单位名义批量采购，凭发票结算。
canteen-invoice-title = 发票抬头
canteen-tax-id = 税号
canteen-address = 地址
canteen-contact = 联系人
canteen-terms = 账期
canteen-terms-days = { $days } 天
canteen-target = 年度采购目标
canteen-browse = 去选购
reports-title = 收入报表
reports-intro = 只读。按户、村、区县查看农户收入和人均增收。
reports-scope = 查看范围：{ $scope }
reports-scope-city = 全市
reports-scope-county = 本区县
reports-scope-village = 本村

## 错误
error-title = 出错了（{ $status }）
error-home = 回到首页
error-not-found = 没有找到这个页面。
error-forbidden = 你的账号不能访问这里。
error-sign-in-required = 请先登录。
error-bad-field = 填写的内容有误：{ $field }
error-bad-request = 请求的格式不对。
error-csrf = 表单已过期，请刷新页面后再提交。
error-too-many-attempts = 尝试次数太多，请稍后再试。
error-unavailable = 数据库暂时连不上，请稍后再试。
error-internal = 服务器出了点问题，我们会尽快处理。

## 农户
households-title = 农户花名册
households-new = 登记农户
households-import = 导入花名册
households-search = 搜索户编号、户主、电话
households-archived = 只看已归档
households-found = 共 { $total } 户
households-sheet = 农户
household-village = 所在村
household-code = 户编号
household-head-name = 户主姓名
household-resident-members = 常住人口
household-category = 类别
household-phone = 电话
household-payout-method = 收款方式
household-payout-account = 收款账号
household-members-count = { $count } 人
household-archive = 归档（不再显示在名单里）
household-restore = 恢复
household-is-archived = 这户已归档。
category-household-tuopin = 脱贫户
category-household-jiance = 监测户
category-household-yiban = 一般户
payout-cash = 现金
payout-bank = 银行卡
payout-wechat = 微信
payout-alipay = 支付宝
export-csv = 导出 CSV
export-xlsx = 导出 Excel
import-help = 支持 CSV（UTF-8 或 GBK 编码）和 Excel（.xlsx）。第一行是表头：户编号、户主姓名、常住人口、类别必填；电话、收款方式、收款账号可选。户编号相同的会更新，不会重复登记。
import-file = 花名册文件
import-submit = 导入
import-done = 导入完成：新登记 { $created } 户，更新 { $updated } 户，未变 { $unchanged } 户。
import-nothing-written = 文件里有错误，什么都没有导入。请改正下面每一处后重新上传。
import-row = 行
import-column = 列
import-reason = 问题

## 表单
form-save = 保存
form-has-errors = 有几处需要改正，见下方提示。
invalid-required = 必填
invalid-too-long = 最多 { $max } 个字
invalid-whole-number = 请填整数
invalid-range = 请填 { $min } 到 { $max } 之间的整数
invalid-price = 请填金额，如 12.50
invalid-price-decimals = 金额最多两位小数（到分）
invalid-price-zero = 金额要大于零
invalid-price-too-high = 金额太大
invalid-phone = 请填 11 位手机号
invalid-date = 请按 年-月-日 填写，如 2026-11-28
invalid-choice = 请从列表中选择
invalid-code-taken = 本村已有这个户编号
invalid-code-repeated = 户编号与第 { $row } 行重复
invalid-missing-column = 缺少这一列
invalid-encoding = 无法识别文件编码（请存为 UTF-8 或 GBK 的 CSV）
invalid-csv = CSV 格式有误
invalid-xlsx = 无法读取这个 Excel 文件
invalid-empty-register = 文件是空的

## 入库
stock-title = 入库与库存
lots-title = 入库记录
lots-none = 还没有入库记录。
lot-record = 登记入库
lot-product = 商品
lot-household = 交货农户
lot-quantity = 数量
lot-remaining = 剩余
lot-received-on = 入库日期
lot-purchase-price = 收购单价（元）
lot-purchase-price-help = 统购商品必填；代卖商品留空
write-offs-title = 报损记录
write-off-title = 报损
write-off-reason = 原因（如：变质、破损）
write-off-submit = 确认报损
household-lots = 这户的入库记录
team-products-title = 本村商品
team-stock-count = 库存 { $count }
team-view-in-shop = 在商城里看
stock-low-under = 低于 { $threshold }，该补货了
product-status = 状态
product-status-draft = 草稿
product-status-on_sale = 在售
product-status-paused = 暂停
product-status-archived = 已归档
invalid-household-archived = 这户已归档
invalid-household-village = 这户不是这个商品所在村的
invalid-date-range = 日期不能晚于今天
invalid-price-consignment = 代卖商品不填收购价
invalid-not-enough-stock = 剩余数量不够

## 操作记录
audit-title = 操作记录
audit-none = 还没有记录。
audit-when = 时间（北京时间）
audit-who = 操作人
audit-what = 操作
audit-before = 改前
audit-after = 改后
audit-action-create = 新建
audit-action-update = 修改
audit-action-archive = 归档
audit-action-restore = 恢复
audit-action-import = 导入
audit-action-receive = 入库
audit-action-write_off = 报损
audit-entity-household = 农户
audit-entity-product = 商品
audit-entity-stock_lot = 入库批次
audit-entity-user = 账号
audit-entity-village = 村
audit-entity-organization = 食堂单位

## 商品编辑
product-new = 上架新商品
product-edit = 编辑商品
product-name-zh = 中文名
product-name-en = 英文名
product-description-zh = 中文介绍
product-description-en = 英文介绍
product-sale-unit-zh = 销售单位（中文）
product-sale-unit-en = 销售单位（英文）
product-unit-price = 单价（元）
product-min-per-order = 每单最少
product-max-per-order = 每单最多（可不填）
product-low-stock-threshold = 库存低于多少时提醒
tiers-help = 买得越多越便宜：数量越大，单价要越低，而且都要低于单价。可只对食堂开放。
tier-min = 满
tier-price = 单价（元）
season-help = 都不勾表示常年供应。
invalid-tier-not-cheaper = 批量价要低于单价
invalid-tier-order = 数量更多的一档，价格要更低
invalid-tier-repeated = 这个数量已经有一档了
invalid-max-below-min = 不能少于每单最少数量
invalid-supply-mode-fixed = 已有入库记录，供货方式不能再改
