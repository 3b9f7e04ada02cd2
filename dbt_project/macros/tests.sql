{#- Generic tests written here because dbt deps cannot reach the package hub. -#}

{#- No two rows share the combination of `columns`. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Rows where the SQL boolean `expression` is false. -#}
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not coalesce(({{ expression }}), false)
{% endtest %}

{#- Raw rows = staged + rejected + exact duplicates removed + superseded versions, for one
    source table. Staged and rejected are counted in their own tables, so a row lost between
    classification and the staged model fails the test. -#}
{% test reconciles_with_raw(model, raw, classified, rejected) %}
with counts as (
    select
        (select count(*) from {{ raw }}) as raw_rows,
        (select count(*) from {{ model }}) as staged_rows,
        (select count(*) from {{ rejected }}) as rejected_rows,
        (select count(*) from {{ classified }} where _disposition = 'duplicate') as duplicate_rows,
        (select count(*) from {{ classified }} where _disposition = 'superseded') as superseded_rows
)
select * from counts
where raw_rows != staged_rows + rejected_rows + duplicate_rows + superseded_rows
{% endtest %}

{#- Label propagation converged: no link joins two different customer keys. -#}
{% test converged_clusters(model) %}
select p.record_id_a, p.record_id_b
from {{ ref('int_customer_match_pairs') }} as p
join {{ model }} as a on a.record_id = p.record_id_a
join {{ model }} as b on b.record_id = p.record_id_b
where p.is_link and a.customer_key != b.customer_key
{% endtest %}
