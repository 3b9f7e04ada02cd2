-- Web orders typed, amounts in the reporting currency, classified. The nested items are
-- validated and unnested in stg_ecommerce__order_items.
with src as (
    select * from {{ source('raw_ecommerce', 'orders') }}
),

typed as (
    select
        {{ clean_text('src.order_id') }} as order_id,
        {{ clean_text('src.customer_id') }} as customer_id,
        {{ clean_text('src.session_id') }} as session_id,
        {{ parse_utc_ts('src.ordered_at') }} as ordered_at,
        lower({{ clean_text('src.status') }}) as status,
        upper({{ clean_text('src.currency') }}) as source_currency,
        fx.usd_per_unit / fx_report.usd_per_unit as fx_rate,
        try_cast(src.items as json) as items,
        {{ to_reporting_currency(
            'coalesce(' ~ parse_amount('src.shipping_amount', 'ecommerce') ~ ', 0)'
        ) }} as shipping_amount,
        {{ to_reporting_currency(parse_amount('src.total_amount', 'ecommerce')) }} as total_amount,
        lower({{ clean_text('src.payment_method') }}) as payment_method,
        fx.usd_per_unit is null as _unknown_currency,
        {{ parse_amount('src.total_amount', 'ecommerce') }} as _total_parsed,
        (
            {{ clean_text('src.shipping_amount') }} is not null
            and {{ parse_amount('src.shipping_amount', 'ecommerce') }} is null
        ) as _bad_shipping,
        {{ row_hash(['order_id', 'customer_id', 'session_id', 'ordered_at', 'status', 'currency',
                     'items', 'shipping_amount', 'total_amount', 'payment_method']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
    {{ fx_join('src.currency') }}
),

checked as (
    select
        * exclude (_unknown_currency, _total_parsed, _bad_shipping),
        case
            when order_id is null then 'MISSING_KEY'
            when ordered_at is null then 'INVALID_DATE'
            when {{ implausible_ts('ordered_at') }} then 'IMPOSSIBLE_DATE'
            when _total_parsed is null or _bad_shipping then 'UNPARSEABLE_AMOUNT'
            when _total_parsed < 0 then 'NEGATIVE_AMOUNT'
            when items is null or json_type(items) != 'ARRAY' then 'UNPARSEABLE_VALUE'
            when _unknown_currency then 'UNKNOWN_CODE'
            when status not in ('placed', 'shipped', 'delivered', 'cancelled') or status is null
                then 'UNKNOWN_CODE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='order_id') }}
