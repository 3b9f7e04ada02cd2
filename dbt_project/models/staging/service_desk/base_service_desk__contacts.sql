-- Service-desk contacts typed and classified; a re-exported contact supersedes the older one.
-- The full name is split at the last space for matching (given names first, family name
-- last); a name without spaces (e.g. Chinese) stays whole in full_name.
with src as (
    select * from {{ source('raw_service', 'contacts') }}
),

typed as (
    select
        {{ clean_text('src.contact_id') }} as contact_id,
        regexp_replace({{ clean_text('src.full_name') }}, '\s+', ' ', 'g') as full_name,
        {{ normalize_email('src.email') }} as email,
        {{ normalize_phone('src.phone') }} as phone_e164,
        {{ parse_local_ts('src.created_at') }} as created_at,
        {{ parse_local_ts('src.updated_at') }} as updated_at,
        list_filter([
            case
                when
                    {{ clean_text('src.email') }} is not null
                    and {{ normalize_email('src.email') }} is null then 'INVALID_EMAIL'
            end,
            case
                when
                    {{ clean_text('src.phone') }} is not null
                    and {{ normalize_phone('src.phone') }} is null then 'UNPARSEABLE_PHONE'
            end
        ], x -> x is not null) as data_issues,
        {{ row_hash(['contact_id', 'full_name', 'email', 'phone', 'created_at',
                     'updated_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
),

checked as (
    select
        *,
        case
            when contact_id is null then 'MISSING_KEY'
            when created_at is null or updated_at is null then 'INVALID_DATE'
            when
                {{ implausible_ts('created_at') }} or {{ implausible_ts('updated_at') }}
                then 'IMPOSSIBLE_DATE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='contact_id', version='updated_at') }}
