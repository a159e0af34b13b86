## Site
site-name = Village Market
site-tagline = Village goods from Datong, every fen traced to the household
lang-switch = 中文
nav-home = Home
nav-products = All products
nav-sign-in = Sign in
nav-sign-out = Sign out
nav-my-area = My workspace
footer-text = Village Market · run by village work teams and households · Datong
skip-to-content = Skip to content

## Search and lists
search-placeholder = Search millet, apricots, lamb…
search-button = Search
search-label = Search products
products-title = All products
products-found = { $total ->
    [one] { $total } product
   *[other] { $total } products
}
products-none = No products match.
filter-category = Category
filter-category-any = All categories
filter-county = County
filter-county-any = All counties
filter-apply = Filter
page-prev = Previous
page-next = Next
page-of = Page { $page } of { $pages }

## Home
home-villages-title = Villages by county
home-featured-title = In season now
home-featured-empty = Seasonal picks are on their way; browse the villages meanwhile.

## Village
village-in-county = { $county }
village-products = From this village
village-no-products = Nothing on sale from this village right now.

## Product
product-from-village = From:{" "}
product-price = Price
product-per-unit = / { $unit }
product-season = Season
product-stock = Stock
product-tiers = Bulk prices
product-canteen-only = canteens only
product-order-quantity = Per order
product-order-limits = at least { $min }
product-order-max = at most { $max }
product-paused = Not on sale right now
product-supply = Supply
tier-from = { $min } { $unit } or more
supply-consignment = Consignment (paid to the household)
supply-purchased = Bought in by the village collective
stock-in_stock = In stock
stock-low = Low stock
stock-sold_out = Sold out
season-all-year = All year
season-months = In season: { $months }
list-separator = ,{" "}
month-1 = Jan
month-2 = Feb
month-3 = Mar
month-4 = Apr
month-5 = May
month-6 = Jun
month-7 = Jul
month-8 = Aug
month-9 = Sep
month-10 = Oct
month-11 = Nov
month-12 = Dec

## Categories
category-grains = Small grains
category-flour = Flour
category-fruit = Fresh fruit
category-dried = Dried goods
category-preserves = Preserves
category-pickles = Pickles
category-meat = Meat
category-poultry_eggs = Poultry and eggs
category-liquor = Liquor
category-vegetables = Vegetables
category-gifts = Gift boxes
category-herbs = Herbs

## Sign-in
login-title = Sign in
login-intro = For work teams, canteens, cadres and administrators. Buying needs no account.
login-email = Email
login-password = Password
login-submit = Sign in
login-invalid = Wrong email or password.
login-throttled = Too many failed attempts. Try again in { $minutes } minutes.

## Workspaces
area-welcome = Hello, { $name }
admin-title = Administration
admin-intro = The city office: villages, work teams, canteens and cadre accounts.
admin-villages = Villages
admin-organizations = Canteen organisations
admin-users = Accounts
admin-payment-terms = Pays within { $days } days
admin-annual-target = Annual purchase target { $amount }
team-title = Work-team workspace
team-intro = Your villages. Their households, products and stock are visible to their work team only.
team-households = { $count } households
team-products = { $count } products
team-no-villages = You are not bound to a village yet; ask an administrator.
canteen-title = Canteen purchasing
canteen-intro = Buy in bulk on your organisation's account, settled by invoice.
canteen-invoice-title = Invoice title
canteen-tax-id = Tax ID
canteen-address = Address
canteen-contact = Contact
canteen-terms = Payment terms
canteen-terms-days = { $days } days
canteen-target = Annual purchase target
canteen-browse = Browse products
reports-title = Income reports
reports-intro = Read-only. Household income and per-capita income added, by household, village and county.
reports-scope = Scope: { $scope }
reports-scope-city = the whole city
reports-scope-county = your county
reports-scope-village = your village

## Errors
error-title = Something went wrong ({ $status })
error-home = Back to the home page
error-not-found = This page does not exist.
error-forbidden = Your account cannot open this page.
error-sign-in-required = Please sign in first.
error-bad-field = Please check this field: { $field }
error-bad-request = The request was not in the expected form.
error-csrf = This form has expired; reload the page and submit again.
error-too-many-attempts = Too many attempts; please try again later.
error-unavailable = The database cannot be reached right now; please try again shortly.
error-internal = Something went wrong on our side; we will look into it.

## Households
households-title = Household register
households-new = Register a household
households-import = Import a register
households-search = Search code, head or phone
households-archived = Archived only
households-found = { $total ->
    [one] { $total } household
   *[other] { $total } households
}
households-sheet = Households
household-village = Village
household-code = Household code
household-head-name = Head of household
household-resident-members = Resident members
household-category = Category
household-phone = Phone
household-payout-method = Payout method
household-payout-account = Payout account
household-members-count = { $count ->
    [one] { $count } resident
   *[other] { $count } residents
}
household-archive = Archive (hide from the register)
household-restore = Restore
household-is-archived = This household is archived.
category-household-tuopin = Lifted out of poverty
category-household-jiance = Monitored
category-household-yiban = Ordinary
payout-cash = Cash
payout-bank = Bank card
payout-wechat = WeChat
payout-alipay = Alipay
export-csv = Export CSV
export-xlsx = Export Excel
import-help = CSV (UTF-8 or GBK) or Excel (.xlsx). The first row holds the headers: household code, head of household, resident members and category are required; phone, payout method and payout account are optional. A household code already registered is updated, never duplicated.
import-file = Register file
import-submit = Import
import-done = Imported: { $created } new, { $updated } updated, { $unchanged } unchanged.
import-nothing-written = The file has problems, so nothing was imported. Correct each one below and upload it again.
import-row = Row
import-column = Column
import-reason = Problem

## Forms
form-save = Save
form-has-errors = A few fields need correcting; see below.
invalid-required = Required
invalid-too-long = At most { $max } characters
invalid-whole-number = Enter a whole number
invalid-range = Enter a whole number from { $min } to { $max }
invalid-price = Enter an amount such as 12.50
invalid-price-decimals = At most two decimals (fen)
invalid-price-zero = The amount must be more than zero
invalid-price-too-high = The amount is too large
invalid-phone = Enter an 11-digit mobile number
invalid-date = Enter a date as year-month-day, e.g. 2026-11-28
invalid-choice = Choose one from the list
invalid-code-taken = This village already has this household code
invalid-code-repeated = Same household code as row { $row }
invalid-missing-column = This column is missing
invalid-encoding = Unknown text encoding (save the CSV as UTF-8 or GBK)
invalid-csv = The CSV is malformed
invalid-xlsx = This Excel file cannot be read
invalid-empty-register = The file is empty

## Stock
stock-title = Stock received
lots-title = Lots received
lots-none = No lots received yet.
lot-record = Record a lot
lot-product = Product
lot-household = Household
lot-quantity = Quantity
lot-remaining = Remaining
lot-received-on = Received on
lot-purchase-price = Purchase price (yuan per unit)
lot-purchase-price-help = Required for goods the collective buys; empty for consignment
write-offs-title = Written off
write-off-title = Write off
write-off-reason = Reason (spoiled, damaged…)
write-off-submit = Write off
household-lots = Lots from this household
team-products-title = Village products
team-stock-count = { $count } in stock
team-view-in-shop = View in the shop
stock-low-under = under { $threshold }: time to restock
product-status = Status
product-status-draft = Draft
product-status-on_sale = On sale
product-status-paused = Paused
product-status-archived = Archived
invalid-household-archived = This household is archived
invalid-household-village = This household is not of the product's village
invalid-date-range = The date cannot be after today
invalid-price-consignment = Consignment goods have no purchase price
invalid-not-enough-stock = Not that much is left

## Audit log
audit-title = Change log
audit-none = Nothing recorded yet.
audit-when = When (China time)
audit-who = By
audit-what = Change
audit-before = Before
audit-after = After
audit-action-create = created
audit-action-update = changed
audit-action-archive = archived
audit-action-restore = restored
audit-action-import = imported
audit-action-receive = received
audit-action-write_off = written off
audit-entity-household = household
audit-entity-product = product
audit-entity-stock_lot = stock lot
audit-entity-user = account
audit-entity-village = village
audit-entity-organization = canteen organisation

## Product editing
product-new = List a new product
product-edit = Edit product
product-name-zh = Name in Chinese
product-name-en = Name in English
product-description-zh = Description in Chinese
product-description-en = Description in English
product-sale-unit-zh = Sale unit (Chinese)
product-sale-unit-en = Sale unit (English)
product-unit-price = Unit price (yuan)
product-min-per-order = Minimum per order
product-max-per-order = Maximum per order (optional)
product-low-stock-threshold = Warn when stock falls to
tiers-help = Cheaper in bulk: a larger quantity needs a lower price, and every tier is below the unit price. A tier may be for canteens only.
tier-min = From
tier-price = Unit price (yuan)
season-help = Tick none for all year.
invalid-tier-not-cheaper = A bulk price must be below the unit price
invalid-tier-order = A larger quantity needs a lower price
invalid-tier-repeated = There is already a tier for this quantity
invalid-max-below-min = Cannot be less than the minimum per order
invalid-supply-mode-fixed = Stock has been received, so the supply mode is fixed

## Administration
admin-village = Village
admin-village-new = Add a village
admin-village-slug = Web name (lower-case letters, digits and hyphens, e.g. xiedian)
admin-township-zh = Township (Chinese)
admin-township-en = Township (English)
admin-story-zh = The village's story (Chinese)
admin-story-en = The village's story (English)
admin-collective-share = Collective's share in basis points (1000 = 10 %; empty: platform default)
admin-organization = Canteen organisation
admin-organization-new = Add a canteen organisation
admin-organization-name = Organisation name
admin-contact-phone = Contact phone
admin-payment-terms-days = Payment terms (days)
admin-annual-target-yuan = Annual purchase target (yuan)
admin-members = Buyers
admin-no-members = No buyers yet.
admin-users-title = Accounts
admin-user-new = Create an account
admin-display-name = Display name
admin-role = Role
admin-locale = Language
admin-disabled = disabled
admin-disabled-check = Disable this account (it can no longer sign in)
admin-bindings = Bindings
admin-bindings-help = Work team: tick their villages. Cadre: choose a county or tick one village; neither means the whole city. Canteen buyer: choose the organisation.
admin-cadre-county = Cadre's scope (county)
admin-reset-password = Reset password
admin-new-password = New password (8 characters or more)
role-admin = Administrator
role-team = Work team
role-canteen = Canteen buyer
role-cadre = Cadre
invalid-email = Enter a valid email address
invalid-email-taken = This email already has an account
invalid-password-short = At least { $min } characters
invalid-team-needs-village = A work-team account needs at least one village
invalid-canteen-needs-organization = A canteen buyer needs an organisation
invalid-cadre-one-village = A cadre is bound to one village at most
invalid-disable-self = You cannot disable your own account
invalid-slug = Lower-case letters, digits and hyphens only
invalid-slug-taken = This web name is taken
invalid-tax-id = A tax ID is 18 digits or capital letters
invalid-name-taken = An organisation of this name exists
product-image = Photo
product-image-choose = Choose a photo (JPG, PNG or WebP, up to 5 MB)
product-image-upload = Upload photo
invalid-image-too-large = A photo may be 5 MB at most
invalid-image-type = Only JPG, PNG or WebP photos
invalid-image-unreadable = This photo cannot be read

## Cart and checkout
nav-cart = Cart
cart-title = Cart
cart-empty = Your cart is empty.
cart-quantity = Quantity
cart-add = Add to cart
cart-change = Change
cart-remove = Remove
cart-total = Total
cart-checkout = Check out
cart-fix-lines = Some lines need changing first; see above.
cart-not-on-sale = No longer on sale
cart-below-minimum = At least { $min } per order
cart-above-maximum = At most { $max } per order
cart-short = Only { $left } left
checkout-title = Delivery details
checkout-name = Recipient
checkout-phone = Mobile number
checkout-address = Delivery address
checkout-email = Email (optional, for order updates)
checkout-note = Note (optional)
checkout-payment = Payment
checkout-place = Place order
checkout-refused = Stock changed, so the order was not placed and nothing was taken:
checkout-back-to-cart = Back to the cart
payment-bank_transfer = Bank transfer
payment-cash_on_delivery = Cash on delivery
payment-stripe = Online payment
order-title = Order { $number }
order-placed = Placed
order-keep-link = Keep this page's link: it is how you follow your order.
order-bank-transfer = Please transfer the money before { $until }; unpaid orders are cancelled then and their goods released.
order-status-pending_payment = Awaiting payment
order-status-paid = Paid
order-status-packed = Packed
order-status-shipped = Shipped
order-status-delivered = Delivered
order-status-expired = Expired (unpaid)
order-status-cancelled = Cancelled
order-status-refunded = Refunded
order-status-partially_refunded = Partly refunded
invalid-cart-empty = The cart is empty
invalid-cart-changed = The cart has changed; please check it again
invalid-cart-full = A cart holds 50 products at most
invalid-stale-form = This page has expired; reload it and submit again
team-orders-title = Orders
team-orders-status = Status
team-orders-none = No orders.
team-orders-our-lines = Our villages' goods
team-orders-mark-paid = Record payment received
team-orders-reference = Transfer reference (may be empty for cash on delivery)
invalid-order-not-pending = This order is no longer awaiting payment
nav-my-orders = My orders
my-orders-none = No orders yet.
