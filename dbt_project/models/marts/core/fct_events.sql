{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}
-- One row per click-stream event. Incremental like fct_order_lines: new extractions plus
-- events whose account moved to another customer_key. The account is a pseudonym
-- (pseudonymize(), as in dim_customer.ecommerce_customer_id_hashes), so the identity map's ids
-- are hashed to find the moved ones.
with events as (
    select
        e.event_id,
        e.session_id,
        m.customer_key,
        {{ pseudonymize('e.customer_id') }} as web_customer_id_hash,
        e.event_type,
        e.event_ts,
        e.event_ts::date as event_date,
        e.product_id,
        e.order_id as web_order_id,
        e._extracted_at
    from {{ ref('stg_ecommerce__events') }} as e
    left join {{ ref('int_customer_identity_map') }} as m
        on m.source_table = 'customers' and m.source_id = e.customer_id
)

select * from events
{% if is_incremental() and var('incremental_start', '') %}
-- a partitioned run (Dagster): rebuild the rows of its time window
where event_ts >= timestamp '{{ var("incremental_start") }}'
  and event_ts < timestamp '{{ var("incremental_end") }}'
{% elif is_incremental() %}
where _extracted_at > (select coalesce(max(_extracted_at), timestamp '1900-01-01') from {{ this }})
   or event_id in (
        select t.event_id
        from {{ this }} as t
        join {{ ref('int_customer_identity_map') }} as m
            on
                m.source_table = 'customers'
                and {{ pseudonymize('m.source_id') }} = t.web_customer_id_hash
        where t.customer_key is distinct from m.customer_key
   )
{% endif %}
