{#- Customer base and churn per day: the single definition of churn for kpi_daily,
    kpi_monthly and the semantic layer (a month's customer_base is its first day's value,
    its churned_customers the sum of its days). -#}
{%- set n = var('churn_inactivity_days') %}
-- Activity spells: a customer is active from an order until {{ n }} days after the last order
-- of a run of orders less than {{ n }} days apart; the spell's end is the churn date.
with orders as (
    select distinct
        customer_key,
        order_date
    from {{ ref('fct_orders') }}
    where not is_cancelled and customer_key is not null
),

gaps as (
    select
        customer_key,
        order_date,
        lag(order_date) over (partition by customer_key order by order_date) as prev_date,
        lead(order_date) over (partition by customer_key order by order_date) as next_date
    from orders
),

spell_ends as (
    select
        customer_key,
        order_date as last_order_date,
        (order_date + {{ n }})::date as churn_date
    from gaps
    where next_date is null or next_date - order_date > {{ n }}
),

spell_starts as (
    select
        customer_key,
        order_date
    from gaps
    where prev_date is null or order_date - prev_date > {{ n }}
),

spells as (
    -- pair each spell end with its start: the latest spell start on or before it
    select
        e.customer_key,
        e.churn_date,
        max(s.order_date) as spell_start
    from spell_ends as e
    inner join spell_starts as s
        on s.customer_key = e.customer_key and s.order_date <= e.last_order_date
    group by e.customer_key, e.churn_date
),

bounds as (
    select
        min(order_date) as lo,
        max(order_date) as hi
    from orders
),

days as (
    -- through the end of the last order's month, so the last month's churn is complete
    select t.d::date as date_day
    from bounds as b,
        unnest(generate_series(
            b.lo::timestamp,
            date_trunc('month', b.hi) + interval 1 month - interval 1 day,
            interval 1 day
        )) as t (d)
)

select
    d.date_day,
    -- active at the start of the day: a spell began before it and has not yet churned
    count(s.customer_key) as customer_base,
    -- of those, the ones whose churn date is this day
    count(s.customer_key) filter (where s.churn_date = d.date_day) as churned_customers
from days as d
left join spells as s
    on s.spell_start < d.date_day and s.churn_date >= d.date_day
group by d.date_day
