-- Candidate pairs of customer records, their comparison, and the decision to link them.
--
-- Blocking (which pairs are compared at all, so the work stays near-linear):
--   same e-mail | same E.164 phone | loyalty number on a web account = ERP member number |
--   same birth date and name initial | same postal code and name initial
-- Decision:
--   deterministic  e-mail, phone or loyalty number equal -> linked (the simulator and real
--                  CRMs alike give each person their own address and number)
--   probabilistic  otherwise a Fellegi-Sunter score: log2(m/u) weights for name similarity
--                  (Jaro-Winkler), birth date, postal code and street, added to the prior
--                  log-odds of two random records matching; linked when the match probability
--                  reaches var identity_match_threshold.
-- Every compared pair is kept with its evidence, linked or not, so a steward can see why.
with records as (
    select * from {{ ref('int_customer_records') }}
),

keyed as (
    select
        record_id,
        'email' as block_rule,
        email as block_key
    from records
    where email is not null
    union all
    select
        record_id,
        'phone' as block_rule,
        phone_e164 as block_key
    from records
    where phone_e164 is not null
    union all
    select
        record_id,
        'loyalty_no' as block_rule,
        member_no as block_key
    from records
    where member_no is not null
    union all
    select
        record_id,
        'birth_date_initial' as block_rule,
        birth_date::varchar || left(coalesce(name_full, ''), 1) as block_key
    from records
    where birth_date is not null
    union all
    select
        record_id,
        'postal_initial' as block_rule,
        postal_code || left(coalesce(name_full, ''), 1) as block_key
    from records
    where postal_code is not null
),

candidates as (
    select distinct
        least(a.record_id, b.record_id) as record_id_a,
        greatest(a.record_id, b.record_id) as record_id_b
    from keyed as a
    inner join keyed as b
        on b.block_rule = a.block_rule and b.block_key = a.block_key and b.record_id > a.record_id
),

compared as (
    select
        c.record_id_a,
        c.record_id_b,
        a.email = b.email as email_match,
        a.phone_e164 = b.phone_e164 as phone_match,
        a.member_no = b.member_no and a.source_table != b.source_table as loyalty_no_match,
        greatest(
            jaro_winkler_similarity(a.name_full, b.name_full),
            jaro_winkler_similarity(a.name_full, b.name_lf),
            jaro_winkler_similarity(a.name_lf, b.name_full)
        ) as name_similarity,
        case
            when a.birth_date is null or b.birth_date is null then null
            else a.birth_date = b.birth_date
        end as birth_date_match,
        case
            when a.postal_code is null or b.postal_code is null then null
            else a.postal_code = b.postal_code
        end as postal_code_match,
        case
            when a.street_key is null or b.street_key is null then null
            else jaro_winkler_similarity(a.street_key, b.street_key)
        end as street_similarity,
        case
            when a.email is null or b.email is null then null
            else a.email = b.email
        end as email_agrees,
        case
            when a.phone_e164 is null or b.phone_e164 is null then null
            else a.phone_e164 = b.phone_e164
        end as phone_agrees
    from candidates as c
    inner join records as a on a.record_id = c.record_id_a
    inner join records as b on b.record_id = c.record_id_b
),

weighted as (
    select
        *,
        -- log2(m/u) per comparison; NULL (value missing on a side) contributes 0
        case
            when name_similarity >= 0.95 then log2(0.90 / 0.005)
            when name_similarity >= 0.88 then log2(0.08 / 0.02)
            when name_similarity is null then 0
            else log2(0.02 / 0.975)
        end as w_name,
        case
            when birth_date_match then log2(0.95 / 0.0001)
            when not birth_date_match then log2(0.05 / 0.9999)
            else 0
        end as w_birth_date,
        case
            when postal_code_match then log2(0.85 / 0.01)
            when not postal_code_match then log2(0.15 / 0.99)
            else 0
        end as w_postal_code,
        case
            when street_similarity >= 0.92 then log2(0.80 / 0.001)
            when street_similarity is not null then log2(0.20 / 0.999)
            else 0
        end as w_street,
        case
            when email_agrees then log2(0.90 / 0.000001)
            when not email_agrees then log2(0.10 / 1.0)
            else 0
        end as w_email,
        case
            when phone_agrees then log2(0.90 / 0.000001)
            when not phone_agrees then log2(0.10 / 1.0)
            else 0
        end as w_phone
    from compared
),

scored as (
    select
        *,
        -- prior: one true partner among ~1e5 records
        log2(1.0 / 100000) + w_name + w_birth_date + w_postal_code + w_street + w_email + w_phone
            as match_weight
    from weighted
)

select
    record_id_a,
    record_id_b,
    list_filter([
        case when email_match then 'email' end,
        case when phone_match then 'phone' end,
        case when loyalty_no_match then 'loyalty_no' end
    ], x -> x is not null) as deterministic_evidence,
    name_similarity,
    birth_date_match,
    postal_code_match,
    street_similarity,
    round(match_weight, 3) as match_weight,
    round(1.0 / (1.0 + pow(2.0, -match_weight)), 6) as match_probability,
    case
        when
            coalesce(email_match, false) or coalesce(phone_match, false)
            or coalesce(loyalty_no_match, false) then 'deterministic'
        when 1.0 / (1.0 + pow(2.0, -match_weight)) >= {{ var('identity_match_threshold') }}
            then 'probabilistic'
    end as link_type,
    (
        coalesce(email_match, false) or coalesce(phone_match, false)
        or coalesce(loyalty_no_match, false)
        or 1.0 / (1.0 + pow(2.0, -match_weight)) >= {{ var('identity_match_threshold') }}
    ) as is_link
from scored
