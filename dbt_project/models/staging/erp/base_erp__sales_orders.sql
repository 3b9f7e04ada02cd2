-- Sales order headers typed, order total in the reporting currency, classified.
-- An order whose member is not (yet) a staged member is kept, with reference_issue
-- 'UNKNOWN_MEMBER' (not rejected: the sale happened and its revenue counts, only its customer
-- is unknown). The flag is recomputed on every build from the current members, so a member
-- that arrives in a later batch than its order clears it and the order gets its customer.
with src as (
    select * from {{ source('raw_erp', 'sales_orders') }}
),

typed as (
    select
        {{ parse_int('src.order_id') }} as order_id,
        {{ parse_int('src.member_id') }} as member_id,
        upper({{ clean_text('src.store_id') }}) as store_id,
        lower({{ clean_text('src.channel') }}) as channel,
        {{ clean_text('src.web_order_ref') }} as web_order_ref,
        {{ parse_local_ts('src.order_ts') }} as ordered_at,
        lower({{ clean_text('src.status') }}) as status,
        upper({{ clean_text('src.currency') }}) as source_currency,
        fx.usd_per_unit / fx_report.usd_per_unit as fx_rate,
        {{ to_reporting_currency(parse_amount('src.order_total', 'erp')) }} as order_total,
        {{ parse_local_ts('src.updated_at') }} as updated_at,
        case
            when {{ parse_int('src.member_id') }} is not null and m.member_id is null
                then 'UNKNOWN_MEMBER'
        end as reference_issue,
        fx.usd_per_unit is null as _unknown_currency,
        {{ parse_amount('src.order_total', 'erp') }} as _order_total_parsed,
        (
            {{ clean_text('src.member_id') }} is not null
            and {{ parse_int('src.member_id') }} is null
        ) as _bad_member,
        {{ row_hash(['order_id', 'member_id', 'store_id', 'channel', 'web_order_ref', 'order_ts',
                     'status', 'currency', 'order_total', 'updated_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
    left join {{ ref('stg_erp__members') }} as m
        on m.member_id = {{ parse_int('src.member_id') }}
    {{ fx_join('src.currency') }}
),

checked as (
    select
        * exclude (_unknown_currency, _order_total_parsed, _bad_member),
        case
            when order_id is null then 'MISSING_KEY'
            when ordered_at is null or updated_at is null then 'INVALID_DATE'
            when
                {{ implausible_ts('ordered_at') }} or {{ implausible_ts('updated_at') }}
                then 'IMPOSSIBLE_DATE'
            when _order_total_parsed is null then 'UNPARSEABLE_AMOUNT'
            when _order_total_parsed < 0 then 'NEGATIVE_AMOUNT'
            when _bad_member then 'UNPARSEABLE_VALUE'
            when _unknown_currency then 'UNKNOWN_CODE'
            when channel not in ('store', 'web') or channel is null then 'UNKNOWN_CODE'
            when status not in ('completed', 'cancelled') or status is null then 'UNKNOWN_CODE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='order_id', version='updated_at') }}
