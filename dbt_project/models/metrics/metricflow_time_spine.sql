-- Day time spine of the semantic layer (MetricFlow joins metrics to it): every day from the
-- first to the last order date, plus a year of slack for the churn dates that fall after it.
with bounds as (
    select
        min(order_date) as lo,
        max(order_date) as hi
    from {{ ref('fct_orders') }}
)

select t.d::date as date_day
from bounds,
    unnest(generate_series(
        coalesce(bounds.lo, current_date)::timestamp,
        (coalesce(bounds.hi, current_date) + interval 366 day)::timestamp,
        interval 1 day
    )) as t (d)
