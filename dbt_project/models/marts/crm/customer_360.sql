-- One wide row per customer: profile (masked), value, behaviour, service experience, channel
-- preference, RFM segment, and the ML scores (churn, CLV, cluster) from the ml schema.
with orders as (
    select
        customer_key,
        count(*) filter (where not is_cancelled) as orders,
        count(*) filter (where is_cancelled) as cancelled_orders,
        sum(net_revenue) as lifetime_revenue,
        sum(margin_amount) as lifetime_margin,
        sum(returned_amount) as lifetime_returned_amount,
        min(ordered_at) filter (where not is_cancelled) as first_order_at,
        max(ordered_at) filter (where not is_cancelled) as last_order_at,
        count(*) filter (where not is_cancelled and channel = 'web') as web_orders,
        count(*) filter (where not is_cancelled and channel = 'store') as store_orders
    from {{ ref('fct_orders') }}
    where customer_key is not null
    group by 1
),

sessions as (
    select
        customer_key,
        count(*) as sessions,
        count(*) filter (where has_purchase) as converted_sessions,
        max(started_at) as last_session_at,
        mode(device) as preferred_device
    from {{ ref('fct_sessions') }}
    where customer_key is not null
    group by 1
),

tickets as (
    select
        customer_key,
        count(*) as tickets,
        count(*) filter (where not is_resolved) as open_tickets,
        avg(first_response_minutes) as avg_first_response_minutes,
        avg(resolution_hours) as avg_resolution_hours,
        mode(channel) as preferred_service_channel,
        max(created_at) as last_ticket_at
    from {{ ref('fct_tickets') }}
    where customer_key is not null
    group by 1
),

surveys as (
    select
        customer_key,
        avg(score) filter (where survey_type = 'CSAT') as avg_csat,
        last(score order by responded_at) filter (where survey_type = 'NPS') as last_nps_score
    from {{ ref('fct_survey_responses') }}
    where customer_key is not null
    group by 1
),

reviews as (
    select
        customer_key,
        count(*) as reviews,
        avg(rating) as avg_review_rating
    from {{ ref('fct_reviews') }}
    where customer_key is not null
    group by 1
)

select
    d.customer_key,
    d.email_masked,
    d.phone_masked,
    d.first_initial,
    d.birth_year,
    d.gender,
    d.city,
    d.home_country,
    d.marketing_opt_in,
    d.is_email_marketable,
    d.first_seen_at,
    d.last_seen_at,
    d.source_record_count,
    len(d.erp_member_id_hashes) > 0 as is_loyalty_member,
    len(d.ecommerce_customer_id_hashes) > 0 as has_web_account,
    coalesce(o.orders, 0) as orders,
    coalesce(o.cancelled_orders, 0) as cancelled_orders,
    coalesce(o.lifetime_revenue, 0)::decimal(18, 2) as lifetime_revenue,
    coalesce(o.lifetime_margin, 0)::decimal(18, 2) as lifetime_margin,
    coalesce(o.lifetime_returned_amount, 0)::decimal(18, 2) as lifetime_returned_amount,
    round(o.lifetime_revenue / nullif(o.orders, 0), 2)::decimal(18, 2) as average_order_value,
    o.first_order_at,
    o.last_order_at,
    coalesce(o.web_orders, 0) as web_orders,
    coalesce(o.store_orders, 0) as store_orders,
    case
        when coalesce(o.orders, 0) = 0 then null
        when o.web_orders >= 0.7 * o.orders then 'web'
        when o.store_orders >= 0.7 * o.orders then 'store'
        else 'omnichannel'
    end as channel_preference,
    coalesce(s.sessions, 0) as sessions,
    round(s.converted_sessions / nullif(s.sessions, 0), 4) as session_conversion_rate,
    s.last_session_at,
    s.preferred_device,
    coalesce(t.tickets, 0) as tickets,
    coalesce(t.open_tickets, 0) as open_tickets,
    round(t.avg_first_response_minutes, 1) as avg_first_response_minutes,
    round(t.avg_resolution_hours, 2) as avg_resolution_hours,
    t.preferred_service_channel,
    t.last_ticket_at,
    round(sv.avg_csat, 2) as avg_csat,
    sv.last_nps_score,
    coalesce(r.reviews, 0) as reviews,
    round(r.avg_review_rating, 2) as avg_review_rating,
    rfm.as_of_date as rfm_as_of_date,
    rfm.recency_days,
    rfm.frequency,
    rfm.monetary,
    rfm.r_score,
    rfm.f_score,
    rfm.m_score,
    rfm.rfm_score,
    rfm.segment,
    churn.churn_probability,
    churn.risk_band as churn_risk_band,
    churn.reason_1 as churn_top_reason,
    churn.model_version as churn_model_version,
    clv.probability_alive,
    clv.expected_purchases_12m,
    clv.clv_12m,
    clv.simple_rule_clv,
    clusters.cluster_label
from {{ ref('dim_customer') }} as d
left join orders as o using (customer_key)
left join sessions as s using (customer_key)
left join tickets as t using (customer_key)
left join surveys as sv using (customer_key)
left join reviews as r using (customer_key)
left join {{ ref('customer_rfm') }} as rfm using (customer_key)
left join {{ source('ml', 'churn_scores') }} as churn using (customer_key)
left join {{ source('ml', 'clv_scores') }} as clv using (customer_key)
left join {{ source('ml', 'customer_clusters') }} as clusters using (customer_key)
