-- Monthly RFM snapshots: the RFM of every customer as of each month end (the last month is
-- as of the latest order date), scored exactly like customer_rfm.
with bounds as (
    select
        min(order_date) as first_date,
        {{ rfm_as_of_date() }} as last_date
    from {{ ref('fct_orders') }}
),

as_of as (
    select distinct
        least(
            (date_trunc('month', t.m) + interval 1 month - interval 1 day)::date, b.last_date
        ) as as_of_date
    from bounds as b,
        unnest(generate_series(
            date_trunc('month', b.first_date), b.last_date::timestamp,
            interval 1 month
        )) as t (m)
),
{{ rfm_scores('as_of') }}
