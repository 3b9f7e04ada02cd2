{{ config(
    materialized='incremental',
    unique_key='session_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ keyless_rows_pre_hook('session_id') }}"
) }}
-- Sessions typed and classified (no version column: a repeated session id with different
-- content is rejected as DUPLICATE_KEY). Incremental: the sessions of keys that arrived since
-- the last build (macro rows_to_classify).
with src as (
    {{ rows_to_classify(source('raw_ecommerce', 'sessions'), 'session_id') }}
),

typed as (
    select
        {{ clean_text('src.session_id') }} as session_id,
        {{ clean_text('src.customer_id') }} as customer_id,
        {{ parse_utc_ts('src.started_at') }} as started_at,
        {{ parse_utc_ts('src.ended_at') }} as ended_at,
        lower({{ clean_text('src.device') }}) as device,
        lower({{ clean_text('src.channel') }}) as channel,
        {{ clean_text('src.landing_page') }} as landing_page,
        (
            {{ clean_text('src.ended_at') }} is not null
            and {{ parse_utc_ts('src.ended_at') }} is null
        ) as _bad_end,
        {{ row_hash(['session_id', 'customer_id', 'started_at', 'ended_at', 'device', 'channel',
                     'landing_page']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
),

checked as (
    select
        * exclude (_bad_end),
        case
            when session_id is null then 'MISSING_KEY'
            when started_at is null or _bad_end then 'INVALID_DATE'
            when
                ended_at < started_at
                or {{ implausible_ts('started_at') }} or {{ implausible_ts('ended_at') }}
                then 'IMPOSSIBLE_DATE'
            when device not in ('desktop', 'mobile', 'tablet', 'app') or device is null
                then 'UNKNOWN_CODE'
            when
                channel not in ('organic', 'paid_search', 'email', 'social', 'direct', 'referral')
                or channel is null then 'UNKNOWN_CODE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='session_id') }}
