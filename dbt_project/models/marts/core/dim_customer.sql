-- One row per resolved customer: golden attributes (masked or pseudonymized: this is a
-- BI-facing table), source ids as pseudonyms, activity span, consent and contact preferences.
with golden as (
    select * from {{ ref('int_customer_golden') }}
),

-- The ids the source systems know the person by, as pseudonyms (pseudonymize(): HMAC-SHA256
-- under the pseudonym key, like e-mails and phones), so BI can count and join them but not
-- look the person up in the ERP, the web shop or the service desk. The ids themselves stay
-- in intermediate (identity resolution) and in the PII vault.
source_ids as (
    select
        customer_key,
        coalesce(list_sort(
            list({{ pseudonymize('source_id') }}) filter (where source_table = 'members')
        ), []) as erp_member_id_hashes,
        coalesce(list_sort(
            list({{ pseudonymize('source_id') }}) filter (where source_table = 'customers')
        ), []) as ecommerce_customer_id_hashes,
        coalesce(list_sort(
            list({{ pseudonymize('source_id') }}) filter (where source_table = 'contacts')
        ), []) as service_contact_id_hashes
    from {{ ref('int_customer_identity_map') }}
    group by 1
),

activity as (
    select
        customer_key,
        min(ordered_at) as first_at,
        max(ordered_at) as last_at
    from {{ ref('int_orders_unified') }}
    where customer_key is not null
    group by 1
    union all
    select
        customer_key,
        min(started_at) as first_at,
        max(started_at) as last_at
    from {{ ref('fct_sessions') }}
    where customer_key is not null
    group by 1
    union all
    select
        customer_key,
        min(created_at) as first_at,
        max(created_at) as last_at
    from {{ ref('fct_tickets') }}
    where customer_key is not null
    group by 1
),

span as (
    select
        customer_key,
        min(first_at) as first_activity_at,
        max(last_at) as last_activity_at
    from activity
    group by 1
)

select
    g.customer_key,
    {{ pseudonymize('g.email') }} as email_hash,
    {{ mask_email('g.email') }} as email_masked,
    {{ pseudonymize('g.phone_e164') }} as phone_hash,
    {{ mask_phone('g.phone_e164') }} as phone_masked,
    left(g.first_name, 1) || '.' as first_initial,
    year(g.birth_date) as birth_year,
    g.gender,
    g.city,
    g.home_country,
    g.marketing_opt_in,
    g.email is not null as has_email,
    g.phone_e164 is not null as has_phone,
    g.marketing_opt_in and g.email is not null as is_email_marketable,
    least(g.first_record_created_at, s.first_activity_at) as first_seen_at,
    greatest(g.first_record_created_at, s.last_activity_at) as last_seen_at,
    coalesce(i.erp_member_id_hashes, []) as erp_member_id_hashes,
    coalesce(i.ecommerce_customer_id_hashes, []) as ecommerce_customer_id_hashes,
    coalesce(i.service_contact_id_hashes, []) as service_contact_id_hashes,
    g.source_record_count
from golden as g
left join span as s using (customer_key)
left join source_ids as i using (customer_key)
