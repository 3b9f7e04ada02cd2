-- Members typed and classified (see macros/staging/classify_rows.sql). Attribute-level
-- defects (invalid e-mail, unparseable phone, impossible birth date) null the attribute and
-- are listed in data_issues: dropping the member would orphan its orders.
with src as (
    select * from {{ source('raw_erp', 'members') }}
),

typed as (
    select
        {{ parse_int('src.member_id') }} as member_id,
        {{ clean_text('src.member_no') }} as member_no,
        {{ clean_text('src.first_name') }} as first_name,
        {{ clean_text('src.last_name') }} as last_name,
        {{ normalize_email('src.email') }} as email,
        {{ normalize_phone('src.phone', clean_text('src.country_code')) }} as phone_e164,
        {{ plausible_birth_date('src.birth_date') }} as birth_date,
        case
            when upper(trim(src.gender)) in ('F', 'FEMALE', 'W', 'WOMAN') then 'F'
            when upper(trim(src.gender)) in ('M', 'MALE', 'MAN') then 'M'
            else 'U'
        end as gender,
        {{ clean_text('src.street') }} as street,
        {{ clean_text('src.city') }} as city,
        upper(replace({{ clean_text('src.postal_code') }}, ' ', '')) as postal_code,
        upper({{ clean_text('src.country_code') }}) as country_code,
        {{ parse_local_ts('src.joined_at') }} as joined_at,
        -- unparseable consent counts as no consent (privacy-safe) and is listed in data_issues
        coalesce({{ parse_bool('src.marketing_opt_in') }}, false) as marketing_opt_in,
        {{ clean_text('src.home_store_id') }} as home_store_id,
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
                    and {{ normalize_phone('src.phone', clean_text('src.country_code')) }} is null
                    then 'UNPARSEABLE_PHONE'
            end,
            {{ birth_date_issue('src.birth_date') }},
            case when {{ parse_bool('src.marketing_opt_in') }} is null then 'UNKNOWN_CODE' end
        ], x -> x is not null) as data_issues,
        {{ row_hash(['member_id', 'member_no', 'first_name', 'last_name', 'email', 'phone',
                     'birth_date', 'gender', 'street', 'city', 'postal_code', 'country_code',
                     'joined_at', 'marketing_opt_in', 'home_store_id', 'updated_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
),

checked as (
    select
        *,
        case
            when member_id is null then 'MISSING_KEY'
            when updated_at is null or joined_at is null then 'INVALID_DATE'
            when
                {{ implausible_ts('joined_at') }} or {{ implausible_ts('updated_at') }}
                then 'IMPOSSIBLE_DATE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='member_id', version='updated_at') }}
