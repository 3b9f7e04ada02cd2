{#- Every raw row gets exactly one disposition, which is what makes the reconciliation
    raw = staged + rejected + duplicate + superseded provable:
      duplicate   an exact copy (all delivered business columns equal) of an earlier row
      rejected    fails a validity rule (`_reject_reason` set by the caller) or, for tables
                  without a version column, repeats a key with different content
                  (DUPLICATE_KEY)
      superseded  a valid older version of a key (ERP version logs, re-exported files)
      staged      the latest valid version of its key
    `relation` is a CTE holding the typed columns, `_row_hash` and `_reject_reason`. -#}
{% macro classify_rows(relation, key, version=none) -%}
dedup as (
    select *,
        row_number() over (
            partition by _row_hash
            order by _extracted_at, _source_object, _source_row_number
        ) as _copy_rank
    from {{ relation }}
),
ranked as (
    select *,
        row_number() over (
            partition by {{ key }}, (_copy_rank = 1 and _reject_reason is null)
            order by {% if version %}{{ version }} desc nulls last, {% endif %}
                _extracted_at desc, _source_object desc, _source_row_number desc
        ) as _version_rank
    from dedup
)
select
    * exclude (_reject_reason),
    case
        when _copy_rank > 1 then null
        when _reject_reason is not null then _reject_reason
        {%- if not version %}
        when _version_rank > 1 then 'DUPLICATE_KEY'
        {%- endif %}
    end as _reject_reason,
    case
        when _copy_rank > 1 then 'duplicate'
        when _reject_reason is not null then 'rejected'
        when _version_rank = 1 then 'staged'
        {%- if version %}
        else 'superseded'
        {%- else %}
        else 'rejected'
        {%- endif %}
    end as _disposition
from ranked
{%- endmacro %}

{#- md5 over the delivered business columns (not lineage) to find exact duplicates. -#}
{% macro row_hash(columns, alias='src') -%}
    md5(concat_ws(chr(31), {% for c in columns %}coalesce({{ alias }}."{{ c }}", chr(0)){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{#- The staged model of a classified base model: the latest valid version of every key. -#}
{% macro staged_from(base) -%}
select * exclude (_row_hash, _copy_rank, _version_rank, _reject_reason, _disposition, _raw_record)
from {{ ref(base) }}
where _disposition = 'staged'
{%- endmacro %}

{#- The quarantine of a classified base model: the row as delivered, why, and where from. -#}
{% macro rejected_from(base, key) -%}
select
    _reject_reason,
    json_extract_string(_raw_record, '$.{{ key }}') as {{ key }},
    _raw_record,
    _source_system, _source_object, _source_row_number, _batch_id, _extracted_at
from {{ ref(base) }}
where _disposition = 'rejected'
{%- endmacro %}
