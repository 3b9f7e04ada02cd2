-- Connected components of the linked pairs, so links are transitive (A~B and B~C puts A, B
-- and C in one customer). Label propagation: every record starts with its own record_id as
-- label and takes the smallest label among itself and its linked neighbours, repeated
-- var identity_propagation_rounds times (a cluster of n records needs at most n-1 rounds;
-- clusters are a handful of records). The data test on this model fails if any link still
-- joins two different labels, i.e. if the rounds were not enough.
{%- set rounds = var('identity_propagation_rounds', 12) %}
with edges as (
    select
        record_id_a as src,
        record_id_b as dst
    from {{ ref('int_customer_match_pairs') }}
    where is_link
    union all
    select
        record_id_b,
        record_id_a
    from {{ ref('int_customer_match_pairs') }}
    where is_link
),

labels_0 as (
    select
        record_id,
        record_id as cluster_label
    from {{ ref('int_customer_records') }}
),
{%- for i in range(1, rounds + 1) %}

labels_{{ i }} as (
    select
        l.record_id,
        least(l.cluster_label, coalesce(min(n.cluster_label), l.cluster_label)) as cluster_label
    from labels_{{ i - 1 }} as l
    left join edges as e on e.src = l.record_id
    left join labels_{{ i - 1 }} as n on n.record_id = e.dst
    group by l.record_id, l.cluster_label
){% if not loop.last %},{% endif %}
{%- endfor %}
select
    record_id,
    cluster_label as cluster_root,
    'CK' || upper(substr(md5(cluster_label), 1, 16)) as customer_key
from labels_{{ rounds }}
