-- One row per CSAT (1-5) or NPS (0-10) answer. is_promoter / is_detractor follow the NPS
-- definition (9-10 / 0-6); is_satisfied follows CSAT (4-5). The contact is a pseudonym
-- (pseudonymize(), as in dim_customer.service_contact_id_hashes).
select
    s.response_id,
    m.customer_key,
    s.ticket_id,
    {{ pseudonymize('s.contact_id') }} as contact_id_hash,
    s.survey_type,
    s.score,
    s.responded_at,
    s.responded_at::date as response_date,
    s.survey_type = 'NPS' and s.score >= 9 as is_promoter,
    s.survey_type = 'NPS' and s.score <= 6 as is_detractor,
    s.survey_type = 'CSAT' and s.score >= 4 as is_satisfied
from {{ ref('stg_service_desk__surveys') }} as s
left join {{ ref('int_customer_identity_map') }} as m
    on m.source_table = 'contacts' and m.source_id = s.contact_id
