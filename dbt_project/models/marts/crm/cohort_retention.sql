-- Retention by first-purchase month: of the customers whose first completed order fell in
-- cohort_month, how many ordered again in each later month (months_since_first 0 = cohort).
with orders as (
    select
        customer_key,
        date_trunc('month', order_date)::date as order_month
    from {{ ref('fct_orders') }}
    where customer_key is not null and not is_cancelled
),

firsts as (
    select
        customer_key,
        min(order_month) as cohort_month
    from orders
    group by customer_key
),

activity as (
    select distinct
        f.cohort_month,
        o.customer_key,
        o.order_month
    from orders as o inner join firsts as f using (customer_key)
),

sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from firsts
    group by cohort_month
)

select
    a.cohort_month,
    date_diff('month', a.cohort_month, a.order_month) as months_since_first,
    a.order_month as activity_month,
    s.cohort_size,
    count(*) as active_customers,
    round(count(*) / s.cohort_size, 4) as retention_rate
from activity as a
inner join sizes as s using (cohort_month)
group by a.cohort_month, a.order_month, s.cohort_size
