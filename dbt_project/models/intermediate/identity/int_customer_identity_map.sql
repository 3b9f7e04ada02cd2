-- The identity map: (source system, source table, source id) -> customer_key, with the
-- evidence that put the record in its customer (the links it takes part in).
-- customer_key is derived from the smallest record_id of the cluster, so it is stable across
-- runs as long as that record stays in the same customer.
with links as (
    select
        record_id_a as record_id,
        record_id_b as other_record_id,
        link_type,
        deterministic_evidence,
        match_probability
    from {{ ref('int_customer_match_pairs') }}
    where is_link
    union all
    select
        record_id_b,
        record_id_a,
        link_type,
        deterministic_evidence,
        match_probability
    from {{ ref('int_customer_match_pairs') }}
    where is_link
),

evidence as (
    select
        record_id,
        count(*) as link_count,
        list_sort(list_distinct(flatten(list(deterministic_evidence)))) as matched_on,
        bool_or(link_type = 'probabilistic') as has_probabilistic_link,
        max(match_probability) as best_match_probability,
        list_sort(list(other_record_id)) as linked_record_ids
    from links
    group by record_id
)

select
    r.source_system,
    r.source_table,
    r.source_id,
    c.customer_key,
    r.record_id,
    count(*) over (partition by c.customer_key) as cluster_size,
    coalesce(e.link_count, 0) as link_count,
    coalesce(e.matched_on, []) as matched_on,
    coalesce(e.has_probabilistic_link, false) as has_probabilistic_link,
    e.best_match_probability,
    coalesce(e.linked_record_ids, []) as linked_record_ids
from {{ ref('int_customer_records') }} as r
inner join {{ ref('int_customer_clusters') }} as c using (record_id)
left join evidence as e using (record_id)
