-- Returns typed and classified; refunds converted with the currency of the original order.
with src as (
    select * from {{ source('raw_erp', 'returns') }}
),

typed as (
    select
        {{ parse_int('src.return_id') }} as return_id,
        {{ parse_int('src.order_id') }} as order_id,
        {{ parse_int('src.order_line_id') }} as order_line_id,
        {{ clean_text('src.product_id') }} as product_id,
        {{ parse_int('src.quantity') }} as quantity,
        round(
            {{ parse_amount('src.refund_amount', 'erp') }} * o.fx_rate, 2
        )::decimal(18, 2) as refund_amount,
        {{ parse_local_ts('src.returned_at') }} as returned_at,
        upper({{ clean_text('src.reason_code') }}) as reason_code,
        {{ parse_local_ts('src.updated_at') }} as updated_at,
        o.order_id is not null as _order_known,
        p.product_id is not null as _product_known,
        {{ parse_amount('src.refund_amount', 'erp') }} as _refund_parsed,
        {{ row_hash(['return_id', 'order_id', 'order_line_id', 'product_id', 'quantity',
                     'refund_amount', 'returned_at', 'reason_code', 'updated_at']) }} as _row_hash,
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
        * exclude (_order_known, _product_known, _refund_parsed),
        case
            when return_id is null then 'MISSING_KEY'
            when returned_at is null or updated_at is null then 'INVALID_DATE'
            when
                {{ implausible_ts('returned_at') }} or {{ implausible_ts('updated_at') }}
                then 'IMPOSSIBLE_DATE'
            when quantity is null then 'UNPARSEABLE_VALUE'
            when quantity <= 0 then 'NEGATIVE_QUANTITY'
            when _refund_parsed is null then 'UNPARSEABLE_AMOUNT'
            when _refund_parsed < 0 then 'NEGATIVE_AMOUNT'
            when not _product_known then 'UNKNOWN_PRODUCT'
            when not _order_known then 'UNKNOWN_ORDER'
            when reason_code not in (
                'DAMAGED', 'WRONG_ITEM', 'NOT_AS_DESCRIBED', 'CHANGED_MIND',
                'LATE'
            ) or reason_code is null then 'UNKNOWN_CODE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='return_id', version='updated_at') }}
