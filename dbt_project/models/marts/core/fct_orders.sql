-- One row per order, store and web unified (see int_orders_unified), returns netted.
-- Revenue is merchandise revenue in the reporting currency: shipping is excluded, and a
-- cancelled order has zero net revenue, cost and margin (gross stays for reference).
with lines as (
    select
        order_key,
        sum(quantity) as item_count,
        sum(quantity * unit_price) as gross_revenue,
        sum(discount_amount) as discount_amount,
        sum(refund_amount) as returned_amount,
        sum(returned_quantity) as returned_quantity,
        sum((quantity - returned_quantity) * unit_cost) as cost_amount
    from {{ ref('int_order_lines_unified') }}
    group by order_key
)

select
    o.order_key,
    o.customer_key,
    o.order_source,
    o.channel,
    o.erp_order_id,
    o.web_order_id,
    o.store_id,
    o.session_id,
    o.ordered_at,
    o.ordered_at::date as order_date,
    o.status,
    o.is_cancelled,
    coalesce(l.item_count, 0)::bigint as item_count,
    round(coalesce(l.gross_revenue, 0), 2)::decimal(18, 2) as gross_revenue,
    round(coalesce(l.discount_amount, 0), 2)::decimal(18, 2) as discount_amount,
    round(coalesce(l.returned_amount, 0), 2)::decimal(18, 2) as returned_amount,
    case
        when o.is_cancelled then 0
        else round(coalesce(l.gross_revenue - l.discount_amount - l.returned_amount, 0), 2)
    end::decimal(18, 2) as net_revenue,
    case when o.is_cancelled then 0 else round(coalesce(l.cost_amount, 0), 2)
    end::decimal(18, 2) as cost_amount,
    case
        when o.is_cancelled then 0
        else
            round(coalesce(
                l.gross_revenue - l.discount_amount - l.returned_amount
                - l.cost_amount, 0
            ), 2)
    end::decimal(18, 2) as margin_amount,
    round(coalesce(o.shipping_amount, 0), 2)::decimal(18, 2) as shipping_amount,
    o.reference_issue
from {{ ref('int_orders_unified') }} as o
left join lines as l using (order_key)
