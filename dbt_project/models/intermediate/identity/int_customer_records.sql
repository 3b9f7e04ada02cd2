-- Every staged customer record of the three systems in one shape, with the normalized
-- attributes the matcher compares. record_id = system:table:source_id.
-- name_fl / name_lf are the name in both orders, letters only, lower case, so that
-- "John Smith", "SMITH John" and a service-desk full name compare alike (Chinese names are
-- written family name first without a space, which name_lf covers).
with members as (
    select
        'erp' as source_system,
        'members' as source_table,
        member_id::varchar as source_id,
        first_name,
        last_name,
        first_name || ' ' || last_name as full_name,
        email,
        phone_e164,
        birth_date,
        street,
        city,
        postal_code,
        country_code,
        member_no,
        marketing_opt_in as marketing_consent,
        joined_at as created_at,
        updated_at
    from {{ ref('stg_erp__members') }}
),

accounts as (
    select
        'ecommerce' as source_system,
        'customers' as source_table,
        customer_id as source_id,
        first_name,
        last_name,
        first_name || ' ' || last_name as full_name,
        email,
        phone_e164,
        birth_date,
        street,
        city,
        postal_code,
        country_code,
        loyalty_member_no as member_no,
        marketing_consent,
        created_at,
        updated_at
    from {{ ref('stg_ecommerce__customers') }}
),

contacts as (
    select
        'service_desk' as source_system,
        'contacts' as source_table,
        contact_id as source_id,
        null as first_name,
        null as last_name,
        full_name,
        email,
        phone_e164,
        null::date as birth_date,
        null as street,
        null as city,
        null as postal_code,
        null as country_code,
        null as member_no,
        null::boolean as marketing_consent,
        created_at,
        updated_at
    from {{ ref('stg_service_desk__contacts') }}
),

unioned as (
    select * from members
    union all
    select * from accounts
    union all
    select * from contacts
)

select
    source_system || ':' || source_table || ':' || source_id as record_id,
    *,
    nullif(regexp_replace(
        lower(coalesce(first_name, '') || coalesce(last_name, '')),
        '[^\p{L}]', '', 'g'
    ), '') as name_fl,
    nullif(regexp_replace(
        lower(coalesce(last_name, '') || coalesce(first_name, '')),
        '[^\p{L}]', '', 'g'
    ), '') as name_lf,
    nullif(regexp_replace(lower(coalesce(full_name, '')), '[^\p{L}]', '', 'g'), '')
        as name_full,
    nullif(regexp_replace(lower(coalesce(street, '')), '[^\p{L}\p{N}]', '', 'g'), '')
        as street_key
from unioned
