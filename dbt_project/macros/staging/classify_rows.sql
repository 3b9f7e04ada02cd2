{#- Every raw row gets exactly one disposition, which is what makes the reconciliation
    raw = staged + rejected + duplicate + superseded provable:
      duplicate   an exact copy (all delivered business columns equal) of an earlier row
      rejected    fails a validity rule (`_reject_reason` set by the caller) or, for tables
                  without a version column, repeats a key with different content
                  (DUPLICATE_KEY)
      superseded  a valid older version of a key (ERP version logs, re-exported files)
      staged      the latest valid version of its key
    `relation` is a CTE holding the typed columns, `_row_hash`, `_reject_reason` and the row
    as delivered (`raw_row()`, a struct).

    Why it is shaped this way (measured on raw_ecommerce.events: 56 M rows at 1,000,000
    customers, where the first form took 642 s of a 2-core machine; 5.6 M rows at 100,000,
    where this form took 29.8 and 33.7 s against 47.4 and 51.6 s for the previous one, in
    alternating runs on one thread, with identical output row for row):
    * the two rankings run only on *contested* rows, those whose key occurs more than once (a
      few percent). Every other row is alone in both of its partitions, so both its ranks
      are 1. A row's `_row_hash` covers its delivered key column, so two exact copies always
      share a key: the key alone finds every contested row, with one narrow aggregation;
    * the classified relation is read as `not materialized`: DuckDB otherwise materializes
      a CTE read more than once, and writing then re-scanning every wide row (with its
      delivered-row struct) twice was a third of the time. Inlined, the key count reads one
      column, and the contested and uncontested rows are split by a semi and an anti join;
    * `_raw_record` (the delivered row as JSON, kept for the quarantine) is serialized only
      for rows that are not staged; `to_json` on every row was the costliest expression.
    Same dispositions, reasons and records as ranking every row: checked row for row on the
    demo warehouse, and by the reconciliation tests. -#}
{% macro classify_rows(relation, key, version=none) -%}
classify_input as not materialized (
    select * from {{ relation }}
),
contested_keys as (
    select {{ key }} as _contested_key
    from classify_input
    group by {{ key }}
    having count(*) > 1
),
ranked as (
    select *,
        row_number() over (
            partition by {{ key }}, (_copy_rank = 1 and _reject_reason is null)
            order by {% if version %}{{ version }} desc nulls last, {% endif %}
                _extracted_at desc, _source_object desc, _source_row_number desc
        ) as _version_rank
    from (
        select r.*,
            row_number() over (
                partition by r._row_hash
                order by r._extracted_at, r._source_object, r._source_row_number
            ) as _copy_rank
        from classify_input as r
        semi join contested_keys as k on k._contested_key is not distinct from r.{{ key }}
    )
    union all by name
    select r.*, 1::bigint as _copy_rank, 1::bigint as _version_rank
    from classify_input as r
    anti join contested_keys as k on k._contested_key is not distinct from r.{{ key }}
)
select
    * exclude (_reject_reason, _raw_row),
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
    end as _disposition,
    case
        when _copy_rank > 1 or _reject_reason is not null or _version_rank > 1
            then to_json(_raw_row)
    end as _raw_record
from ranked
{%- endmacro %}

{#- The row exactly as delivered, carried as a struct; classify_rows turns it into
    `_raw_record` JSON for the rows that are not staged. -#}
{% macro raw_row(alias='src') -%}
    {{ alias }} as _raw_row
{%- endmacro %}

{#- md5 over the delivered business columns (not lineage) to find exact duplicates. -#}
{% macro row_hash(columns, alias='src') -%}
    md5(concat_ws(chr(31), {% for c in columns %}coalesce({{ alias }}."{{ c }}", chr(0)){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{#- The staged model of a classified base model: the latest valid version of every key.
    A view: the base table already holds these rows, and copying them cost 45.7 s for the
    56 M events at 1,000,000 customers (README "Performance"), plus the disk of a copy. -#}
{% macro staged_from(base) -%}
{{ config(materialized='view') }}
select * exclude (_row_hash, _copy_rank, _version_rank, _reject_reason, _disposition, _raw_record)
from {{ ref(base) }}
where _disposition = 'staged'
{%- endmacro %}

{#- The quarantine of a classified base model: the row as delivered, why, and where from.
    A view too, for the same reason as staged_from. -#}
{% macro rejected_from(base, key) -%}
{{ config(materialized='view') }}
select
    _reject_reason,
    json_extract_string(_raw_record, '$.{{ key }}') as {{ key }},
    _raw_record,
    _source_system, _source_object, _source_row_number, _batch_id, _extracted_at
from {{ ref(base) }}
where _disposition = 'rejected'
{%- endmacro %}

{#- The raw rows an incremental base model (re)classifies: on a full build every row; on an
    incremental build every row of a key that arrived since the last build (new rows and the
    earlier rows of their keys), of `recheck_keys` (a query of keys whose lookups changed),
    and every keyless row. A row's disposition depends only on the rows of its key (an exact
    copy shares its key, since the row hash covers it) and on lookups, so reclassifying these
    rows and replacing them (delete+insert on the key; `keyless_rows_pre_hook` removes the
    keyless ones, which delete+insert cannot match) gives the table a full build would: for
    56 M events, the new day is classified instead of every event
    (tests/dbt/test_dbt_incremental.py compares with a full refresh). -#}
{% macro rows_to_classify(source_relation, raw_key, recheck_keys=none) -%}
select * from {{ source_relation }} as src
{%- if is_incremental() %}
where {{ clean_text('src.' ~ raw_key) }} is null
   or {{ clean_text('src.' ~ raw_key) }} in (
        select {{ clean_text('arrived.' ~ raw_key) }}
        from {{ source_relation }} as arrived
        where arrived._extracted_at > {{ classified_until() }}
        {%- if recheck_keys %}
        union all
        {{ recheck_keys }}
        {%- endif %}
   )
{%- endif %}
{%- endmacro %}

{#- The newest extraction an incremental base model has classified. -#}
{% macro classified_until() -%}
(select coalesce(max(_extracted_at), timestamp '1900-01-01') from {{ this }})
{%- endmacro %}

{#- Pre-hook of an incremental base model: drop the keyless rows before they are classified
    again (rows_to_classify reads all of them; delete+insert matches rows by key). -#}
{% macro keyless_rows_pre_hook(key) -%}
{%- if is_incremental() %}delete from {{ this }} where {{ key }} is null{% endif -%}
{%- endmacro %}
