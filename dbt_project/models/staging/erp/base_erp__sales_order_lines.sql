-- Order lines typed and classified. Amounts are converted with the currency of their order,
-- so a line whose order is not staged is rejected (UNKNOWN_ORDER), as is a line whose SKU is
-- not in the product master (UNKNOWN_PRODUCT).
with src as (
    select * from {{ source('raw_erp', 'sales_order_lines') }}
),

typed as (
    select
        {{ parse_int('src.order_line_id') }} as order_line_id,
        {{ parse_int('src.order_id') }} as order_id,
        {{ parse_int('src.line_no') }} as line_no,
        {{ clean_text('src.product_id') }} as product_id,
        {{ parse_int('src.quantity') }} as quantity,
        round(
            {{ parse_amount('src.unit_price', 'erp') }} * o.fx_rate, 2
        )::decimal(18, 2) as unit_price,
        round(
            coalesce({{ parse_amount('src.discount_amount', 'erp') }}, 0) * o.fx_rate, 2
        )::decimal(18, 2) as discount_amount,
        {{ parse_local_ts('src.updated_at') }} as updated_at,
        o.order_id is not null as _order_known,
        p.product_id is not null as _product_known,
        {{ parse_amount('src.unit_price', 'erp') }} as _unit_price_parsed,
        (
            {{ clean_text('src.discount_amount') }} is not null
            and {{ parse_amount('src.discount_amount', 'erp') }} is null
        ) as _bad_discount,
        {{ row_hash(['order_line_id', 'order_id', 'line_no', 'product_id', 'quantity',
                     'unit_price', 'discount_amount', 'updated_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
    left join {{ ref('stg_erp__sales_orders') }} as o
        on o.order_id = {{ parse_int('src.order_id') }}
    left join {{ ref('stg_erp__products') }} as p
        on p.product_id = {{ clean_text('src.product_id') }}
),

checked as (
    select
        * exclude (_order_known, _product_known, _unit_price_parsed, _bad_discount),
        case
            when order_line_id is null then 'MISSING_KEY'
            when updated_at is null then 'INVALID_DATE'
            when {{ implausible_ts('updated_at') }} then 'IMPOSSIBLE_DATE'
            when quantity is null then 'UNPARSEABLE_VALUE'
            when quantity < 0 then 'NEGATIVE_QUANTITY'
            when quantity = 0 then 'ZERO_QUANTITY'
            when _unit_price_parsed is null or _bad_discount then 'UNPARSEABLE_AMOUNT'
            when _unit_price_parsed < 0 then 'NEGATIVE_AMOUNT'
            when not _product_known then 'UNKNOWN_PRODUCT'
            when not _order_known then 'UNKNOWN_ORDER'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='order_line_id', version='updated_at') }}
