-- Store and web orders as one list, one row per order.
-- The ERP is the system of record for every order it holds, store and web alike (it carries
-- the lines, costs and returns). A web order the ERP also holds (web_order_ref) is one order:
-- it takes the web shop's timestamp (exact UTC) and status, and the web account as customer.
-- Web orders the ERP does not (yet) hold come from the web shop alone (order_source
-- ecommerce), with their lines from the items JSON. reference_issue ('UNKNOWN_MEMBER': an ERP
-- order whose member is not staged) comes from stg_erp__sales_orders.
with erp as (
    select * from {{ ref('stg_erp__sales_orders') }}
),

web as (
    select * from {{ ref('stg_ecommerce__orders') }}
),

erp_orders as (
    select
        'E' || erp.order_id::varchar as order_key,
        'erp' as order_source,
        erp.channel,
        erp.order_id as erp_order_id,
        coalesce(web.order_id, erp.web_order_ref) as web_order_id,
        erp.store_id,
        erp.member_id,
        web.customer_id as web_customer_id,
        web.session_id,
        coalesce(web.ordered_at, erp.ordered_at) as ordered_at,
        case
            when erp.status = 'cancelled' or web.status = 'cancelled' then 'cancelled'
            else coalesce(web.status, erp.status)
        end as status,
        erp.source_currency,
        erp.order_total,
        web.shipping_amount,
        erp.reference_issue,
        greatest(erp._extracted_at, web._extracted_at) as _extracted_at
    from erp
    left join web on web.order_id = erp.web_order_ref
),

web_only as (
    select
        'W' || web.order_id as order_key,
        'ecommerce' as order_source,
        'web' as channel,
        null::bigint as erp_order_id,
        web.order_id as web_order_id,
        'WEB' as store_id,
        null::bigint as member_id,
        web.customer_id as web_customer_id,
        web.session_id,
        web.ordered_at,
        web.status,
        web.source_currency,
        web.total_amount - web.shipping_amount as order_total,
        web.shipping_amount,
        null::varchar as reference_issue,
        web._extracted_at
    from web
    where not exists (
        select 1 from erp
        where erp.web_order_ref = web.order_id
    )
),

orders as (
    select * from erp_orders
    union all
    select * from web_only
),

identity as (
    select
        source_table,
        source_id,
        customer_key
    from {{ ref('int_customer_identity_map') }}
)

select
    orders.*,
    -- the web account for web orders, the loyalty member otherwise
    coalesce(acct.customer_key, mem.customer_key) as customer_key,
    orders.status = 'cancelled' as is_cancelled
from orders
left join identity as acct
    on acct.source_table = 'customers' and acct.source_id = orders.web_customer_id
left join identity as mem
    on mem.source_table = 'members' and mem.source_id = orders.member_id::varchar
