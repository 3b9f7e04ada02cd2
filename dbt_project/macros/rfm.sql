{#- RFM of every customer with at least one completed order on or before each as_of_date of
    `as_of_relation` (a CTE with one column as_of_date; the macro continues the caller's WITH list). Shared by customer_rfm
    (one date) and customer_rfm_history (every month end), so both score alike.
      recency_days  days from the last order date to as_of_date
      frequency     completed (not cancelled) orders up to as_of_date
      monetary      their net revenue (reporting currency)
    Scores 1-5 are quintiles of the rank among the customers of that as_of_date:
      score = least(5, 1 + floor(5 * (rank - 1) / n)) with rank() ascending on frequency and
      monetary and descending on recency_days (more recent = higher), ties sharing the
      lowest rank, so equal values always get equal scores.
    fm_score = round-half-up of (f_score + m_score) / 2; segment from seed rfm_segments. -#}
{% macro rfm_scores(as_of_relation) %}
rfm_orders as (
    select customer_key, order_date, net_revenue
    from {{ ref('fct_orders') }}
    where customer_key is not null and not is_cancelled
),
base as (
    select
        d.as_of_date,
        o.customer_key,
        (d.as_of_date - max(o.order_date))::integer as recency_days,
        count(*)::integer as frequency,
        sum(o.net_revenue)::decimal(18, 2) as monetary
    from {{ as_of_relation }} as d
    join rfm_orders as o on o.order_date <= d.as_of_date
    group by d.as_of_date, o.customer_key
),
ranked as (
    select
        *,
        rank() over (partition by as_of_date order by recency_days desc) as r_rank,
        rank() over (partition by as_of_date order by frequency) as f_rank,
        rank() over (partition by as_of_date order by monetary) as m_rank,
        count(*) over (partition by as_of_date) as n_customers
    from base
),
scored as (
    select
        as_of_date, customer_key, recency_days, frequency, monetary,
        least(5, 1 + floor(5 * (r_rank - 1) / n_customers))::integer as r_score,
        least(5, 1 + floor(5 * (f_rank - 1) / n_customers))::integer as f_score,
        least(5, 1 + floor(5 * (m_rank - 1) / n_customers))::integer as m_score
    from ranked
)
select
    s.customer_key,
    s.as_of_date,
    s.recency_days,
    s.frequency,
    s.monetary,
    s.r_score,
    s.f_score,
    s.m_score,
    (s.r_score::varchar || s.f_score::varchar || s.m_score::varchar) as rfm_score,
    ((s.f_score + s.m_score + 1) // 2)::integer as fm_score,
    seg.segment
from scored as s
join {{ ref('rfm_segments') }} as seg
    on seg.r_score = s.r_score and seg.fm_score = (s.f_score + s.m_score + 1) // 2
{% endmacro %}

{#- The RFM as-of date: var rfm_as_of_date, or the latest order date in the data. -#}
{% macro rfm_as_of_date() -%}
    {%- if var('rfm_as_of_date', '') -%}
        date '{{ var("rfm_as_of_date") }}'
    {%- else -%}
        (select max(order_date) from {{ ref('fct_orders') }})
    {%- endif -%}
{%- endmacro %}
