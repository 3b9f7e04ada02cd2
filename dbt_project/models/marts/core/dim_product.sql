-- One row per product with cost and list price in the reporting currency.
select
    product_id,
    product_name,
    category,
    brand,
    unit_cost,
    unit_price,
    unit_price - unit_cost as unit_margin,
    source_currency,
    is_active,
    updated_at
from {{ ref('stg_erp__products') }}
