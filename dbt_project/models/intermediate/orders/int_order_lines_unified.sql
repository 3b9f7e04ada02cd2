-- Order lines of every order in int_orders_unified: ERP lines for ERP orders, web items for
-- web-only orders, each with its unit cost and the quantity and refund returned.
with orders as (
    select * from {{ ref('int_orders_unified') }}
),

products as (
    select
        product_id,
        unit_cost
    from {{ ref('stg_erp__products') }}
),

returns as (
    select
        order_line_id,
        sum(quantity)::bigint as returned_quantity,
        sum(refund_amount) as refund_amount,
        max(_extracted_at) as _extracted_at
    from {{ ref('stg_erp__returns') }}
    group by order_line_id
),

erp_lines as (
    select
        'E' || l.order_line_id::varchar as order_line_key,
        o.order_key,
        l.line_no,
        l.product_id,
        l.quantity,
        l.unit_price,
        l.discount_amount,
        coalesce(r.returned_quantity, 0) as returned_quantity,
        coalesce(r.refund_amount, 0) as refund_amount,
        greatest(l._extracted_at, r._extracted_at) as _extracted_at
    from {{ ref('stg_erp__sales_order_lines') }} as l
    inner join orders as o on o.erp_order_id = l.order_id
    left join returns as r on r.order_line_id = l.order_line_id
),

web_lines as (
    select
        'W' || i.order_item_id as order_line_key,
        o.order_key,
        i.item_no as line_no,
        i.product_id,
        i.quantity,
        i.unit_price,
        0::decimal(18, 2) as discount_amount,
        0::bigint as returned_quantity,
        0::decimal(18, 2) as refund_amount,
        i._extracted_at
    from {{ ref('stg_ecommerce__order_items') }} as i
    inner join orders as o on o.order_source = 'ecommerce' and o.web_order_id = i.order_id
),

lines as (
    select * from erp_lines
    union all
    select * from web_lines
)

select
    lines.order_line_key,
    lines.order_key,
    orders.customer_key,
    orders.ordered_at,
    orders.is_cancelled,
    lines.line_no,
    lines.product_id,
    lines.quantity,
    lines.unit_price,
    lines.discount_amount,
    p.unit_cost,
    least(lines.returned_quantity, lines.quantity) as returned_quantity,
    lines.refund_amount,
    greatest(lines._extracted_at, orders._extracted_at) as _extracted_at
from lines
inner join orders using (order_key)
left join products as p using (product_id)
