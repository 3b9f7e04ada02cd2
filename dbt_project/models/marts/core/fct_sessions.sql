-- One row per web/app session with its events and whether it led to a purchase.
with events as (
    select
        session_id,
        count(*) as event_count,
        bool_or(event_type = 'purchase') as has_purchase_event
    from {{ ref('stg_ecommerce__events') }}
    group by session_id
),

orders as (
    select distinct session_id from {{ ref('int_orders_unified') }}
    where session_id is not null and not is_cancelled
)

select
    s.session_id,
    m.customer_key,
    s.customer_id is not null as is_logged_in,
    s.started_at,
    s.started_at::date as session_date,
    s.ended_at,
    date_diff('second', s.started_at, s.ended_at) as duration_seconds,
    s.device,
    s.channel,
    s.landing_page,
    coalesce(e.event_count, 0) as event_count,
    coalesce(e.has_purchase_event, false) or o.session_id is not null as has_purchase
from {{ ref('stg_ecommerce__sessions') }} as s
left join {{ ref('int_customer_identity_map') }} as m
    on m.source_table = 'customers' and m.source_id = s.customer_id
left join events as e using (session_id)
left join orders as o using (session_id)
