-- CSAT (1-5) and NPS (0-10) answers typed and classified.
with src as (
    select * from {{ source('raw_service', 'surveys') }}
),

typed as (
    select
        {{ clean_text('src.response_id') }} as response_id,
        {{ clean_text('src.ticket_id') }} as ticket_id,
        {{ clean_text('src.contact_id') }} as contact_id,
        upper({{ clean_text('src.survey_type') }}) as survey_type,
        {{ parse_int('src.score') }} as score,
        {{ clean_text('src.comment') }} as comment,
        {{ parse_local_ts('src.responded_at') }} as responded_at,
        {{ row_hash(['response_id', 'ticket_id', 'contact_id', 'survey_type', 'score', 'comment',
                     'responded_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
),

checked as (
    select
        *,
        case
            when response_id is null then 'MISSING_KEY'
            when responded_at is null then 'INVALID_DATE'
            when {{ implausible_ts('responded_at') }} then 'IMPOSSIBLE_DATE'
            when survey_type not in ('CSAT', 'NPS') or survey_type is null then 'UNKNOWN_CODE'
            when score is null then 'UNPARSEABLE_VALUE'
            when
                (survey_type = 'CSAT' and score not between 1 and 5)
                or (survey_type = 'NPS' and score not between 0 and 10) then 'OUT_OF_RANGE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='response_id') }}
