-- One row per service ticket (its latest export) with response and resolution times.
-- order_key resolves order_ref, which may hold an ERP order id or a web order id. The contact
-- is a pseudonym (pseudonymize(), as in dim_customer.service_contact_id_hashes).
with orders as (
    select
        order_key,
        erp_order_id::varchar as order_ref
    from {{ ref('int_orders_unified') }}
    where erp_order_id is not null
    union all
    select
        order_key,
        web_order_id as order_ref
    from {{ ref('int_orders_unified') }}
    where web_order_id is not null
),

-- one order_key per reference (the smallest, should a reference match two orders)
order_refs as (
    select
        order_ref,
        min(order_key) as order_key
    from orders
    group by order_ref
)

select
    t.ticket_id,
    m.customer_key,
    {{ pseudonymize('t.contact_id') }} as contact_id_hash,
    t.channel,
    t.category,
    t.priority,
    t.status,
    t.created_at,
    t.created_at::date as created_date,
    t.first_response_at,
    t.resolved_at,
    date_diff('second', t.created_at, t.first_response_at) / 60.0 as first_response_minutes,
    date_diff('second', t.created_at, t.resolved_at) / 3600.0 as resolution_hours,
    t.status in ('resolved', 'closed') and t.resolved_at is not null as is_resolved,
    t.order_ref,
    o.order_key
from {{ ref('stg_service_desk__tickets') }} as t
left join {{ ref('int_customer_identity_map') }} as m
    on m.source_table = 'contacts' and m.source_id = t.contact_id
left join order_refs as o
    on o.order_ref = t.order_ref
