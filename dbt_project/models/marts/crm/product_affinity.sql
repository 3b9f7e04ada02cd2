-- Products bought together (association rules over completed orders), both directions:
--   support     orders holding both / all orders
--   confidence  orders holding both / orders holding product_id (P(other | product))
--   lift        confidence / share of orders holding other_product_id (>1: bought together
--               more often than chance)
-- Pairs seen in fewer than var affinity_min_orders orders are left out (noise).
with baskets as (
    select distinct
        l.order_key,
        l.product_id
    from {{ ref('int_order_lines_unified') }} as l
    where not l.is_cancelled
),

n as (select count(distinct order_key) as orders from baskets),

product_orders as (
    select
        product_id,
        count(*) as orders_with_product
    from baskets
    group by 1
),

pairs as (
    select
        a.product_id,
        b.product_id as other_product_id,
        count(*) as orders_with_both
    from baskets as a
    inner join baskets as b on b.order_key = a.order_key and b.product_id != a.product_id
    group by 1, 2
    having count(*) >= {{ var('affinity_min_orders', 2) }}
)

select
    p.product_id,
    p.other_product_id,
    p.orders_with_both,
    pa.orders_with_product,
    pb.orders_with_product as orders_with_other_product,
    round(p.orders_with_both / n.orders, 6) as support,
    round(p.orders_with_both / pa.orders_with_product, 6) as confidence,
    round(
        (p.orders_with_both / pa.orders_with_product)
        / (pb.orders_with_product / n.orders), 4
    ) as lift
from pairs as p
cross join n
inner join product_orders as pa on pa.product_id = p.product_id
inner join product_orders as pb on pb.product_id = p.other_product_id
