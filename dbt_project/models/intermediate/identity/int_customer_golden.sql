-- The golden record: one row per customer_key, each attribute taken from the record that is
-- most trustworthy for it (survivorship). Ties go to the most recently updated record.
--   name       web account > ERP member > service desk: customers type their own name on
--              the web; at the till a cashier types it, at the desk an agent does.
--   e-mail     web account > ERP > service desk: the web login address is used, so it works.
--   phone      ERP member > web account > service desk: the loyalty programme verifies it
--              (SMS codes) at sign-up.
--   birth date ERP member > web account: shown on the member card application.
--   address    the most recently updated record that has one: people move, the latest
--              address any system learned is the best guess.
--   consent    the most recent explicit statement in any system: consent can be withdrawn
--              and given again, the latest word counts.
--   gender     ERP member only (no other system records it).
-- Full PII: this table stays in intermediate; marts expose masked values and hashes.
with records as (
    select
        r.*,
        m.customer_key,
        case r.source_system when 'ecommerce' then 1 when 'erp' then 2 else 3 end as name_rank,
        case r.source_system when 'ecommerce' then 1 when 'erp' then 2 else 3 end as email_rank,
        case r.source_system when 'erp' then 1 when 'ecommerce' then 2 else 3 end as phone_rank,
        case r.source_system when 'erp' then 1 when 'ecommerce' then 2 else 3 end as birth_rank
    from {{ ref('int_customer_records') }} as r
    inner join {{ ref('int_customer_identity_map') }} as m using (record_id)
),

-- source_table is a join column (not a filter in the ON clause) so the join is a hash join:
-- a condition on the left side alone made DuckDB plan a nested-loop join, which at
-- 1,000,000 customers compared every record with every member (it ran for over 15 minutes).
members as (
    select
        'members' as source_table,
        member_id::varchar as member_source_id,
        gender
    from {{ ref('stg_erp__members') }}
)

select
    r.customer_key,
    first(r.first_name order by r.name_rank asc, r.updated_at desc)
    filter (where r.first_name is not null) as first_name,
    first(r.last_name order by r.name_rank asc, r.updated_at desc)
    filter (where r.last_name is not null) as last_name,
    coalesce(
        first(r.first_name || ' ' || r.last_name order by r.name_rank asc, r.updated_at desc)
        filter (where r.first_name is not null and r.last_name is not null),
        first(r.full_name order by r.name_rank asc, r.updated_at desc)
        filter (where r.full_name is not null)
    ) as full_name,
    first(r.email order by r.email_rank asc, r.updated_at desc)
    filter (where r.email is not null) as email,
    first(r.phone_e164 order by r.phone_rank asc, r.updated_at desc)
    filter (where r.phone_e164 is not null) as phone_e164,
    first(r.birth_date order by r.birth_rank asc, r.updated_at desc)
    filter (where r.birth_date is not null) as birth_date,
    first(g.gender order by r.updated_at desc) filter (where g.gender is not null) as gender,
    first(r.street order by r.updated_at desc) filter (where r.postal_code is not null) as street,
    first(r.city order by r.updated_at desc) filter (where r.postal_code is not null) as city,
    first(r.postal_code order by r.updated_at desc)
    filter (where r.postal_code is not null) as postal_code,
    coalesce(
        first(r.country_code order by r.updated_at desc)
        filter (where r.country_code is not null),
        {{ home_country() }}
    ) as home_country,
    coalesce(
        first(r.marketing_consent order by r.updated_at desc)
        filter (where r.marketing_consent is not null),
        false
    ) as marketing_opt_in,
    min(r.created_at) as first_record_created_at,
    max(r.updated_at) as last_record_updated_at,
    coalesce(list_sort(list(r.source_id) filter (where r.source_table = 'members')), [])
        as erp_member_ids,
    coalesce(list_sort(list(r.source_id) filter (where r.source_table = 'customers')), [])
        as ecommerce_customer_ids,
    coalesce(list_sort(list(r.source_id) filter (where r.source_table = 'contacts')), [])
        as service_contact_ids,
    count(*) as source_record_count
from records as r
left join members as g
    on g.source_table = r.source_table and g.member_source_id = r.source_id
group by r.customer_key
