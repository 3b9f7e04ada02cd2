-- Web-shop accounts typed and classified; a re-exported account supersedes its older export.
with src as (
    select * from {{ source('raw_ecommerce', 'customers') }}
),

parsed as (
    select
        src.*,
        try_cast(src.address as json) as _address
    from src
),

typed as (
    select
        {{ clean_text('src.customer_id') }} as customer_id,
        {{ normalize_email('src.email') }} as email,
        {{ clean_text('src.first_name') }} as first_name,
        {{ clean_text('src.last_name') }} as last_name,
        {{ normalize_phone('src.phone', "json_extract_string(src._address, '$.country_code')") }}
            as phone_e164,
        {{ plausible_birth_date('src.birth_date') }} as birth_date,
        {{ clean_text("json_extract_string(src._address, '$.street')") }} as street,
        {{ clean_text("json_extract_string(src._address, '$.city')") }} as city,
        upper(replace(
            {{ clean_text("json_extract_string(src._address, '$.postal_code')") }},
            ' ', ''
        )) as postal_code,
        upper({{ clean_text("json_extract_string(src._address, '$.country_code')") }})
            as country_code,
        {{ parse_bool('src.marketing_consent') }} as marketing_consent,
        upper({{ clean_text('src.loyalty_member_no') }}) as loyalty_member_no,
        {{ parse_utc_ts('src.created_at') }} as created_at,
        {{ parse_utc_ts('src.updated_at') }} as updated_at,
        list_filter([
            case
                when
                    {{ clean_text('src.email') }} is not null
                    and {{ normalize_email('src.email') }} is null then 'INVALID_EMAIL'
            end,
            case
                when
                    {{ clean_text('src.phone') }} is not null
                    and {{ normalize_phone(
                        'src.phone', "json_extract_string(src._address, '$.country_code')"
                    ) }} is null
                    then 'UNPARSEABLE_PHONE'
            end,
            {{ birth_date_issue('src.birth_date') }},
            case
                when {{ clean_text('src.address') }} is not null and src._address is null
                    then 'UNPARSEABLE_ADDRESS'
            end
        ], x -> x is not null) as data_issues,
        {{ row_hash(['customer_id', 'email', 'first_name', 'last_name', 'phone', 'birth_date',
                     'address', 'marketing_consent', 'loyalty_member_no', 'created_at',
                     'updated_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from parsed as src
),

checked as (
    select
        *,
        case
            when customer_id is null then 'MISSING_KEY'
            when created_at is null or updated_at is null then 'INVALID_DATE'
            when
                {{ implausible_ts('created_at') }} or {{ implausible_ts('updated_at') }}
                then 'IMPOSSIBLE_DATE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='customer_id', version='updated_at') }}
