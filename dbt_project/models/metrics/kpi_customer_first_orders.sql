-- One row per identified customer: the date of the first completed (not cancelled) order.
-- The single source of "new customer" (kpi_daily, kpi_monthly and the semantic layer).
select
    customer_key,
    min(order_date) as first_order_date
from {{ ref('fct_orders') }}
where not is_cancelled and customer_key is not null
group by customer_key
