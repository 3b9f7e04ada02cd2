{#- The KPIs of kpi_daily (grain 'day') and kpi_monthly (grain 'month'), computed at that grain
    from the facts (never by averaging finer ratios). Each KPI is defined once, as a metric of
    the semantic layer (models/metrics/_kpi__semantic_models.yml): the expressions here are that
    definition in SQL, and tests/dbt/test_kpi_definitions.py checks that both agree. New
    customers and churn come from the metrics-layer models kpi_customer_first_orders and
    kpi_churn_daily, which the semantic layer reads too. -#}
{% macro kpis(grain) %}
with orders as (
    select customer_key, order_key, order_date, net_revenue
    from {{ ref('fct_orders') }}
    where not is_cancelled
),
first_orders as (
    select customer_key, first_order_date from {{ ref('kpi_customer_first_orders') }}
),
calendar as (
    select distinct date_trunc('{{ grain }}', d)::date as period_start
    from (select min(order_date) as lo, max(order_date) as hi from orders) as b,
         unnest(generate_series(b.lo::timestamp, b.hi::timestamp, interval 1 day)) as t(d)
),
periods as (
    select period_start,
           (period_start + interval 1 {{ grain }} - interval 1 day)::date as period_end
    from calendar
),
sales as (
    select
        date_trunc('{{ grain }}', o.order_date)::date as period_start,
        sum(o.net_revenue) as revenue,
        count(*) as orders,
        count(distinct o.customer_key) as active_customers,
        count(distinct o.customer_key) filter (
            where date_trunc('{{ grain }}', f.first_order_date) = date_trunc('{{ grain }}', o.order_date)
        ) as new_customers
    from orders as o
    left join first_orders as f using (customer_key)
    group by 1
),
-- churn: a period's customer base is its first day's, its churned customers the sum of its days
churn as (
    select date_trunc('{{ grain }}', date_day)::date as period_start,
           arg_min(customer_base, date_day)::bigint as customer_base,
           sum(churned_customers)::bigint as churned_customers
    from {{ ref('kpi_churn_daily') }}
    group by 1
),
web as (
    select date_trunc('{{ grain }}', started_at)::date as period_start,
           count(*) as sessions,
           count(*) filter (where has_purchase) as converted_sessions
    from {{ ref('fct_sessions') }} group by 1
),
service as (
    select date_trunc('{{ grain }}', created_at)::date as period_start,
           count(*) as tickets_created,
           avg(first_response_minutes) as avg_first_response_minutes,
           avg(resolution_hours) as avg_resolution_hours
    from {{ ref('fct_tickets') }} group by 1
),
surveys as (
    select date_trunc('{{ grain }}', responded_at)::date as period_start,
           count(*) filter (where survey_type = 'CSAT') as csat_responses,
           avg(score) filter (where survey_type = 'CSAT') as csat_average,
           avg(case when is_satisfied then 1.0 else 0.0 end)
               filter (where survey_type = 'CSAT') as csat_satisfied_rate,
           count(*) filter (where survey_type = 'NPS') as nps_responses,
           100.0 * (avg(case when is_promoter then 1.0 else 0.0 end)
                        filter (where survey_type = 'NPS')
                    - avg(case when is_detractor then 1.0 else 0.0 end)
                        filter (where survey_type = 'NPS')) as nps
    from {{ ref('fct_survey_responses') }} group by 1
)
select
    p.period_start,
    p.period_end,
    coalesce(s.revenue, 0)::decimal(18, 2) as revenue,
    coalesce(s.orders, 0) as orders,
    round(s.revenue / nullif(s.orders, 0), 2)::decimal(18, 2) as average_order_value,
    coalesce(s.active_customers, 0) as active_customers,
    coalesce(s.new_customers, 0) as new_customers,
    coalesce(s.active_customers - s.new_customers, 0) as returning_customers,
    round((s.active_customers - s.new_customers) / nullif(s.active_customers, 0), 4)
        as repeat_purchase_rate,
    coalesce(c.customer_base, 0) as customer_base,
    coalesce(c.churned_customers, 0) as churned_customers,
    round(c.churned_customers / nullif(c.customer_base, 0), 4) as churn_rate,
    coalesce(w.sessions, 0) as sessions,
    coalesce(w.converted_sessions, 0) as converted_sessions,
    round(w.converted_sessions / nullif(w.sessions, 0), 4) as session_conversion_rate,
    coalesce(sv.tickets_created, 0) as tickets_created,
    round(sv.avg_first_response_minutes, 1) as avg_first_response_minutes,
    round(sv.avg_resolution_hours, 2) as avg_resolution_hours,
    coalesce(sr.csat_responses, 0) as csat_responses,
    round(sr.csat_average, 2) as csat_average,
    round(sr.csat_satisfied_rate, 4) as csat_satisfied_rate,
    coalesce(sr.nps_responses, 0) as nps_responses,
    round(sr.nps, 1) as nps
from periods as p
left join sales as s using (period_start)
left join churn as c using (period_start)
left join web as w using (period_start)
left join service as sv using (period_start)
left join surveys as sr using (period_start)
{% endmacro %}
